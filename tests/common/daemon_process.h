// Test helper: runs a daemon of this project (zdb, later zstor/qsfs) as a
// child process, waits until it accepts connections, and stops it politely
// (SIGTERM) or not (SIGKILL). Output goes to a log file in the test's dir.
#pragma once

#include <hiredis/hiredis.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace qs_test {

class DaemonProcess {
 public:
  DaemonProcess() = default;
  ~DaemonProcess() { Kill(); }
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;

  // Starts binary with args; logs to log_path. Returns false if exec fails.
  bool Start(const std::string& binary, const std::vector<std::string>& args, const std::string& log_path) {
    pid_ = fork();
    if (pid_ < 0) return false;
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive a crashed test
      FILE* f = freopen(log_path.c_str(), "a", stderr);
      (void)f;
      dup2(STDERR_FILENO, STDOUT_FILENO);
      std::vector<char*> argv;
      std::vector<std::string> all = {binary};
      all.insert(all.end(), args.begin(), args.end());
      for (auto& a : all) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(binary.c_str(), argv.data());
      _exit(127);
    }
    return true;
  }

  // Polls a Unix socket until PING answers, or the child dies, or timeout.
  bool WaitUnix(const std::string& path, int timeout_ms = 20000) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      if (!Running()) return false;
      redisContext* c = redisConnectUnix(path.c_str());
      if (c != nullptr && c->err == 0) {
        redisReply* r = static_cast<redisReply*>(redisCommand(c, "PING"));
        bool ok = r != nullptr;
        if (r) freeReplyObject(r);
        redisFree(c);
        if (ok) return true;
      } else if (c != nullptr) {
        redisFree(c);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  bool Running() {
    if (pid_ <= 0) return false;
    int st;
    pid_t r = waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      exit_status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      pid_ = -1;
      return false;
    }
    return true;
  }

  // SIGTERM and wait; returns the exit status (-1 if it had to be killed).
  int Stop(int timeout_ms = 20000) {
    if (pid_ <= 0) return exit_status_;
    kill(pid_, SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      if (!Running()) return exit_status_;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    Kill();
    return -1;
  }

  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    int st;
    waitpid(pid_, &st, 0);
    pid_ = -1;
  }

  pid_t pid() const { return pid_; }
  int exit_status() const { return exit_status_; }

 private:
  pid_t pid_ = -1;
  int exit_status_ = -1;
};

}  // namespace qs_test
