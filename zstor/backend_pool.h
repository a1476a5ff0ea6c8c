// The zdb backends zstor writes to, each behind its own connection, and
// their health. A backend that failed is skipped for a cool-down instead of
// making every store wait for its timeout. Thread-safe: each backend
// serializes the commands of each of its two connections (lanes);
// different backends run in parallel. The urgent lane carries the reads a
// reader waits for (a retrieve, a restore), so they never queue behind the
// fragment writes of a store on the bulk lane.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/mutex.h"
#include "common/status.h"
#include "common/thread_annotations.h"
#include "common/zdb_client.h"
#include "zstor/config.h"

namespace zstor {

class Backend {
 public:
  enum class Lane { kBulk, kUrgent };

  // timeout bounds each wait of a request (connect, read, write); a whole
  // request ends within 10 timeouts; a reply larger than max_reply_bytes
  // drops the connection (Unavailable) instead of being buffered.
  Backend(BackendConfig cfg, std::chrono::milliseconds timeout, size_t max_reply_bytes);

  const BackendConfig& config() const { return cfg_; }
  std::string name() const { return cfg_.Name(); }

  // Stores value; returns the key zdb assigned (sequential mode) or used.
  qs::Result<std::string> Set(std::string_view key, std::string_view value);
  // NotFound when the key does not exist. The urgent lane's connection is
  // opened on its first use.
  qs::Result<std::string> Get(std::string_view key, Lane lane = Lane::kBulk);
  qs::Status Del(std::string_view key);
  // Hex of zdb's PROVE answer; NotSupported from a 0-db without PROVE,
  // Corruption when zdb finds the entry fails its own checksum.
  qs::Result<std::string> Prove(std::string_view key, std::string_view nonce);
  // True the first time it is called: a backend without PROVE is logged once.
  bool FirstNoProveNotice() { return !no_prove_noticed_.exchange(true); }
  // Raw command (SCAN, NSINFO, ...); server errors come back as Reply errors.
  qs::Result<qs::Reply> Command(const std::vector<std::string_view>& argv);

  // Healthy unless a transport failure happened within the cool-down.
  bool healthy() const;
  // Unix ms since the backend was first seen down (0 while up).
  int64_t down_since_ms() const { return down_since_ms_; }
  void MarkDown(const qs::Status& why);
  void MarkUp();
  std::string last_error() const;
  // Free bytes as last reported by NSINFO (space_available under a
  // namespace limit, else the data disk's free space); -1 when unknown.
  int64_t free_bytes() const { return free_bytes_; }
  // Entries (fragments) and data bytes in the namespace as last reported by
  // NSINFO; -1 when unknown.
  int64_t entries() const { return entries_; }
  int64_t used_bytes() const { return used_bytes_; }
  // Asks the backend (NSINFO) and records the answer; false on failure.
  bool RefreshSpace();
  // Full: known to have less than min_free bytes left; placement skips it.
  bool full(int64_t min_free) const { return free_bytes_ >= 0 && free_bytes_ < min_free; }
  uint64_t errors() const { return errors_; }

 private:
  qs::Status Track(const qs::Status& s);  // transport failures mark the backend down
  struct Connection {
    Connection(const qs::ZdbAddress& a, const qs::ZdbClientOptions& o) : client(a, o) {}
    qs::Mutex mu;  // one command at a time on client
    qs::ZdbClient client GUARDED_BY(mu);
  };
  BackendConfig cfg_;
  Connection bulk_;    // every command but urgent reads
  Connection urgent_;  // Get(key, Lane::kUrgent)
  mutable qs::Mutex error_mu_;  // taken while a connection's mu is held
  std::string last_error_ GUARDED_BY(error_mu_);
  std::atomic<int64_t> down_until_ms_{0};
  std::atomic<int64_t> down_since_ms_{0};
  std::atomic<uint64_t> errors_{0};
  std::atomic<int64_t> free_bytes_{-1};
  std::atomic<int64_t> entries_{-1};
  std::atomic<int64_t> used_bytes_{-1};
  std::atomic<bool> no_prove_noticed_{false};
};

// The largest reply zstor accepts from a data backend (a fragment is at
// most chunk_size / k plus padding, 2 MiB left for listings and NSINFO)
// and from a meta backend (a record shard: 64 MiB, about 64 000 chunk
// entries of 16 + 4 fragments, a 1 TiB object at 16 MiB chunks, per k).
size_t MaxDataReply(const Config& cfg);
size_t MaxMetaReply();

class BackendPool {
 public:
  BackendPool(const std::vector<BackendConfig>& configs, std::chrono::milliseconds timeout, size_t max_reply_bytes);
  size_t size() const { return backends_.size(); }
  Backend& at(size_t i) { return *backends_[i]; }
  // Index of the backend named `name` (see BackendConfig::Name), or -1.
  int Find(const std::string& address, const std::string& ns) const;

 private:
  std::vector<std::unique_ptr<Backend>> backends_;
};

}  // namespace zstor
