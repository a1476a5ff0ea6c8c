// zdb: parse settings, open the namespaces, serve until SIGTERM (SIGHUP
// reopens the log file).
#include <spdlog/spdlog.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "common/logging.h"
#include "common/service_notify.h"
#include "common/version.h"
#include "zdb/config_writer.h"
#include "zdb/options.h"
#include "zdb/server.h"

int main(int argc, char** argv) {
  if (qs::VersionRequested(argc, argv)) return qs::PrintVersion("zdb");
  // Block the stop signals and SIGHUP before any thread exists (spdlog's
  // flusher, the sync thread, the metrics exposer) so that only the loop's
  // signalfd receives them.
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &mask, nullptr);
  zdb::Options opts;
  bool help = false;
  qs::Status s = zdb::ParseOptions(argc, argv, &opts, &help);
  if (help) {
    std::fputs(zdb::Usage().c_str(), stdout);
    return 0;
  }
  if (!s.ok()) {
    std::fprintf(stderr, "zdb: %s\n", s.message().c_str());
    return 2;
  }
  if (!opts.write_config.empty()) return zdb::RunWriteConfig(opts);
  // --background: fork before any thread exists; the parent waits until the
  // child is ready (or failed) and exits with that outcome, as 0-db does.
  int ready_pipe = -1;
  if (opts.background) {
    int fds[2];
    if (pipe(fds) != 0) {
      std::perror("zdb: pipe");
      return 1;
    }
    pid_t pid = fork();
    if (pid < 0) {
      std::perror("zdb: fork");
      return 1;
    }
    if (pid > 0) {
      close(fds[1]);
      char ok = 0;
      ssize_t n = read(fds[0], &ok, 1);
      return n == 1 && ok == 1 ? 0 : 1;
    }
    close(fds[0]);
    ready_pipe = fds[1];
    setsid();
  }
  s = qs::InitLogging("zdb", opts.logfile, opts.verbose);
  if (!s.ok()) {
    std::fprintf(stderr, "zdb: logging: %s\n", s.message().c_str());
    return 2;
  }
  // Thousands of clients need thousands of descriptors: lift the soft limit.
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  zdb::Server server(opts);
  s = server.Start();
  if (!s.ok()) {
    spdlog::critical("cannot start: {}", s.ToString());
    qs::ShutdownLogging();
    return 1;
  }
  if (ready_pipe >= 0) {
    char ok = 1;
    if (write(ready_pipe, &ok, 1) != 1) spdlog::warn("cannot tell the parent we are ready");
    close(ready_pipe);
    int null_fd = open("/dev/null", O_RDWR);
    if (null_fd >= 0) {
      dup2(null_fd, STDIN_FILENO);
      if (!opts.logfile.empty()) {
        dup2(null_fd, STDOUT_FILENO);
        dup2(null_fd, STDERR_FILENO);
      }
      close(null_fd);
    }
  }
  // Listeners bound, namespaces loaded, the ready hook done: serving.
  qs::NotifyReady("serving " + zdb::InstanceId(opts));
  server.Run();
  qs::NotifyStopping("stopping: syncing namespaces");
  server.Shutdown();
  qs::ShutdownLogging();
  return 0;
}
