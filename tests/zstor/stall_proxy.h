// Test helper: a byte relay on a Unix socket in front of a real zdb (also on
// a Unix socket) whose replies can be stalled. While stalled, each
// connection's replies trickle out one byte every 2 s: every wait of a
// client stays below zstor's 3 s backend timeout, so a request is held
// until Release() (or the client's 30 s request deadline) instead of
// failing at once. Requests always pass. Threads per connection; the
// destructor stops them all and removes the socket file.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <list>
#include <string>
#include <thread>

#include "tests/common/unix_listener.h"

namespace zstor_test {

class StallProxy {
 public:
  StallProxy(std::string path, std::string upstream)
      : path_(std::move(path)), upstream_(std::move(upstream)), listener_(path_, &stop_, [this](int c) { Serve(c); }) {}
  ~StallProxy() { listener_.Stop(); }
  StallProxy(const StallProxy&) = delete;
  StallProxy& operator=(const StallProxy&) = delete;

  const std::string& path() const { return path_; }
  void Stall() { stalled_ = true; }
  void Release() { stalled_ = false; }
  // Reply bytes held back now, over all connections.
  size_t held() const { return held_; }

 private:
  void Serve(int c) {
    int u = qs_test::UnixListener::Connect(upstream_);
    if (u < 0) {
      close(c);
      return;
    }
    Relay(c, u);
  }

  // Requests c -> u as they come; replies u -> c, held while stalled.
  void Relay(int c, int u) {
    std::string pending;  // reply bytes not yet sent to c
    auto last_trickle = std::chrono::steady_clock::now();
    char buf[65536];
    bool open = true;
    while (!stop_ && open) {
      pollfd p[2] = {{c, POLLIN, 0}, {u, POLLIN, 0}};
      if (poll(p, 2, 50) < 0) break;
      if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
        ssize_t n = read(c, buf, sizeof(buf));
        if (n <= 0 || !WriteAll(u, buf, static_cast<size_t>(n))) open = false;
      }
      if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
        ssize_t n = read(u, buf, sizeof(buf));
        if (n <= 0) open = false;
        else {
          pending.append(buf, static_cast<size_t>(n));
          held_ += static_cast<size_t>(n);
        }
      }
      size_t send = 0;
      auto now = std::chrono::steady_clock::now();
      if (!stalled_) {
        send = pending.size();
      } else if (!pending.empty() && now - last_trickle >= std::chrono::seconds(2)) {
        send = 1;
        last_trickle = now;
      }
      if (send > 0) {
        if (!WriteAll(c, pending.data(), send)) open = false;
        pending.erase(0, send);
        held_ -= send;
      }
    }
    held_ -= pending.size();
    close(c);
    close(u);
  }

  static bool WriteAll(int fd, const char* p, size_t n) {
    while (n > 0) {
      ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
      if (w <= 0) return false;
      p += w;
      n -= static_cast<size_t>(w);
    }
    return true;
  }

  const std::string path_, upstream_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> stalled_{false};
  std::atomic<size_t> held_{0};
  qs_test::UnixListener listener_;  // last: its threads use the members above
};

}  // namespace zstor_test
