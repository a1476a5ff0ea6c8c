// Reed-Solomon erasure coding, k data + m parity shards over GF(2^8), with
// isa-l (Cauchy generator matrix, so every k x k sub-matrix is invertible).
// Any k of the k+m shards rebuild the payload. Decode tables are cached per
// loss pattern. Thread-safe: Encode/Decode may run concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/mutex.h"
#include "common/status.h"
#include "common/thread_annotations.h"

namespace zstor {

class ErasureCoder {
 public:
  // 1 <= k, 0 <= m, k + m <= 255; InvalidArgument otherwise.
  static qs::Result<std::unique_ptr<ErasureCoder>> Create(int k, int m);

  int k() const { return k_; }
  int m() const { return m_; }
  // Bytes per shard for a payload of n bytes: ceil(n / k) rounded up to a
  // multiple of 64 (isa-l's SIMD width); at least 64.
  size_t ShardSize(size_t payload_len) const;

  // Splits payload into k zero-padded data shards and computes m parity
  // shards; *shards gets k + m strings of ShardSize(payload.size()) bytes.
  void Encode(std::string_view payload, std::vector<std::string>* shards) const;

  // The same on one buffer of k + m shards of shard_size bytes, one after
  // the other: the k data shards (payload and zero padding, filled by the
  // caller) are read, the m parity shards after them are computed.
  void EncodeParity(char* base, size_t shard_size) const;

  // shards has k + m entries of equal size where present[i]; others are
  // ignored. Rebuilds the payload (its first payload_len bytes). Fails with
  // Unavailable when fewer than k shards are present.
  qs::Status Decode(const std::vector<std::string>& shards, const std::vector<bool>& present, size_t payload_len,
                    std::string* payload) const;

  // Rebuilds every missing shard, data and parity, in place (for repair);
  // with data_only, only the missing data shards (for a read).
  qs::Status Reconstruct(std::vector<std::string>* shards, const std::vector<bool>& present,
                         bool data_only = false) const;

 private:
  ErasureCoder(int k, int m);
  // Tables that turn the first k present shards (in index order) into the
  // shards listed in `wanted`. Cached per (present set, wanted set).
  qs::Result<std::shared_ptr<const std::vector<uint8_t>>> DecodeTables(const std::vector<int>& sources,
                                                                       const std::vector<int>& wanted) const;

  friend class ErasureCoderTestPeer;  // tests only: inspects cache counters

  static constexpr size_t kMaxCachedDecodeTables = 256;

  int k_, m_;
  std::vector<uint8_t> matrix_;       // (k+m) x k generator matrix
  std::vector<uint8_t> encode_tables_;  // for the m parity rows
  mutable qs::Mutex mu_;
  mutable std::map<std::string, std::shared_ptr<const std::vector<uint8_t>>> decode_cache_ GUARDED_BY(mu_);
  mutable uint64_t decode_cache_hits_ GUARDED_BY(mu_) = 0;
  mutable uint64_t decode_cache_misses_ GUARDED_BY(mu_) = 0;
};

}  // namespace zstor
