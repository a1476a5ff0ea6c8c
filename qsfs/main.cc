// qsfs: a POSIX filesystem on zdb, mounted with FUSE.
#include <fcntl.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "common/logging.h"
#include "common/metrics.h"
#include "common/version.h"
#include "qsfs/filesystem.h"
#include "qsfs/fs_ops.h"
#include "qsfs/options.h"

int main(int argc, char** argv) {
  if (qs::VersionRequested(argc, argv)) return qs::PrintVersion("qsfs");
  auto options = qsfs::ParseOptions(std::vector<std::string>(argv, argv + argc));
  if (!options.ok()) {
    std::fprintf(stderr, "qsfs: %s\n\n%s", options.status().message().c_str(), qsfs::Usage().c_str());
    return 2;
  }
  if (options->show_help) {
    std::fputs(qsfs::Usage().c_str(), stdout);
    return 0;
  }
  // Background: the parent waits for the child's verdict on the mount, so
  // the exit status and the error message are where the caller looks.
  int ready_pipe[2] = {-1, -1};
  if (!options->foreground) {
    if (pipe(ready_pipe) != 0) return 1;
    const pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) return 1;
    if (pid > 0) {
      close(ready_pipe[1]);
      char verdict = 1;
      if (read(ready_pipe[0], &verdict, 1) != 1) verdict = 1;
      return verdict;
    }
    close(ready_pipe[0]);
    setsid();
    // Until the verdict, the parent's end is this process's end: a mount(8)
    // interrupted while qsfs waits for zdb leaves nothing to mount later.
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) return 1;
  }
  auto report = [&](bool ok) {
    if (ready_pipe[1] < 0) return;
    prctl(PR_SET_PDEATHSIG, 0);
    char verdict = ok ? 0 : 1;
    if (write(ready_pipe[1], &verdict, 1) != 1) {
    }
    close(ready_pipe[1]);
    ready_pipe[1] = -1;
    if (ok) {
      int null = open("/dev/null", O_RDWR);
      if (null >= 0) {
        dup2(null, STDIN_FILENO);
        dup2(null, STDOUT_FILENO);
        if (!options->logfile.empty()) dup2(null, STDERR_FILENO);
        close(null);
      }
    }
  };

  qs::Status s = qs::InitLogging("qsfs", options->logfile, options->verbose);
  if (!s.ok()) {
    std::fprintf(stderr, "qsfs: %s\n", s.ToString().c_str());
    report(false);
    return 1;
  }
  // The mount is refused: the reason in the log and, when the log is a
  // file, on stderr too; the waiting parent exits 1.
  auto refuse = [&](const qs::Status& why) {
    spdlog::error("cannot mount {}: {}", options->mountpoint, why.ToString());
    if (!options->logfile.empty()) std::fprintf(stderr, "qsfs: %s\n", why.ToString().c_str());
    report(false);
    qs::ShutdownLogging();
    return 1;
  };
  // Metrics first: asked for and impossible (port taken) refuses the
  // mount before zdb is touched.
  std::unique_ptr<qsfs::FsMetrics> metrics;
  std::unique_ptr<qs::MetricsServer> metrics_server;
  if (!options->metrics.empty()) {
    metrics = std::make_unique<qsfs::FsMetrics>(std::make_shared<prometheus::Registry>());
    auto ms = qs::MetricsServer::Start(options->metrics, metrics->registry());
    if (!ms.ok()) return refuse(ms.status());
    metrics_server = std::move(ms.value());
    spdlog::info("metrics on http://{}/metrics", options->metrics);
  }
  auto fs = qsfs::Filesystem::Mount(*options);
  if (!fs.ok()) return refuse(fs.status());
  if (metrics) (*fs)->SetMetrics(metrics.get());
  int rc = qsfs::ServeFuse(*options, fs->get(), metrics.get(), report);
  s = (*fs)->Shutdown();
  if (!s.ok()) {
    spdlog::error("unmount: {}", s.ToString());
    rc = rc == 0 ? 1 : rc;
  }
  fs->reset();
  qs::ShutdownLogging();
  return rc;
}
