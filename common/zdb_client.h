// Synchronous client for a zdb (0-db compatible RESP server) on hiredis.
// One ZdbClient owns one connection and is thread-compatible: use one client
// per thread (or lock externally). Transport failures (refused, reset,
// timeout) surface as Status Unavailable; errors the server replies with are
// either returned as Reply::kError (Command/Flush) or mapped to a Status by
// the typed helpers (StatusFromServerError, common/zdb_errors.h).
#pragma once

#include <sys/uio.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/zdb_address.h"
#include "common/zdb_errors.h"

struct redisContext;

namespace qs {

struct ZdbClientOptions {
  std::chrono::milliseconds connect_timeout{3000};
  std::chrono::milliseconds command_timeout{3000};  // per read or write wait; 0 = none
  // Total time one call may take: sending the request and reading all its
  // replies (and the AUTH/SELECT round trips of a reconnect), however the
  // server paces its bytes. 0 = none (only command_timeout bounds waits).
  std::chrono::milliseconds request_timeout{0};
  // Bytes one reply may occupy in the read buffer (a bulk string's declared
  // length, an unterminated line) and elements one reply tree may hold in
  // all (nested arrays counted together); a status, error or integer line
  // is at most 64 KiB whatever this says. Larger replies drop the
  // connection with Unavailable before anything that size is allocated.
  size_t max_reply_bytes = size_t{512} << 20;
  size_t max_reply_elements = size_t{1} << 20;
  // Connection attempts one call makes before giving up with Unavailable.
  // Between attempts the call sleeps an exponential back-off (initial,
  // doubling, capped at max) that persists across calls and resets once a
  // connection succeeds.
  int connect_attempts = 3;
  std::chrono::milliseconds backoff_initial{100};
  std::chrono::milliseconds backoff_max{5000};
};

// An owned RESP v2 reply tree.
struct Reply {
  enum class Type { kNil, kStatus, kError, kInteger, kString, kArray };

  Type type = Type::kNil;
  std::string str;              // kStatus, kError (without "-"), kString
  int64_t integer = 0;          // kInteger
  std::vector<Reply> elements;  // kArray

  bool is_nil() const { return type == Type::kNil; }
  bool is_error() const { return type == Type::kError; }
  bool is_string() const { return type == Type::kString; }
  bool is_status() const { return type == Type::kStatus; }
  bool is_integer() const { return type == Type::kInteger; }
  bool is_array() const { return type == Type::kArray; }
  std::string DebugString() const;  // e.g. "[1, \"ab\", (nil), -ERR x]"
};


class ZdbClient {
 public:
  explicit ZdbClient(ZdbAddress address, ZdbClientOptions options = {});
  ~ZdbClient();
  ZdbClient(const ZdbClient&) = delete;
  ZdbClient& operator=(const ZdbClient&) = delete;

  // Connects now unless a live connection exists. Every other call connects
  // on demand, so calling this is optional. After each (re)connect the
  // client sends AUTH (if Auth() succeeded before) and SELECT ns [password]
  // (if ns is set); a server error there fails the call without retrying.
  Status Connect();
  void Close();
  bool connected() const { return ctx_ != nullptr; }
  const ZdbAddress& address() const { return address_; }

  // AUTH with the admin password; remembered and replayed on reconnects when
  // the server accepts it. A rejected password gives PermissionDenied.
  Status Auth(std::string_view password);
  Status Ping();

  // SET key value. Returns the key the server stored under: the reply bulk
  // (zdb; in sequential mode pass an empty key to get the assigned id), or
  // `key` itself for "+OK" (redis) or nil (zdb: identical value already
  // stored, nothing written).
  Result<std::string> Set(std::string_view key, std::string_view value);
  // GET key; nullopt when the key does not exist.
  Result<std::optional<std::string>> Get(std::string_view key);
  // DEL key; NotFound when the key did not exist.
  Status Del(std::string_view key);
  Result<bool> Exists(std::string_view key);

  // Sends one command (binary-safe arguments) and returns the reply. A
  // server error is a Reply of type kError, not a failed Result. If the
  // transport fails after the command was sent, the connection is dropped,
  // Unavailable is returned and the command may or may not have executed:
  // the client never re-sends a command on its own.
  Result<Reply> Command(const std::vector<std::string_view>& argv);

  // Pipelining: Append() queues commands locally (nothing is sent); Flush()
  // connects if needed, writes all queued commands at once and reads one
  // reply per command, in order. The queue is empty after Flush() whatever
  // its outcome; on Unavailable any prefix of the commands may have run.
  Status Append(const std::vector<std::string_view>& argv);
  Result<std::vector<Reply>> Flush();
  size_t pending() const { return pending_count_; }
  // Pipelining without the copy: sends cmds at once, large arguments from
  // the caller's memory, and reads one reply per command, in order. Same
  // outcome rules as Flush; refused while Append has queued commands.
  Result<std::vector<Reply>> Pipeline(const std::vector<std::vector<std::string_view>>& cmds);

 private:
  // Opens one connection and runs AUTH/SELECT. *retryable tells whether
  // a failure was a transport problem worth another attempt.
  Status ConnectOnce(bool* retryable);
  Status EnsureConnected();
  // Connect() within the call in progress (its deadline holds).
  Status Reconnect();
  bool ConnectionLooksDead() const;
  Status TransportError(std::string_view what, int saved_errno);
  // Sends `wire` (count encoded commands; empty: already sent) and reads
  // count replies through hiredis' reader.
  Result<std::vector<Reply>> RoundTrip(const std::string& wire, size_t count);
  // Reads one reply, within max_reply_bytes/elements and the deadline.
  Result<Reply> ReadReply(std::string_view what);
  // Sets the deadline of the call starting now (none without request_timeout).
  void StartRequest();
  // Milliseconds the next wait may take; sets *timed_out (and closes)
  // when the request's deadline has passed.
  int WaitMs(std::string_view what, Status* timed_out);
  Status Timeout(std::string_view what, bool by_deadline);
  // Writes commands to the socket with large arguments sent straight from
  // the caller's memory (no copy into an encoded buffer).
  Status WriteGathered(const std::vector<std::vector<std::string_view>>& cmds);
  // Every byte of iov to the socket (the only way anything is sent: hiredis'
  // output buffer stays unused); the command timeout holds.
  Status WriteAll(std::vector<iovec> iov);

  ZdbAddress address_;
  ZdbClientOptions options_;
  redisContext* ctx_ = nullptr;
  std::optional<std::string> admin_password_;
  std::chrono::milliseconds backoff_;
  using Clock = std::chrono::steady_clock;
  std::optional<Clock::time_point> deadline_;  // of the call in progress
  std::string pending_;  // encoded commands queued by Append()
  size_t pending_count_ = 0;
};

}  // namespace qs
