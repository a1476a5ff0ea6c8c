// The command table and every command handler. Arity and admin checks run
// once in Server::Dispatch; handlers validate only their own arguments.
// Reply shapes and error texts follow 0-db (docs/zdb-protocol.md).
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/time.h>

#include <cassert>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "common/coding.h"
#include "common/hex.h"
#include "common/resp_writer.h"
#include "zdb/fence.h"
#include "zdb/server.h"

namespace zdb {

namespace resp = qs::resp;
using qs::Status;

namespace {

constexpr size_t kScanBatch = 100;

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

// ---- connection and server ----

void PingCommand(Server&, Client& c, const Args& argv) {
  if (argv.size() > 1) resp::AppendBulk(&c.out, argv[1]);
  else resp::AppendSimple(&c.out, "PONG");
}

void TimeCommand(Server&, Client& c, const Args&) {
  timeval tv;
  gettimeofday(&tv, nullptr);
  resp::AppendArrayHeader(&c.out, 2);
  resp::AppendBulk(&c.out, std::to_string(tv.tv_sec));
  resp::AppendBulk(&c.out, std::to_string(tv.tv_usec));
}

void InfoCommand(Server& srv, Client& c, const Args&) { resp::AppendBulk(&c.out, srv.InfoText()); }

void QuitCommand(Server&, Client& c, const Args&) {
  resp::AppendOk(&c.out);
  c.close_after_write = true;
}

void CommandCommand(Server&, Client& c, const Args&) {
  // redis-cli asks for command docs on start; an empty answer is enough.
  resp::AppendArrayHeader(&c.out, 0);
}

void ClientCommand(Server&, Client& c, const Args& argv) {
  std::string sub = ToUpper(argv[1]);
  if (sub == "SETNAME" || sub == "SETINFO" || sub == "NO-EVICT" || sub == "REPLY") resp::AppendOk(&c.out);
  else if (sub == "ID") resp::AppendInteger(&c.out, static_cast<int64_t>(c.id));
  else if (sub == "GETNAME") resp::AppendNil(&c.out);
  else AppendZdbError(&c.out, E::kUnknownClientSubcommand);
}

void StopCommand(Server& srv, Client& c, const Args&) {
  // Without an admin password every client is admin; none of them may stop
  // the server then (0-db refuses STOP in release builds).
  if (srv.options().admin.empty()) {
    AppendZdbError(&c.out, E::kUnauthorized);
    return;
  }
  resp::AppendSimple(&c.out, "Stopping");
  srv.Stop();
}

void AuthCommand(Server& srv, Client& c, const Args& argv) {
  const std::string& admin = srv.options().admin;
  if (admin.empty()) {
    AppendZdbError(&c.out, E::kAuthenticationDisabled);
    return;
  }
  if (argv.size() == 2) {
    if (argv[1].size() > 128) {
      AppendZdbError(&c.out, E::kPasswordTooLong);
    } else if (argv[1] == admin) {
      c.admin = true;  // namespace rights unchanged: they come from SELECT (0-db)
      resp::AppendOk(&c.out);
    } else {
      AppendZdbError(&c.out, E::kAccessDenied);
    }
    return;
  }
  if (argv.size() != 3) {
    AppendZdbError(&c.out, E::kUnexpectedArguments);
    return;
  }
  if (!IEquals(argv[1], "SECURE")) {
    AppendZdbError(&c.out, E::kOnlySecure);
    return;
  }
  if (IEquals(argv[2], "CHALLENGE")) {
    c.nonce = NewNonce();
    resp::AppendSimple(&c.out, c.nonce);
    return;
  }
  if (c.nonce.empty()) {
    AppendZdbError(&c.out, E::kNoChallenge);
    return;
  }
  if (argv[2].size() != 40) {
    AppendZdbError(&c.out, E::kInvalidHashLength);
    return;
  }
  std::string expect = Sha1Hex(c.nonce + ":" + admin);
  c.nonce.clear();  // one use only
  if (ToUpper(argv[2]) == ToUpper(expect)) {
    c.admin = true;
    resp::AppendOk(&c.out);
  } else {
    AppendZdbError(&c.out, E::kAccessDenied);
  }
}

void WaitCommand(Server& srv, Client& c, const Args& argv) {
  if (argv.size() > 3) {
    AppendZdbError(&c.out, E::kInvalidArguments);
    return;
  }
  std::string cmd = ToUpper(argv[1]);
  if (cmd != "*" && CommandTable().count(cmd) == 0) {
    AppendZdbError(&c.out, E::kUnknownCommandToWatch);
    return;
  }
  int64_t timeout = 5000;
  if (argv.size() == 3 && (!ParseInt64(argv[2], &timeout) || timeout < 100 || timeout > 1800000)) {
    AppendZdbError(&c.out, E::kInvalidTimeout);
    return;
  }
  srv.AddWaiter(c, cmd, timeout);
}

// ---- namespaces ----

void SelectCommand(Server& srv, Client& c, const Args& argv) {
  std::string name = Str(argv[1]);
  if (name.size() > 128) {
    AppendZdbError(&c.out, E::kNamespaceTooLong);
    return;
  }
  Namespace* ns = srv.FindNamespace(name);
  if (ns == nullptr) {
    AppendZdbError(&c.out, E::kNamespaceNotFound);
    return;
  }
  // Like 0-db, the password is checked for every session, admin or not.
  const NamespaceSettings& s = ns->settings();
  bool writable = true;
  if (!s.password.empty()) {
    if (argv.size() == 2) {
      if (!s.is_public) {
        AppendZdbError(&c.out, E::kNamespaceProtected);
        return;
      }
      writable = false;
    } else if (argv.size() > 4) {
      AppendZdbError(&c.out, E::kTooManyArguments);
      return;
    } else if (argv.size() == 3) {
      if (argv[2].size() > 255) {
        AppendZdbError(&c.out, E::kPasswordTooLong);
        return;
      }
      if (argv[2] != s.password) {
        AppendZdbError(&c.out, E::kAccessDenied);
        return;
      }
    } else {
      if (!IEquals(argv[2], "SECURE")) {
        AppendZdbError(&c.out, E::kOnlySecure);
        return;
      }
      if (c.nonce.empty()) {
        AppendZdbError(&c.out, E::kNoChallenge);
        return;
      }
      if (argv[3].size() != 40) {
        AppendZdbError(&c.out, E::kInvalidHashLength);
        return;
      }
      std::string expect = Sha1Hex(c.nonce + ":" + s.password);
      c.nonce.clear();  // unlike 0-db, a challenge answers once only
      if (ToUpper(argv[3]) != ToUpper(expect)) {
        AppendZdbError(&c.out, E::kAccessDenied);
        return;
      }
    }
  }
  // keyed: admitted by the namespace's password, or it has none.
  srv.BindClient(c, name, writable, writable);
  resp::AppendOk(&c.out);
}

void DbsizeCommand(Server& srv, Client& c, const Args&) {
  resp::AppendInteger(&c.out, static_cast<int64_t>(srv.CurrentNamespace(c)->entries()));
}

bool CheckNsName(Client& c, std::string_view name) {
  if (name.size() > 128) {
    AppendZdbError(&c.out, E::kNamespaceTooLong);
    return false;
  }
  return true;
}

void NsnewCommand(Server& srv, Client& c, const Args& argv) {
  std::string name = Str(argv[1]);
  if (!CheckNsName(c, name)) return;
  if (!NamespaceNameAllowed(name) || name == "default") {
    AppendZdbError(&c.out, E::kNameNotAllowed);
    return;
  }
  if (srv.FindNamespace(name) != nullptr) {
    AppendZdbError(&c.out, E::kNamespaceTaken);
    return;
  }
  auto r = srv.CreateNamespace(name);
  if (!r.ok()) {
    AppendZdbError(&c.out, E::kCouldNotCreateNamespace);
    return;
  }
  srv.NotifyNamespaceEvent("namespace-created", name);
  resp::AppendOk(&c.out);
}

void NsdelCommand(Server& srv, Client& c, const Args& argv) {
  std::string name = Str(argv[1]);
  if (!CheckNsName(c, name)) return;
  if (name == "default") {
    AppendZdbError(&c.out, E::kCannotRemoveDefault);
    return;
  }
  if (srv.FindNamespace(name) == nullptr) {
    AppendZdbError(&c.out, E::kNamespaceDoesNotExist);
    return;
  }
  if (c.ns_name == name) {
    AppendZdbError(&c.out, E::kCannotRemoveCurrent);
    return;
  }
  if (!srv.DeleteNamespace(name).ok()) {
    AppendZdbError(&c.out, E::kCouldNotDeleteNamespace);
    return;
  }
  srv.NotifyNamespaceEvent("namespace-deleted", name);
  resp::AppendOk(&c.out);
}

void NslistCommand(Server& srv, Client& c, const Args&) {
  auto names = srv.NamespaceNames();
  resp::AppendArrayHeader(&c.out, static_cast<int64_t>(names.size()));
  for (auto& n : names) resp::AppendBulk(&c.out, n);
}

void NsinfoCommand(Server& srv, Client& c, const Args& argv) {
  std::string name = Str(argv[1]);
  if (!CheckNsName(c, name)) return;
  Namespace* ns = srv.FindNamespace(name);
  if (ns == nullptr) {
    AppendZdbError(&c.out, E::kNamespaceNotFound);
    return;
  }
  const NamespaceSettings& s = ns->settings();
  char buf[256];
  std::string t = "# namespace\n";
  auto line = [&](const char* k, const std::string& v) { t += std::string(k) + ": " + v + "\n"; };
  auto yn = [](bool b) { return std::string(b ? "yes" : "no"); };
  line("name", name);
  line("entries", std::to_string(ns->entries()));
  line("public", yn(s.is_public));
  line("worm", yn(s.worm));
  line("locked", yn(s.locked));
  line("frozen", yn(s.frozen));
  line("fence", std::to_string(s.fence));
  line("password", yn(!s.password.empty()));
  line("data_size_bytes", std::to_string(ns->data_bytes()));
  std::snprintf(buf, sizeof(buf), "%.2f", static_cast<double>(ns->data_bytes()) / (1024.0 * 1024.0));
  line("data_size_mb", buf);
  line("data_limits_bytes", std::to_string(s.maxsize));
  line("index_size_bytes", std::to_string(ns->disk_index_bytes()));
  std::snprintf(buf, sizeof(buf), "%.2f", static_cast<double>(ns->disk_index_bytes()) / 1024.0);
  line("index_size_kb", buf);
  line("data_disk_bytes", std::to_string(ns->disk_data_bytes()));
  // 0-db's bytes: printf("0x%08" PRIx64, bswap_64(id)); 0-db-fs reads them back.
  std::snprintf(buf, sizeof(buf), "0x%08llx", static_cast<unsigned long long>(__builtin_bswap64(ns->next_seq_id())));
  line("next_internal_id", buf);
  line("mode", s.mode == Mode::kSeq ? "sequential" : "userkey");
  line("index_memory_bytes", std::to_string(ns->index_memory()));
  line("segments", std::to_string(ns->segment_count()));
  line("data_current_id", std::to_string(ns->current_segment()));
  line("data_current_offset", std::to_string(ns->current_offset()));
  line("stats_data_faults", std::to_string(ns->corrupt_entries()));
  if (s.maxsize > 0) line("space_available", std::to_string(s.maxsize > ns->data_bytes() ? s.maxsize - ns->data_bytes() : 0));
  auto idx_free = srv.env()->FreeSpace(ns->index_dir());
  if (idx_free.ok()) {
    line("index_disk_freespace_bytes", std::to_string(*idx_free));
    std::snprintf(buf, sizeof(buf), "%.2f", static_cast<double>(*idx_free) / (1024.0 * 1024.0));
    line("index_disk_freespace_mb", buf);
  }
  auto data_free = srv.env()->FreeSpace(ns->data_dir());
  if (data_free.ok()) {
    line("data_disk_freespace_bytes", std::to_string(*data_free));
    std::snprintf(buf, sizeof(buf), "%.2f", static_cast<double>(*data_free) / (1024.0 * 1024.0));
    line("data_disk_freespace_mb", buf);
  }
  if (c.admin) {
    line("data_path", ns->data_dir());
    line("index_path", ns->index_dir());
  }
  resp::AppendBulk(&c.out, t);
}

void NssetCommand(Server& srv, Client& c, const Args& argv) {
  std::string name = Str(argv[1]);
  if (!CheckNsName(c, name)) return;
  std::string prop = Str(argv[2]);
  std::string value = Str(argv[3]);
  if (value.size() > 63 && prop != "password") {
    AppendZdbError(&c.out, E::kInvalidValue);
    return;
  }
  if (value.size() > 255) {
    AppendZdbError(&c.out, E::kInvalidValue);
    return;
  }
  Namespace* ns = srv.FindNamespace(name);
  if (ns == nullptr) {
    AppendZdbError(&c.out, E::kNamespaceNotFound);
    return;
  }
  NamespaceSettings s = ns->settings();
  bool on = !value.empty() && value[0] == '1';
  if (prop == "maxsize") {
    int64_t v;
    if (!ParseInt64(value, &v) || v < 0) {
      AppendZdbError(&c.out, E::kInvalidValue);
      return;
    }
    s.maxsize = static_cast<uint64_t>(v);
  } else if (prop == "password") {
    s.password = value == "*" ? "" : value;
  } else if (prop == "public") {
    s.is_public = on;
  } else if (prop == "worm") {
    s.worm = on;
  } else if (prop == "lock") {
    s.locked = on;
  } else if (prop == "freeze") {
    s.frozen = on;
  } else if (prop == "mode") {
    if (srv.options().mode) {
      AppendZdbError(&c.out, E::kSingleRuntimeMode);
      return;
    }
    if (value == "user") s.mode = Mode::kUser;
    else if (value == "seq") s.mode = Mode::kSeq;
    else {
      AppendZdbError(&c.out, E::kInvalidModeValue);
      return;
    }
    if (s.mode != ns->settings().mode && ns->ever_written()) {
      AppendZdbError(&c.out, E::kCannotChangeMode);
      return;
    }
  } else {
    AppendZdbError(&c.out, E::kInvalidProperty);
    return;
  }
  if (name == "default" && prop != "mode" && prop != "lock" && prop != "freeze") {
    AppendZdbError(&c.out, E::kCannotUpdateDefault);
    return;
  }
  bool password_changed = s.password != ns->settings().password;
  Status st = ns->UpdateSettings(s);
  if (!st.ok()) {
    AppendZdbError(&c.out, E::kInternalErrorWhy, st.message());
    return;
  }
  if (password_changed) srv.PasswordChanged(name);
  srv.NotifyNamespaceEvent("namespace-updated", name);
  resp::AppendOk(&c.out);
}

void NsjumpCommand(Server& srv, Client& c, const Args&) {
  Status s = srv.CurrentNamespace(c)->Jump();
  if (!s.ok()) AppendZdbError(&c.out, E::kInternalErrorWhy, s.message());
  else resp::AppendOk(&c.out);
}

void ReloadCommand(Server& srv, Client& c, const Args& argv) {
  std::string name = Str(argv[1]);
  if (!CheckNsName(c, name)) return;
  Namespace* ns = srv.FindNamespace(name);
  if (ns == nullptr) {
    AppendZdbError(&c.out, E::kNamespaceNotFound);
    return;
  }
  Status s = ns->Reload();
  if (!s.ok()) {
    AppendZdbError(&c.out, E::kInternalErrorWhy, s.message());
    return;
  }
  srv.NotifyNamespaceEvent("namespace-reloaded", name);
  resp::AppendOk(&c.out);
}

void FlushCommand(Server& srv, Client& c, const Args&) {
  Namespace* ns = srv.CurrentNamespace(c);
  const NamespaceSettings& s = ns->settings();
  // Admins may flush any namespace; others only a private one they unlocked.
  if (!c.admin && (s.is_public || s.password.empty())) {
    AppendZdbError(&c.out, E::kFlushDenied);
    return;
  }
  if (!CheckWrite(c, ns)) return;
  Status st = ns->Flush();
  if (!st.ok()) {
    AppendZdbError(&c.out, E::kInternalServerError);
    return;
  }
  resp::AppendOk(&c.out);
}

void FsyncCommand(Server& srv, Client& c, const Args&) { srv.RequestFsync(c, srv.CurrentNamespace(c)); }

void FenceCommand(Server& srv, Client& c, const Args& argv) {
  Namespace* ns = srv.CurrentNamespace(c);
  // The descriptor changed: the staging hook uploads it (zstor-staging.md).
  if (CheckWriteAccess(c, ns) && ApplyFence(c, ns, argv[1])) srv.NotifyNamespaceEvent("namespace-updated", ns->name());
}

// ---- data ----

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

void SetCommand(Server& srv, Client& c, const Args& argv) {
  uint64_t timestamp = 0;
  if (!TimestampArg(c, argv, 3, &timestamp)) return;
  if (argv[1].size() > kMaxKeySize) {
    AppendZdbError(&c.out, E::kKeyTooLarge);
    return;
  }
  Namespace* ns = srv.CurrentNamespace(c);
  if (!CheckWrite(c, ns)) return;
  std::string assigned;
  bool unchanged = false;
  Status s = ns->Set(argv[1], argv[2], timestamp, &assigned, &unchanged);
  if (!s.ok()) {
    switch (s.code()) {
      case Status::Code::kLimitExceeded:
        AppendZdbError(&c.out, E::kNamespaceFull);
        break;
      case Status::Code::kNotFound:
      case Status::Code::kInvalidArgument:
      case Status::Code::kPermissionDenied:
        resp::AppendError(&c.out, s.message());  // a table text (namespace.cc)
        break;
      case Status::Code::kNoSpace:
        AppendZdbError(&c.out, E::kDiskFull);
        break;
      default:
        AppendZdbError(&c.out, E::kCannotWrite, s.message());
    }
    return;
  }
  if (unchanged) resp::AppendNil(&c.out);
  else resp::AppendBulk(&c.out, assigned);
}

void GetCommand(Server& srv, Client& c, const Args& argv) {
  if (argv[1].empty()) {
    AppendZdbError(&c.out, E::kInvalidArgument);
    return;
  }
  if (argv[1].size() > kMaxKeySize) {
    AppendZdbError(&c.out, E::kInvalidKey);
    return;
  }
  Namespace* ns = srv.CurrentNamespace(c);
  if (!CheckRead(c, ns)) return;
  std::string_view value;
  uint32_t missing = kNoSegment;
  Status s = ns->GetView(argv[1], &value, &missing);
  if (s.ok()) resp::AppendBulk(&c.out, value);
  else if (s.IsNotFound()) resp::AppendNil(&c.out);
  else ReplyStorageError(srv, c, argv, ns, s, missing);
}

void MgetCommand(Server& srv, Client& c, const Args& argv) {
  Namespace* ns = srv.CurrentNamespace(c);
  for (size_t i = 1; i < argv.size(); ++i) {
    if (argv[i].size() > kMaxKeySize) {
      AppendZdbError(&c.out, E::kInvalidKey);
      return;
    }
  }
  if (!CheckRead(c, ns)) return;
  std::string body;
  std::string_view value;
  // One reply may not take a client from below its soft output limit to
  // over its hard one (docs/zdb-protocol.md, "Limits").
  const uint64_t max_reply = srv.options().client_output_hard - srv.options().client_output_soft;
  for (size_t i = 1; i < argv.size(); ++i) {
    uint32_t missing = kNoSegment;
    Status s = ns->GetView(argv[i], &value, &missing);
    if (s.ok() && body.size() + value.size() > max_reply) {
      AppendZdbError(&c.out, E::kReplyTooLarge);
      return;
    }
    if (s.ok()) resp::AppendBulk(&body, value);
    else if (s.IsNotFound()) resp::AppendNil(&body);
    else if (missing != kNoSegment && srv.FetchMissingSegment(c, argv, ns, missing)) return;  // re-runs whole
    else AppendZdbError(&body, s.IsCorruption() ? E::kChecksumMismatch : E::kInternalError);
  }
  resp::AppendArrayHeader(&c.out, static_cast<int64_t>(argv.size() - 1));
  c.out += body;
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

void DelCommand(Server& srv, Client& c, const Args& argv) {
  uint64_t timestamp = 0;
  if (!TimestampArg(c, argv, 2, &timestamp)) return;
  if (!KeyArg(c, argv[1])) return;
  Namespace* ns = srv.CurrentNamespace(c);
  if (!CheckWrite(c, ns)) return;
  Status s = ns->Del(argv[1], timestamp);
  if (s.ok()) resp::AppendOk(&c.out);
  else if (s.IsNotFound()) AppendZdbError(&c.out, E::kKeyNotFound);
  else if (s.code() == Status::Code::kPermissionDenied) resp::AppendError(&c.out, s.message());  // worm (table text)
  else AppendZdbError(&c.out, E::kCannotDelete, s.message());
}

void ExistsCommand(Server& srv, Client& c, const Args& argv) {
  if (!KeyArg(c, argv[1])) return;
  Namespace* ns = srv.CurrentNamespace(c);
  if (!CheckRead(c, ns)) return;
  resp::AppendInteger(&c.out, ns->Exists(argv[1]) ? 1 : 0);
}

void CheckCommand(Server& srv, Client& c, const Args& argv) {
  if (!KeyArg(c, argv[1])) return;
  Namespace* ns = srv.CurrentNamespace(c);
  if (!CheckRead(c, ns)) return;
  Status s = ns->Check(argv[1]);
  if (s.IsNotFound()) resp::AppendNil(&c.out);
  else if (s.ok()) resp::AppendInteger(&c.out, 1);
  else if (s.IsCorruption()) resp::AppendInteger(&c.out, 0);
  else resp::AppendInteger(&c.out, -1);
}

void LengthCommand(Server& srv, Client& c, const Args& argv) {
  if (!KeyArg(c, argv[1])) return;
  Namespace* ns = srv.CurrentNamespace(c);
  if (!CheckRead(c, ns)) return;
  KeyInfo info;
  if (!ns->Stat(argv[1], &info).ok()) resp::AppendNil(&c.out);
  else resp::AppendInteger(&c.out, info.value_size);
}

void KeytimeCommand(Server& srv, Client& c, const Args& argv) {
  if (!KeyArg(c, argv[1])) return;
  Namespace* ns = srv.CurrentNamespace(c);
  if (!CheckRead(c, ns)) return;
  KeyInfo info;
  if (!ns->Stat(argv[1], &info).ok()) resp::AppendNil(&c.out);
  else resp::AppendInteger(&c.out, static_cast<int64_t>(info.timestamp));
}

void ScanImpl(Server& srv, Client& c, const Args& argv, bool reverse) {
  Namespace* ns = srv.CurrentNamespace(c);
  if (!CheckRead(c, ns)) return;
  std::string_view cursor;
  if (argv.size() > 1 && argv[1] != "0") cursor = argv[1];  // "0" starts, as redis-cli expects
  std::vector<ScanItem> items;
  std::string next;
  Status s = ns->Scan(cursor, reverse, kScanBatch, &items, &next);
  if (s.IsNotFound()) {
    AppendZdbError(&c.out, E::kNoMoreData);
    return;
  }
  if (!s.ok()) {
    AppendZdbError(&c.out, s.code() == Status::Code::kInvalidArgument ? E::kInvalidKeyFormat : E::kInternalError);
    return;
  }
  resp::AppendArrayHeader(&c.out, 2);
  resp::AppendBulk(&c.out, next);
  resp::AppendArrayHeader(&c.out, static_cast<int64_t>(items.size()));
  for (auto& it : items) {
    resp::AppendArrayHeader(&c.out, 3);
    resp::AppendBulk(&c.out, it.key);
    resp::AppendInteger(&c.out, it.value_size);
    resp::AppendInteger(&c.out, static_cast<int64_t>(it.timestamp));
  }
}

void ScanCommand(Server& srv, Client& c, const Args& argv) { ScanImpl(srv, c, argv, false); }
void RscanCommand(Server& srv, Client& c, const Args& argv) { ScanImpl(srv, c, argv, true); }

void KeycurCommand(Server& srv, Client& c, const Args& argv) {
  if (!KeyArg(c, argv[1])) return;
  std::string cursor;
  Status s = srv.CurrentNamespace(c)->KeyCursor(argv[1], &cursor);
  if (s.IsNotFound()) AppendZdbError(&c.out, E::kKeyNotFound);
  else if (!s.ok()) AppendZdbError(&c.out, E::kInternalError);
  else resp::AppendBulk(&c.out, cursor);
}

void HistoryCommand(Server& srv, Client& c, const Args& argv) {
  if (argv.size() > 3) {
    AppendZdbError(&c.out, E::kInvalidArguments);
    return;
  }
  Namespace* ns = srv.CurrentNamespace(c);
  if (!CheckRead(c, ns)) return;
  std::string_view cursor = argv.size() == 3 ? argv[2] : std::string_view();
  if (argv.size() == 3 && cursor.empty()) {
    AppendZdbError(&c.out, E::kNoMoreHistory);
    return;
  }
  HistoryItem item;
  Status s = ns->History(argv[1], cursor, &item);
  if (s.IsNotFound()) {
    AppendZdbError(&c.out, E::kKeyNotFound);
    return;
  }
  if (s.code() == Status::Code::kInvalidArgument) {
    resp::AppendError(&c.out, s.message());  // a table text (namespace.cc)
    return;
  }
  if (!s.ok()) {
    AppendZdbError(&c.out, E::kInternalError);
    return;
  }
  resp::AppendArrayHeader(&c.out, 3);
  if (item.parent_cursor.empty()) resp::AppendNil(&c.out);
  else resp::AppendBulk(&c.out, item.parent_cursor);
  resp::AppendBulk(&c.out, std::to_string(item.timestamp));
  resp::AppendBulk(&c.out, item.value);
}

void ProveCommand(Server& srv, Client& c, const Args& argv) {
  if (!KeyArg(c, argv[1])) return;
  Namespace* ns = srv.CurrentNamespace(c);
  if (!CheckRead(c, ns)) return;
  std::string proof;
  Status s = ns->Prove(argv[1], argv[2], &proof);
  if (s.ok()) resp::AppendBulk(&c.out, proof);
  else if (s.IsNotFound()) resp::AppendNil(&c.out);
  else ReplyStorageError(srv, c, argv, ns, s, kNoSegment);
}

// ---- administration ----

void HooksCommand(Server& srv, Client& c, const Args&) {
  auto recs = srv.hooks().Records();
  resp::AppendArrayHeader(&c.out, static_cast<int64_t>(recs.size()));
  for (auto& r : recs) {
    resp::AppendArrayHeader(&c.out, 6);
    resp::AppendBulk(&c.out, r.event);
    resp::AppendArrayHeader(&c.out, static_cast<int64_t>(r.args.size()));
    for (auto& a : r.args) resp::AppendBulk(&c.out, a);
    resp::AppendInteger(&c.out, r.pid);
    resp::AppendInteger(&c.out, r.created);
    resp::AppendInteger(&c.out, r.finished);
    resp::AppendInteger(&c.out, r.status);
  }
}

void IndexCommand(Server& srv, Client& c, const Args& argv) {
  if (!IEquals(argv[1], "DIRTY")) {
    AppendZdbError(&c.out, E::kUnknownIndexSubcommand);
    return;
  }
  Namespace* ns = srv.CurrentNamespace(c);
  if (ns == nullptr) {
    AppendZdbError(&c.out, E::kNamespaceGone);
    return;
  }
  if (argv.size() == 2) {
    auto ids = ns->dirty_index_ids();
    resp::AppendArrayHeader(&c.out, static_cast<int64_t>(ids.size()));
    for (uint32_t id : ids) resp::AppendInteger(&c.out, id);
  } else if (argv.size() == 3 && IEquals(argv[2], "RESET")) {
    ns->ResetDirtyIndex();
    resp::AppendOk(&c.out);
  } else {
    AppendZdbError(&c.out, E::kUnknownIndexDirtySubcommand);
  }
}

void DataCommand(Server& srv, Client& c, const Args& argv) {
  if (!IEquals(argv[1], "RAW") || argv.size() != 4) {
    AppendZdbError(&c.out, E::kUnknownDataSubcommand);
    return;
  }
  int64_t id, offset;
  if (!ParseInt64(argv[2], &id) || !ParseInt64(argv[3], &offset) || id < 0 || offset < 0 || id >= kNoSegment) {
    AppendZdbError(&c.out, E::kInvalidArguments);
    return;
  }
  Namespace* ns = srv.CurrentNamespace(c);
  auto f = srv.env()->OpenRead(ns->DataPath(static_cast<uint32_t>(id)));
  if (!f.ok()) {
    AppendZdbError(&c.out, E::kDataFileNotAvailable);
    return;
  }
  char hdr[kDataEntryHeaderSize];
  std::string_view got;
  DataEntry e;
  size_t total = 0;
  if (!(*f)->Read(static_cast<uint64_t>(offset), sizeof(hdr), hdr, &got).ok() || got.size() != sizeof(hdr) ||
      !DecodeDataHeader(got, &e, &total).ok() || total > (16u << 20)) {
    AppendZdbError(&c.out, E::kInvalidOffset);
    return;
  }
  std::string buf(total, '\0');
  if (!(*f)->Read(static_cast<uint64_t>(offset), total, buf.data(), &got).ok() || got.size() != total ||
      !DecodeDataEntry(got, &e).ok()) {
    AppendZdbError(&c.out, E::kChecksumMismatch);
    return;
  }
  resp::AppendArrayHeader(&c.out, 6);
  resp::AppendBulk(&c.out, e.key);
  resp::AppendInteger(&c.out, e.prev_segment == kNoSegment ? -1 : static_cast<int64_t>(e.prev_offset));
  resp::AppendInteger(&c.out, e.crc);
  resp::AppendInteger(&c.out, e.flags);
  resp::AppendInteger(&c.out, static_cast<int64_t>(e.timestamp));
  resp::AppendBulk(&c.out, e.value);
}

}  // namespace

std::string Server::InfoText() {
  std::string t;
  auto line = [&](const std::string& k, const std::string& v) { t += k + ": " + v + "\n"; };
  int64_t now = static_cast<int64_t>(std::time(nullptr));
  t += "# server\n";
  line("server_name", "0-db (zdb)");
  line("server_revision", "qsfs-stack zdb 0.1.0");
  line("engine_revision", "qsfs-stack zdb 0.1.0");
  line("instance_id", std::to_string(instance_id));
  line("boot_time", std::to_string(boot_time));
  line("uptime", std::to_string(now - boot_time));
  t += "\n# clients\n";
  line("clients_lifetime", std::to_string(clients_lifetime_));
  line("connected_clients", std::to_string(clients_.size()));
  line("clients_buffers_bytes", std::to_string(clients_memory_));
  line("clients_disconnected_limits", std::to_string(stats.limit_disconnects));
  t += "\n# internals\n";
  line("sequential_key_size", "8");
  line("fsync", opts_.fsync == FsyncPolicy::kAlways ? "always" : opts_.fsync == FsyncPolicy::kEverySec ? "everysec" : "never");
  line("datasize", std::to_string(opts_.datasize));
  t += "\n# stats\n";
  line("commands_executed", std::to_string(stats.commands));
  line("commands_failed", std::to_string(stats.failed));
  line("commands_unauthorized", std::to_string(stats.unauthorized));
  line("network_rx_bytes", std::to_string(stats.net_rx));
  line("network_tx_bytes", std::to_string(stats.net_tx));
  return t;
}

const std::unordered_map<std::string, CommandSpec>& CommandTable() {
  static const std::unordered_map<std::string, CommandSpec> table = [] {
    const CommandSpec specs[] = {
        // name       arity flags                            handler          arity error
        {"PING", -1, 0, PingCommand, E::kUnexpectedArguments},
        {"TIME", 1, 0, TimeCommand, E::kUnexpectedArguments},
        {"INFO", -1, 0, InfoCommand, E::kUnexpectedArguments},
        {"QUIT", 1, 0, QuitCommand, E::kUnexpectedArguments},
        {"COMMAND", -1, 0, CommandCommand, E::kUnexpectedArguments},
        {"CLIENT", -2, 0, ClientCommand, E::kUnexpectedArguments},
        {"STOP", 1, kCmdAdmin, StopCommand, E::kUnexpectedArguments},
        {"AUTH", -2, 0, AuthCommand, E::kUnexpectedArguments},
        {"WAIT", -2, kCmdNamespace, WaitCommand, E::kInvalidArguments},
        {"SELECT", -2, 0, SelectCommand, E::kInvalidArgument},
        {"DBSIZE", 1, kCmdNamespace, DbsizeCommand, E::kUnexpectedArguments},
        {"NSNEW", 2, kCmdAdmin, NsnewCommand, E::kUnexpectedArguments},
        {"NSDEL", 2, kCmdAdmin, NsdelCommand, E::kUnexpectedArguments},
        {"NSLIST", 1, 0, NslistCommand, E::kUnexpectedArguments},
        {"NSINFO", 2, 0, NsinfoCommand, E::kUnexpectedArguments},
        {"NSSET", 4, kCmdAdmin, NssetCommand, E::kUnexpectedArguments},
        {"NSJUMP", 1, kCmdAdmin | kCmdNamespace, NsjumpCommand, E::kUnexpectedArguments},
        {"RELOAD", 2, kCmdAdmin, ReloadCommand, E::kUnexpectedArguments},
        {"FLUSH", 1, kCmdNamespace | kCmdWrite, FlushCommand, E::kUnexpectedArguments},
        {"FSYNC", 1, kCmdNamespace, FsyncCommand, E::kUnexpectedArguments},
        {"FENCE", 2, kCmdNamespace | kCmdWrite, FenceCommand, E::kUnexpectedArguments},
        {"SET", -3, kCmdNamespace | kCmdWrite, SetCommand, E::kUnexpectedArguments},
        {"SETX", -3, kCmdNamespace | kCmdWrite, SetCommand, E::kUnexpectedArguments},
        {"GET", 2, kCmdNamespace, GetCommand, E::kUnexpectedArguments},
        {"MGET", -2, kCmdNamespace, MgetCommand, E::kInvalidArguments},
        {"DEL", -2, kCmdNamespace | kCmdWrite, DelCommand, E::kUnexpectedArguments},
        {"EXISTS", 2, kCmdNamespace, ExistsCommand, E::kUnexpectedArguments},
        {"CHECK", 2, kCmdNamespace, CheckCommand, E::kUnexpectedArguments},
        {"LENGTH", 2, kCmdNamespace, LengthCommand, E::kUnexpectedArguments},
        {"KEYTIME", 2, kCmdNamespace, KeytimeCommand, E::kUnexpectedArguments},
        {"SCAN", -1, kCmdNamespace, ScanCommand, E::kUnexpectedArguments},
        {"SCANX", -1, kCmdNamespace, ScanCommand, E::kUnexpectedArguments},
        {"RSCAN", -1, kCmdNamespace, RscanCommand, E::kUnexpectedArguments},
        {"KEYCUR", 2, kCmdNamespace, KeycurCommand, E::kUnexpectedArguments},
        {"HISTORY", -2, kCmdNamespace, HistoryCommand, E::kInvalidArguments},
        {"PROVE", 3, kCmdNamespace, ProveCommand, E::kUnexpectedArguments},
        {"HOOKS", 1, kCmdAdmin, HooksCommand, E::kUnexpectedArguments},
        {"INDEX", -2, kCmdAdmin | kCmdNamespace, IndexCommand, E::kMissingArguments},
        {"DATA", -2, kCmdAdmin | kCmdNamespace, DataCommand, E::kMissingArguments},
    };
    std::unordered_map<std::string, CommandSpec> t;
    for (const auto& s : specs) t.emplace(s.name, s);
    return t;
  }();
  return table;
}

}  // namespace zdb
