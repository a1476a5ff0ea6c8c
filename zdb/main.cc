// zdb: parse settings, open the namespaces, serve until SIGTERM.
#include <spdlog/spdlog.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "common/logging.h"
#include "zdb/options.h"
#include "zdb/server.h"

int main(int argc, char** argv) {
  // Block the stop signals before any thread exists (spdlog's flusher, the
  // sync thread, the metrics exposer) so that only the loop's signalfd
  // receives them.
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
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
  if (opts.background && daemon(1, opts.logfile.empty() ? 1 : 0) != 0) {
    spdlog::critical("cannot detach: {}", std::strerror(errno));
    return 1;
  }
  server.Run();
  server.Shutdown();
  qs::ShutdownLogging();
  return 0;
}
