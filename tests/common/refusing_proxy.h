// Test helper: a RESP proxy on a Unix socket in front of a real zdb (also on
// a Unix socket) that answers the commands it is told to refuse with
// "-Command not supported" itself, as a server without them (an older 0-db)
// does, and relays everything else. One thread per connection, requests
// handled one at a time, so replies keep their order; the destructor stops
// every thread and removes the socket file.
#pragma once

#include <hiredis/hiredis.h>
#include <poll.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/resp_parser.h"

namespace qs_test {

class RefusingProxy {
 public:
  RefusingProxy(std::string path, std::string upstream, std::set<std::string> refused)
      : path_(std::move(path)), upstream_(std::move(upstream)), refused_(std::move(refused)) {
    unlink(path_.c_str());
    fd_ = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un sa = Address(path_);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0 || listen(fd_, 64) != 0) abort();
    acceptor_ = std::thread([this] { AcceptLoop(); });
  }
  ~RefusingProxy() {
    stop_ = true;
    acceptor_.join();
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& t : conns_) t.join();
    close(fd_);
    unlink(path_.c_str());
  }
  RefusingProxy(const RefusingProxy&) = delete;
  RefusingProxy& operator=(const RefusingProxy&) = delete;

  // Requests answered "-Command not supported" so far.
  int refusals() const { return refusals_; }

 private:
  static sockaddr_un Address(const std::string& p) {
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::strncpy(sa.sun_path, p.c_str(), sizeof(sa.sun_path) - 1);
    return sa;
  }
  void AcceptLoop() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      int c = accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      std::lock_guard<std::mutex> lock(mu_);
      conns_.emplace_back([this, c] { Serve(c); });
    }
  }
  // Waits (polling stop_) until fd is readable, then reads; <= 0 ends.
  ssize_t Read(int fd, char* buf, size_t n) {
    for (;;) {
      if (stop_) return -1;
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 50) > 0) return read(fd, buf, n);
    }
  }
  static bool WriteAll(int fd, const char* p, size_t n) {
    while (n > 0) {
      ssize_t w = write(fd, p, n);
      if (w <= 0) return false;
      p += w;
      n -= static_cast<size_t>(w);
    }
    return true;
  }
  // Relays one whole reply from up to client.
  bool RelayReply(int up, int client) {
    redisReader* reader = redisReaderCreate();
    void* reply = nullptr;
    bool ok = false;
    char buf[65536];
    for (;;) {
      if (redisReaderGetReply(reader, &reply) != REDIS_OK) break;
      if (reply != nullptr) {
        ok = true;
        break;
      }
      ssize_t n = Read(up, buf, sizeof(buf));
      if (n <= 0 || !WriteAll(client, buf, static_cast<size_t>(n))) break;
      redisReaderFeed(reader, buf, static_cast<size_t>(n));
    }
    if (reply != nullptr) freeReplyObject(reply);
    redisReaderFree(reader);
    return ok;
  }
  void Serve(int client) {
    int up = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un sa = Address(upstream_);
    if (connect(up, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0) {
      qs::RespParser parser;
      std::string in;
      std::vector<std::string_view> argv;
      char buf[65536];
      bool open = true;
      while (open) {
        size_t used = 0;
        auto r = parser.Parse(in.data(), in.size(), &used, &argv);
        if (r == qs::RespParser::Result::kError) break;
        if (r == qs::RespParser::Result::kNeedMore) {
          ssize_t n = Read(client, buf, sizeof(buf));
          if (n <= 0) break;
          in.append(buf, static_cast<size_t>(n));
          continue;
        }
        bool refuse = false;
        if (!argv.empty()) {
          for (const auto& name : refused_) {
            if (name.size() == argv[0].size() && strncasecmp(name.data(), argv[0].data(), name.size()) == 0) refuse = true;
          }
        }
        if (refuse) {
          ++refusals_;
          static const char kNo[] = "-Command not supported\r\n";
          open = WriteAll(client, kNo, sizeof(kNo) - 1);
        } else {
          open = WriteAll(up, in.data(), used) && RelayReply(up, client);
        }
        in.erase(0, used);
      }
    }
    close(up);
    close(client);
  }

  std::string path_, upstream_;
  std::set<std::string> refused_;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::atomic<int> refusals_{0};
  std::mutex mu_;
  std::thread acceptor_;
  std::vector<std::thread> conns_;
};

}  // namespace qs_test
