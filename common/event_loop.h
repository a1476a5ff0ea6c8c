// A small single-threaded epoll event loop (in the spirit of Redis's ae.c):
// file descriptor callbacks, millisecond timers, and "before sleep" hooks
// that run once per turn after all ready events (group commit, reply
// flushing). Used from one thread (the loop's) except RunInLoop() and
// Stop(), which any thread may call.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <unordered_map>
#include <vector>

#include "common/mutex.h"
#include "common/status.h"
#include "common/thread_annotations.h"

namespace qs {

class EventLoop {
 public:
  using FdHandler = std::function<void(uint32_t events)>;  // EPOLLIN/EPOLLOUT/...
  using Callback = std::function<void()>;
  using TimerId = uint64_t;

  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  Status Init();

  // Registers fd for the given epoll events. The loop does not own fd.
  Status AddFd(int fd, uint32_t events, FdHandler handler);
  Status ModifyFd(int fd, uint32_t events);
  void RemoveFd(int fd);

  // Runs cb after delay_ms, then every interval_ms if interval_ms > 0.
  TimerId AddTimer(int64_t delay_ms, int64_t interval_ms, Callback cb);
  void CancelTimer(TimerId id);

  // Runs cb at the end of every loop turn, before waiting again.
  void AddBeforeSleep(Callback cb);

  // Runs cb on the loop thread at its next turn; callable from any thread.
  void RunInLoop(Callback cb);

  void Run();   // until Stop()
  void Stop();  // callable from any thread or a handler
  bool stopping() const { return stop_.load(std::memory_order_acquire); }

  static int64_t NowMs();  // monotonic

 private:
  struct Timer {
    int64_t when_ms;
    int64_t interval_ms;
    Callback cb;
  };
  int64_t NextTimeoutMs() const;
  void RunTimers();
  void DrainWakeups();

  int epfd_ = -1;
  int wakefd_ = -1;
  std::atomic<bool> stop_{false};  // set by Stop() from any thread
  std::unordered_map<int, std::shared_ptr<FdHandler>> handlers_;
  std::multimap<int64_t, TimerId> timer_queue_;
  std::unordered_map<TimerId, Timer> timers_;
  TimerId next_timer_ = 1;
  std::vector<Callback> before_sleep_;
  Mutex pending_mu_;
  std::vector<Callback> pending_ GUARDED_BY(pending_mu_);  // RunInLoop's callbacks, run by DrainWakeups
};

}  // namespace qs
