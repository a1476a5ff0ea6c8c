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
#include "tests/common/unix_listener.h"

namespace qs_test {

class RefusingProxy {
 public:
  RefusingProxy(std::string path, std::string upstream, std::set<std::string> refused)
      : path_(std::move(path)), upstream_(std::move(upstream)), refused_(std::move(refused)),
        listener_(path_, &stop_, [this](int c) { Serve(c); }) {}
  ~RefusingProxy() { listener_.Stop(); }
  RefusingProxy(const RefusingProxy&) = delete;
  RefusingProxy& operator=(const RefusingProxy&) = delete;

  // Requests answered "-Command not supported" so far.
  int refusals() const { return refusals_; }

 private:
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
    int up = UnixListener::Connect(upstream_);
    if (up >= 0) {
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
      close(up);
    }
    close(client);
  }

  std::string path_, upstream_;
  std::set<std::string> refused_;
  std::atomic<bool> stop_{false};
  std::atomic<int> refusals_{0};
  UnixListener listener_;  // last: its threads use the members above
};

}  // namespace qs_test
