#include "zdb/command_checks.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cassert>
#include <cctype>
#include <cerrno>
#include <cstdlib>

#include "common/hex.h"
#include "zdb/fence.h"

namespace zdb {

using qs::Status;

std::string Str(std::string_view s) { return std::string(s); }

std::string ToUpper(std::string_view s) {
  std::string u(s);
  for (auto& ch : u) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return u;
}

bool IEquals(std::string_view a, std::string_view b) { return ToUpper(a) == ToUpper(b); }

std::string Sha1Hex(const std::string& in) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(in.data(), in.size(), md, &len, EVP_sha1(), nullptr);
  return qs::HexEncode(std::string_view(reinterpret_cast<const char*>(md), len));
}

std::string NewNonce() {
  unsigned char b[8];
  RAND_bytes(b, sizeof(b));
  return qs::HexEncode(std::string_view(reinterpret_cast<const char*>(b), sizeof(b)));
}

bool ParseInt64(std::string_view s, int64_t* out) {
  if (s.empty() || s.size() > 20) return false;
  std::string t(s);
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(t.c_str(), &end, 10);
  if (errno != 0 || *end != '\0') return false;
  *out = v;
  return true;
}

// Read access: a frozen namespace refuses reads and writes.
bool CheckRead(Client& c, Namespace* ns) {
  if (ns->settings().frozen) {
    AppendZdbError(&c.out, E::kFrozen);
    return false;
  }
  return true;
}

// Write access, in 0-db's order: the session's rights, frozen, locked.
// Reached only by the handlers of commands the table flags kCmdWrite.
bool CheckWriteAccess(Client& c, Namespace* ns) {
  assert((c.command_flags & kCmdWrite) && "a handler that writes must be flagged kCmdWrite");
  c.write_checked = true;
  if (!c.writable) {
    AppendZdbError(&c.out, E::kReadOnlySession);
    return false;
  }
  if (ns->settings().frozen) {
    AppendZdbError(&c.out, E::kFrozen);
    return false;
  }
  if (ns->settings().locked) {
    AppendZdbError(&c.out, E::kLocked);
    return false;
  }
  return true;
}

bool CheckWrite(Client& c, Namespace* ns) { return CheckWriteAccess(c, ns) && CheckFence(c, *ns); }

// Replies to a failed storage operation; returns true when the client was
// blocked to fetch a missing segment (the command re-runs later).
bool ReplyStorageError(Server& srv, Client& c, const Args& argv, Namespace* ns, const Status& s,
                       uint32_t missing_segment) {
  if (s.code() == Status::Code::kUnavailable && missing_segment != kNoSegment) {
    if (srv.FetchMissingSegment(c, argv, ns, missing_segment)) return true;
    AppendZdbError(&c.out, E::kSegmentMissing, std::to_string(missing_segment));
    return false;
  }
  if (s.IsCorruption()) {
    AppendZdbError(&c.out, E::kChecksumMismatch);
    return false;
  }
  AppendZdbError(&c.out, E::kInternalErrorWhy, s.message());
  return false;
}


// Optional admin-only timestamp at argv[index], the last argument allowed.
// Replies with an error and returns false when it is refused.
bool TimestampArg(Client& c, const Args& argv, size_t index, uint64_t* timestamp) {
  if (argv.size() > index + 1) {
    AppendZdbError(&c.out, E::kUnexpectedArguments);
    return false;
  }
  if (argv.size() == index + 1) {
    int64_t ts;
    if (!c.admin) {
      AppendZdbError(&c.out, E::kPermissionDenied);
      return false;
    }
    if (!ParseInt64(argv[index], &ts) || ts < 0) {
      AppendZdbError(&c.out, E::kInvalidTimestamp);
      return false;
    }
    *timestamp = static_cast<uint64_t>(ts);
  }
  return true;
}

bool KeyArg(Client& c, std::string_view key) {
  if (key.empty()) {
    AppendZdbError(&c.out, E::kInvalidArgument);
    return false;
  }
  if (key.size() > kMaxKeySize) {
    AppendZdbError(&c.out, E::kInvalidKey);
    return false;
  }
  return true;
}

}  // namespace zdb
