#include "common/event_loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

namespace qs {

EventLoop::EventLoop() = default;

EventLoop::~EventLoop() {
  if (wakefd_ >= 0) close(wakefd_);
  if (epfd_ >= 0) close(epfd_);
}

Status EventLoop::Init() {
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epfd_ < 0) return Status::FromErrno(errno, "epoll_create1");
  wakefd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wakefd_ < 0) return Status::FromErrno(errno, "eventfd");
  return AddFd(wakefd_, EPOLLIN, [this](uint32_t) { DrainWakeups(); });
}

int64_t EventLoop::NowMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

Status EventLoop::AddFd(int fd, uint32_t events, FdHandler handler) {
  epoll_event ev{};
  ev.events = events;
  ev.data.fd = fd;
  if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) return Status::FromErrno(errno, "epoll_ctl add");
  handlers_[fd] = std::make_shared<FdHandler>(std::move(handler));
  return Status::OK();
}

Status EventLoop::ModifyFd(int fd, uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.fd = fd;
  if (epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev) != 0) return Status::FromErrno(errno, "epoll_ctl mod");
  return Status::OK();
}

void EventLoop::RemoveFd(int fd) {
  epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
  handlers_.erase(fd);
}

EventLoop::TimerId EventLoop::AddTimer(int64_t delay_ms, int64_t interval_ms, Callback cb) {
  TimerId id = next_timer_++;
  int64_t when = NowMs() + delay_ms;
  timers_[id] = Timer{when, interval_ms, std::move(cb)};
  timer_queue_.emplace(when, id);
  return id;
}

void EventLoop::CancelTimer(TimerId id) { timers_.erase(id); }

void EventLoop::AddBeforeSleep(Callback cb) { before_sleep_.push_back(std::move(cb)); }

void EventLoop::RunInLoop(Callback cb) {
  {
    MutexLock lock(&pending_mu_);
    pending_.push_back(std::move(cb));
  }
  uint64_t one = 1;
  ssize_t n = write(wakefd_, &one, sizeof(one));
  (void)n;
}

void EventLoop::Stop() {
  stop_.store(true, std::memory_order_release);
  if (wakefd_ >= 0) {
    uint64_t one = 1;
    ssize_t n = write(wakefd_, &one, sizeof(one));
    (void)n;
  }
}

void EventLoop::DrainWakeups() {
  uint64_t v;
  while (read(wakefd_, &v, sizeof(v)) > 0) {
  }
  std::vector<Callback> todo;
  {
    MutexLock lock(&pending_mu_);
    todo.swap(pending_);
  }
  for (auto& cb : todo) cb();
}

int64_t EventLoop::NextTimeoutMs() const {
  // Stale entries of cancelled timers only cause an early, harmless wake-up.
  if (timer_queue_.empty()) return 1000;
  int64_t d = timer_queue_.begin()->first - NowMs();
  if (d < 0) return 0;
  return d > 1000 ? 1000 : d;
}

void EventLoop::RunTimers() {
  int64_t now = NowMs();
  while (!timer_queue_.empty() && timer_queue_.begin()->first <= now) {
    auto [when, id] = *timer_queue_.begin();
    timer_queue_.erase(timer_queue_.begin());
    auto it = timers_.find(id);
    if (it == timers_.end() || it->second.when_ms != when) continue;
    Callback cb = it->second.cb;  // copy: cb may cancel its own timer
    if (it->second.interval_ms > 0) {
      it->second.when_ms = now + it->second.interval_ms;
      timer_queue_.emplace(it->second.when_ms, id);
    } else {
      timers_.erase(it);
    }
    cb();
  }
}

void EventLoop::Run() {
  std::vector<epoll_event> events(256);
  while (!stop_.load(std::memory_order_acquire)) {
    int n = epoll_wait(epfd_, events.data(), static_cast<int>(events.size()),
                       static_cast<int>(NextTimeoutMs()));
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < n; ++i) {
      auto it = handlers_.find(events[i].data.fd);
      if (it == handlers_.end()) continue;
      std::shared_ptr<FdHandler> h = it->second;  // survives RemoveFd inside the call
      (*h)(events[i].events);
    }
    RunTimers();
    for (auto& cb : before_sleep_) cb();
  }
}

}  // namespace qs
