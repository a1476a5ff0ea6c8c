// Namespace commands: SELECT, DBSIZE, NSNEW, NSDEL, NSLIST, NSINFO, NSSET,
// NSJUMP, RELOAD, FLUSH, FSYNC, FENCE (docs/zdb-protocol.md, "Namespace
// commands").
#include <cstdio>

#include "common/resp_writer.h"
#include "zdb/command_checks.h"
#include "zdb/commands.h"
#include "zdb/fence.h"
#include "zdb/server.h"

namespace zdb {

namespace resp = qs::resp;
using qs::Status;

namespace {

bool CheckNsName(Client& c, std::string_view name) {
  if (name.size() > 128) {
    AppendZdbError(&c.out, E::kNamespaceTooLong);
    return false;
  }
  return true;
}

}  // namespace

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

}  // namespace zdb
