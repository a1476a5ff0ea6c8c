// Test helper: a RESP "server" on a Unix socket that answers every request
// with a hostile reply, to test that clients bound what they accept and how
// long they wait. Each connection gets its own thread; the destructor stops
// them all (the socket file is removed).
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/common/unix_listener.h"

namespace qs_test {

class HostileServer {
 public:
  enum class Mode {
    kHugeArray,    // "*2147483647\r\n", then silence
    kHugeBulk,     // "$2147483647\r\n", then 'x' bytes as fast as the peer reads
    kEndlessLine,  // "+" followed by 'a' bytes without CRLF, as fast as the peer reads
    kTrickle,      // "$1000000\r\n", then one byte every 20 ms
  };

  HostileServer(std::string path, Mode mode)
      : path_(std::move(path)), mode_(mode), listener_(path_, &stop_, [this](int c) { Serve(c); }) {}
  ~HostileServer() { listener_.Stop(); }
  HostileServer(const HostileServer&) = delete;
  HostileServer& operator=(const HostileServer&) = delete;

  const std::string& path() const { return path_; }
  // Bytes sent to all peers so far.
  size_t bytes_sent() const { return sent_; }

 private:
  // Sends all of s unless the peer goes away or the server stops.
  bool Send(int c, const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
      if (stop_) return false;
      pollfd p{c, POLLOUT, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      ssize_t w = send(c, s.data() + off, s.size() - off, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (w < 0) {
        if (errno == EAGAIN || errno == EINTR) continue;
        return false;
      }
      off += static_cast<size_t>(w);
      sent_ += static_cast<size_t>(w);
    }
    return true;
  }

  void Serve(int c) {
    // Wait for the first request bytes (any), then misbehave.
    char buf[4096];
    for (;;) {
      if (stop_) break;
      pollfd p{c, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      ssize_t r = recv(c, buf, sizeof(buf), MSG_DONTWAIT);
      if (r <= 0) break;
      bool alive = true;
      switch (mode_) {
        case Mode::kHugeArray: alive = Send(c, "*2147483647\r\n"); break;
        case Mode::kHugeBulk: alive = Send(c, "$2147483647\r\n") && Flood(c, 'x'); break;
        case Mode::kEndlessLine: alive = Send(c, "+") && Flood(c, 'a'); break;
        case Mode::kTrickle:
          alive = Send(c, "$1000000\r\n");
          while (alive && !stop_) {
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
            alive = Send(c, "y");
          }
          break;
      }
      if (!alive) break;
    }
    close(c);
  }

  bool Flood(int c, char byte) {
    std::string block(64 << 10, byte);
    while (Send(c, block)) {
    }
    return false;
  }

  std::string path_;
  Mode mode_;
  std::atomic<bool> stop_{false};
  std::atomic<size_t> sent_{0};
  UnixListener listener_;  // last: its threads use the members above
};

}  // namespace qs_test
