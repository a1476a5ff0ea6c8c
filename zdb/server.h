// The zdb server: accepts clients on TCP/Unix listeners, parses requests
// incrementally, dispatches them through the command table, and writes each
// client's replies once per loop turn after the group commit. server.cc holds
// namespaces, the turn and metrics; server_clients.cc the client side.
//
// One thread runs everything (like Redis); a helper thread only performs
// the everysec fdatasync. A client blocked on a hook (missing-data), on
// FSYNC or on WAIT stops being read; all other clients go on.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/byte_buffer.h"
#include "common/event_loop.h"
#include "common/file_env.h"
#include "common/mutex.h"
#include "common/resp_parser.h"
#include "common/resp_writer.h"
#include "common/zdb_errors.h"
#include "zdb/hook_runner.h"
#include "zdb/namespace.h"
#include "zdb/options.h"

namespace qs {
class MetricsServer;
}

namespace zdb {

struct Client {
  uint64_t id = 0;
  int fd = -1;
  std::string peer;
  qs::ByteBuffer in;     // unparsed request bytes
  std::string out;       // replies not yet written
  size_t out_sent = 0;   // bytes of `out` already written
  qs::RespParser parser;
  std::string ns_name = "default";
  // The namespace instance SELECTed and its password epoch then
  // (Server::NamespaceBinding): rights end when either changes.
  uint64_t ns_instance = 0;
  uint64_t ns_password_epoch = 0;
  // Admitted with the namespace's password (or it had none): false after a
  // password change, and without it a private namespace refuses everything.
  bool ns_keyed = true;
  bool writable = true;
  bool admin = false;
  std::string nonce;     // AUTH/SELECT SECURE challenge, hex
  bool close_after_write = false;
  bool closed = false;
  bool want_write = false;  // EPOLLOUT registered
  bool reading = true;      // EPOLLIN registered (off while its input may not grow)
  bool pending_write = false;  // listed in Server::pending_write_
  int64_t output_over_since_ms = 0;  // unsent replies above the soft limit since, 0 = not
  bool held_back = false;            // buffered requests wait for the replies to drain
  size_t accounted_memory = 0;       // this client's share of Server::clients_memory_
  // Blocked: the client's further input waits until `resume` runs.
  bool blocked = false;
  std::vector<std::string> blocked_argv;
  bool retried = false;  // the command runs again after a missing-data hook
  // The running command's table flags, and whether it passed the write
  // check (CheckWriteAccess); set by Server::Dispatch.
  uint32_t command_flags = 0;
  bool write_checked = false;
  // WAIT state.
  std::string wait_command;  // upper case, "*" for any
  int64_t wait_deadline_ms = 0;
  std::string wait_ns;
  // FENCE: the token this session holds on namespace fence_ns (0: none).
  std::string fence_ns;
  uint64_t fence_token = 0;
};

using Args = std::vector<std::string_view>;
using E = qs::ZdbError;

// Appends the error reply e (common/zdb_errors.h), detail in its "{}".
inline void AppendZdbError(std::string* out, qs::ZdbError e, std::string_view detail = {}) {
  qs::resp::AppendError(out, qs::ZdbErrorReply(e, detail));
}
class Server;
using CommandHandler = void (*)(Server& srv, Client& c, const Args& argv);

enum CommandFlags : uint32_t {
  kCmdAdmin = 1,       // needs an admin session
  kCmdNamespace = 2,   // acts on the client's namespace (checked to still exist)
  kCmdWrite = 4,       // modifies the namespace (data or descriptor): refused when it is
                       // read-only; only these handlers may pass the write check
};

struct CommandSpec {
  const char* name;
  int arity;          // exact argc when > 0; at least -arity when < 0
  uint32_t flags;
  CommandHandler handler;
  qs::ZdbError arity_error;  // 0-db's reply to a wrong argument count
};

// The command table, name -> spec (upper case). Defined in commands.cc.
const std::unordered_map<std::string, CommandSpec>& CommandTable();

// Namespace names: 1..128 bytes, none of them a control character (0x00-0x1F,
// 0x7F) or '/', and not "." or "..". Bytes from 0x80 up (UTF-8) are allowed.
bool NamespaceNameAllowed(std::string_view name);

// Which instance of a namespace name is live, and how often its password
// changed: a session bound to another instance or epoch lost its rights.
struct NamespaceBinding {
  uint64_t instance = 0;
  uint64_t password_epoch = 0;
};

class Server {
 public:
  explicit Server(Options opts, qs::Env* env = qs::Env::Default());
  ~Server();

  qs::Status Start();  // opens namespaces, listeners, metrics; runs ready hook
  void Run();          // until Stop() (SIGTERM/SIGINT)
  void Stop();
  void Shutdown();     // syncs and closes everything; call after Run returns

  // Used by command handlers.
  const Options& options() const { return opts_; }
  Namespace* FindNamespace(const std::string& name);
  Namespace* CurrentNamespace(Client& c) { return FindNamespace(c.ns_name); }
  qs::Result<Namespace*> CreateNamespace(const std::string& name);
  qs::Status DeleteNamespace(const std::string& name);
  // Binds c to the live instance of name (SELECT); keyed: see Client::ns_keyed.
  void BindClient(Client& c, const std::string& name, bool writable, bool keyed);
  // Ends the rights sessions got from the namespace's old password.
  void PasswordChanged(const std::string& name);
  std::vector<std::string> NamespaceNames() const;  // "default" first
  HookRunner& hooks() { return hooks_; }
  qs::Env* env() { return env_; }
  void BlockClient(Client& c, const Args& argv);
  void ResumeClient(uint64_t client_id);  // re-dispatches the blocked command
  void RequestFsync(Client& c, Namespace* ns);
  void AddWaiter(Client& c, std::string command, int64_t timeout_ms);
  // Fires missing-data for segment of ns and blocks c until the hook exits.
  bool FetchMissingSegment(Client& c, const Args& argv, Namespace* ns, uint32_t segment);
  std::string InfoText();
  void NotifyNamespaceEvent(const char* event, const std::string& name);
  bool fsync_always() const { return opts_.fsync == FsyncPolicy::kAlways; }
  uint64_t clients_lifetime() const { return clients_lifetime_; }
  // For DATA RAW and PROVE on dirty state: nothing extra.

  struct Stats {
    uint64_t commands = 0, failed = 0, unauthorized = 0;
    uint64_t net_rx = 0, net_tx = 0;
    uint64_t limit_disconnects = 0;  // clients cut off by the output or memory limits
  } stats;
  int64_t boot_time = 0;
  uint32_t instance_id = 0;

 private:
  void OnAccept(int listen_fd);
  void OnReadable(Client& c);
  void ProcessInput(Client& c);
  void Dispatch(Client& c, const Args& argv);
  // Namespace-checked commands: false (and the reply sent) when the session
  // lost its namespace or its rights in it.
  bool CheckBinding(Client& c);
  void WriteOutput(Client& c);
  // EPOLLIN/EPOLLOUT interest from the client's state (backpressure).
  void UpdateInterest(Client& c);
  bool InputMayGrow(const Client& c) const;
  bool OutputOverSoft(const Client& c) const;
  size_t ClientMemory(const Client& c) const;
  // Updates clients_memory_ with c's buffers; disconnects c over the hard limit.
  void Account(Client& c);
  void EnforceClientLimits();    // the server-wide budget (clients-memory)
  void DisconnectSlowReaders();  // over the soft limit for client-output-seconds
  void PauseAccept(int err);  // accept() failed with err: back off, log once an interval
  void CloseClient(Client& c);
  void MarkPendingWrite(Client& c) {
    if (!c.pending_write) {
      c.pending_write = true;
      pending_write_.push_back(c.id);
    }
  }
  void BeforeSleep();
  void EverySecond();
  void CheckWaiters(Client& actor, const std::string& command);
  void ExpireWaiters();
  void StartSyncThread();
  void SyncThreadMain();
  void SetupMetrics();
  void UpdateGauges();
  qs::Status OpenNamespaces();
  void WireEvents(Namespace* ns);
  StorageOptions storage_options() const;

  Options opts_;
  qs::Env* env_;
  qs::EventLoop loop_;
  HookRunner hooks_;
  std::vector<int> listen_fds_;
  std::map<std::string, std::unique_ptr<Namespace>> namespaces_;
  std::map<std::string, NamespaceBinding> bindings_;  // same keys as namespaces_
  uint64_t next_instance_ = 1;
  size_t clients_memory_ = 0;  // capacity of all clients' input and output buffers
  // accept() failures (EMFILE...): listeners paused, one log line an interval.
  bool accept_paused_ = false;
  uint64_t accept_failures_ = 0;    // since the last log line
  int64_t accept_logged_ms_ = 0;
  std::unordered_map<uint64_t, std::unique_ptr<Client>> clients_;
  std::unordered_map<int, uint64_t> fd_to_client_;
  uint64_t next_client_id_ = 1;
  uint64_t clients_lifetime_ = 0;
  std::vector<uint64_t> pending_write_;  // clients with output to flush (flagged once)
  std::set<uint64_t> pending_input_;   // unblocked clients with buffered input
  std::map<std::string, std::vector<uint64_t>> fsync_waiters_;  // namespace -> clients
  std::vector<uint64_t> waiters_;      // clients in WAIT
  size_t compact_cursor_ = 0;
  int signal_fd_ = -1;

  // everysec sync thread.
  std::thread sync_thread_;
  qs::Mutex sync_mu_;
  qs::CondVar sync_cv_;  // signalled when sync_jobs_ grows or sync_stop_ is set
  bool sync_stop_ GUARDED_BY(sync_mu_) = false;
  struct SyncJob {
    std::string ns;
    uint64_t generation;
    std::vector<std::shared_ptr<qs::AppendFile>> files;
  };
  std::vector<SyncJob> sync_jobs_ GUARDED_BY(sync_mu_);

  // Metrics.
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<qs::MetricsServer> metrics_server_;
  prometheus::Family<prometheus::Counter>* ops_family_ = nullptr;
  prometheus::Family<prometheus::Counter>* errors_family_ = nullptr;
  prometheus::Histogram* latency_ = nullptr;
  prometheus::Family<prometheus::Gauge>* ns_keys_ = nullptr;
  prometheus::Family<prometheus::Gauge>* ns_bytes_ = nullptr;
  prometheus::Family<prometheus::Gauge>* ns_disk_bytes_ = nullptr;
  prometheus::Family<prometheus::Gauge>* ns_segments_ = nullptr;
  prometheus::Gauge* clients_gauge_ = nullptr;
  std::unordered_map<std::string, prometheus::Counter*> op_counters_;
  std::unordered_map<std::string, prometheus::Counter*> err_counters_;
};

}  // namespace zdb
