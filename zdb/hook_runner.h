// Runs the --hook executable for 0-db's events ($1 event, $2 instance id,
// then the event's arguments) without blocking the event loop: children are
// reaped by a periodic poll, and a completion callback runs on the loop.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <vector>

namespace zdb {

struct HookRecord {
  std::string event;
  std::vector<std::string> args;  // after the instance id
  pid_t pid = 0;
  int64_t created = 0;   // unix seconds
  int64_t finished = 0;  // 0 while running
  int status = 0;        // exit status
};

class HookRunner {
 public:
  using Done = std::function<void(int exit_status)>;
  // A hook still running after timeout_s seconds (0: never) is killed
  // (SIGKILL); its callback then sees exit status 137.
  HookRunner(std::string path, std::string instance_id, uint64_t timeout_s = 0)
      : path_(std::move(path)), instance_(std::move(instance_id)), timeout_s_(static_cast<int64_t>(timeout_s)) {}
  bool enabled() const { return !path_.empty(); }

  // Starts the hook; done (optional) runs from Poll() when it exits.
  // Returns false (and calls nothing) when no hook is configured or spawn fails.
  bool Run(const std::string& event, const std::vector<std::string>& args, Done done = nullptr);
  // Starts the hook and waits for it; returns its exit status (-1: not run).
  int RunAndWait(const std::string& event, const std::vector<std::string>& args);
  // Reaps finished children and runs their callbacks. Call periodically.
  void Poll();
  // For shutdown: waits until every running hook has exited, at most
  // max_wait (then they are left running); their callbacks are dropped, not
  // run. Hooks past the timeout are killed meanwhile, as Poll does.
  void Drain(std::chrono::milliseconds max_wait);
  // Running hooks plus those finished in the last 60 s, for the HOOKS command.
  std::vector<HookRecord> Records();

 private:
  pid_t Spawn(const std::string& event, const std::vector<std::string>& args);
  std::string path_;
  std::string instance_;
  int64_t timeout_s_;
  struct Running {
    HookRecord rec;
    Done done;
    std::chrono::steady_clock::time_point started;
    bool killed = false;  // timed out, SIGKILL sent
  };
  std::vector<Running> running_;
  std::deque<HookRecord> finished_;
};

}  // namespace zdb
