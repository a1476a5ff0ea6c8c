#include "zdb/hook_runner.h"

#include <signal.h>
#include <spawn.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <thread>

extern char** environ;

namespace zdb {

pid_t HookRunner::Spawn(const std::string& event, const std::vector<std::string>& args) {
  std::vector<std::string> all = {path_, event, instance_};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  // zdb keeps SIGTERM, SIGINT and SIGHUP blocked (its loop reads them from
  // a signalfd); a hook starts with none blocked, so a stop reaches it.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, path_.c_str(), nullptr, &attr, argv.data(), environ);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    spdlog::error("hook {}: cannot run {}: {}", event, path_, std::strerror(rc));
    return -1;
  }
  spdlog::debug("hook {} started (pid {})", event, pid);
  return pid;
}

bool HookRunner::Run(const std::string& event, const std::vector<std::string>& args, Done done) {
  if (!enabled()) return false;
  pid_t pid = Spawn(event, args);
  if (pid < 0) return false;
  Running r;
  r.rec = HookRecord{event, args, pid, static_cast<int64_t>(std::time(nullptr)), 0, 0};
  r.done = std::move(done);
  r.started = std::chrono::steady_clock::now();
  running_.push_back(std::move(r));
  return true;
}

int HookRunner::RunAndWait(const std::string& event, const std::vector<std::string>& args) {
  if (!enabled()) return -1;
  pid_t pid = Spawn(event, args);
  if (pid < 0) return -1;
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  finished_.push_back(HookRecord{event, args, pid, static_cast<int64_t>(std::time(nullptr)),
                                 static_cast<int64_t>(std::time(nullptr)), code});
  return code;
}

void HookRunner::Poll() {
  int64_t now = static_cast<int64_t>(std::time(nullptr));
  for (size_t i = 0; i < running_.size();) {
    int st = 0;
    pid_t r = waitpid(running_[i].rec.pid, &st, WNOHANG);
    if (r == 0) {
      Running& run = running_[i];
      if (timeout_s_ > 0 && !run.killed && std::chrono::steady_clock::now() - run.started >= std::chrono::seconds(timeout_s_)) {
        spdlog::error("hook {} ({}) still running after {} s: killed", run.rec.event,
                      run.rec.args.empty() ? "" : run.rec.args[0], timeout_s_);
        kill(run.rec.pid, SIGKILL);
        run.killed = true;
      }
      ++i;
      continue;
    }
    Running done = std::move(running_[i]);
    running_.erase(running_.begin() + static_cast<long>(i));
    done.rec.finished = now;
    done.rec.status = r < 0 ? -1 : (WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
    if (done.rec.status != 0) spdlog::warn("hook {} exited with status {}", done.rec.event, done.rec.status);
    finished_.push_back(done.rec);
    if (done.done) done.done(done.rec.status);
  }
  while (!finished_.empty() && finished_.front().finished + 60 < now) finished_.pop_front();
}

void HookRunner::Drain(std::chrono::milliseconds max_wait) {
  for (auto& r : running_) r.done = nullptr;
  const auto deadline = std::chrono::steady_clock::now() + max_wait;
  for (;;) {
    Poll();
    if (running_.empty()) return;
    if (std::chrono::steady_clock::now() >= deadline) {
      spdlog::warn("shutting down with {} hook(s) still running", running_.size());
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

std::vector<HookRecord> HookRunner::Records() {
  std::vector<HookRecord> out;
  for (auto& r : running_) out.push_back(r.rec);
  out.insert(out.end(), finished_.begin(), finished_.end());
  return out;
}

}  // namespace zdb
