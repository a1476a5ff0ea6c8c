// Connection and server commands: PING, TIME, INFO, QUIT, COMMAND, CLIENT,
// STOP, AUTH, WAIT (docs/zdb-protocol.md, "Connection commands").
#include <sys/time.h>

#include <ctime>

#include "common/resp_writer.h"
#include "zdb/command_checks.h"
#include "zdb/commands.h"
#include "zdb/server.h"

namespace zdb {

namespace resp = qs::resp;
using qs::Status;

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

}  // namespace zdb
