// Test helper: a listening Unix socket that serves each accepted connection
// on a thread of its own, for the fake servers and proxies of the tests.
// Stop() (also the destructor) sets the owner's stop flag, stops accepting,
// joins every connection thread and removes the socket file; handlers poll
// the flag so that they end. The handler owns the fd it gets.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <list>
#include <mutex>
#include <string>
#include <thread>

namespace qs_test {

class UnixListener {
 public:
  using Handler = std::function<void(int fd)>;

  UnixListener(std::string path, std::atomic<bool>* stop, Handler handler)
      : path_(std::move(path)), stop_(stop), handler_(std::move(handler)) {
    unlink(path_.c_str());
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un sa = Address(path_);
    if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0 || listen(fd_, 64) != 0) abort();
    acceptor_ = std::thread([this] { AcceptLoop(); });
  }
  ~UnixListener() { Stop(); }
  UnixListener(const UnixListener&) = delete;
  UnixListener& operator=(const UnixListener&) = delete;

  void Stop() {
    if (fd_ < 0) return;
    *stop_ = true;
    acceptor_.join();
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& t : conns_) t.join();
    close(fd_);
    fd_ = -1;
    unlink(path_.c_str());
  }

  static sockaddr_un Address(const std::string& p) {
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::strncpy(sa.sun_path, p.c_str(), sizeof(sa.sun_path) - 1);
    return sa;
  }
  // A connected socket to the Unix socket at path, or -1.
  static int Connect(const std::string& path) {
    int u = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un sa = Address(path);
    if (u >= 0 && connect(u, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0) return u;
    if (u >= 0) close(u);
    return -1;
  }

 private:
  void AcceptLoop() {
    while (!*stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      std::lock_guard<std::mutex> lock(mu_);
      conns_.emplace_back([this, c] { handler_(c); });
    }
  }

  const std::string path_;
  std::atomic<bool>* const stop_;
  const Handler handler_;
  int fd_ = -1;
  std::thread acceptor_;
  std::mutex mu_;  // conns_
  std::list<std::thread> conns_;
};

}  // namespace qs_test
