// A fixed set of worker threads running submitted tasks; Submit returns a
// future. Used to talk to many backends at once. Two lanes: a task
// submitted urgent runs before every queued normal one (the reads and
// decodes of a retrieve, which a reader waits for, overtake the queued
// writes of a store). Destruction waits for the queued tasks to finish.
#pragma once

#include <deque>
#include <functional>
#include <future>
#include <thread>
#include <vector>

#include "common/mutex.h"
#include "common/thread_annotations.h"

namespace zstor {

class TaskPool {
 public:
  explicit TaskPool(size_t threads) {
    for (size_t i = 0; i < threads; ++i) workers_.emplace_back([this] { Work(); });
  }
  ~TaskPool() {
    {
      qs::MutexLock lock(&mu_);
      stop_ = true;
    }
    cv_.SignalAll();
    for (auto& t : workers_) t.join();
  }
  TaskPool(const TaskPool&) = delete;
  TaskPool& operator=(const TaskPool&) = delete;

  template <typename F>
  auto Submit(F f) -> std::future<decltype(f())> {
    return Enqueue(std::move(f), false);
  }
  template <typename F>
  auto SubmitUrgent(F f) -> std::future<decltype(f())> {
    return Enqueue(std::move(f), true);
  }

 private:
  template <typename F>
  auto Enqueue(F f, bool urgent) -> std::future<decltype(f())> {
    auto task = std::make_shared<std::packaged_task<decltype(f())()>>(std::move(f));
    auto fut = task->get_future();
    {
      qs::MutexLock lock(&mu_);
      (urgent ? urgent_ : queue_).emplace_back([task] { (*task)(); });
    }
    cv_.Signal();
    return fut;
  }

  void Work() {
    for (;;) {
      std::function<void()> job;
      {
        qs::MutexLock lock(&mu_);
        while (!stop_ && urgent_.empty() && queue_.empty()) cv_.Wait(&mu_);
        std::deque<std::function<void()>>& from = urgent_.empty() ? queue_ : urgent_;
        if (from.empty()) return;  // stopping, nothing left
        job = std::move(from.front());
        from.pop_front();
      }
      job();
    }
  }

  qs::Mutex mu_;
  qs::CondVar cv_;  // a task was queued, or stop_ set
  std::deque<std::function<void()>> urgent_ GUARDED_BY(mu_);
  std::deque<std::function<void()>> queue_ GUARDED_BY(mu_);
  bool stop_ GUARDED_BY(mu_) = false;
  std::vector<std::thread> workers_;
};

}  // namespace zstor
