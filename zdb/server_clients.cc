// Server, client side: accepting connections, reading and parsing requests,
// dispatching them, writing replies, and the limits that keep one client
// (or many) from taking the server's memory or its turn (docs/zdb-protocol.md,
// "Limits").
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>

#include "common/listener.h"
#include "common/resp_writer.h"
#include "zdb/server.h"

namespace zdb {

namespace resp = qs::resp;
using qs::Status;

namespace {
constexpr size_t kReadChunk = 64 * 1024;
constexpr size_t kMaxReadPerTurn = 4 * 1024 * 1024;  // fairness between clients
constexpr int64_t kAcceptRetryMs = 100;     // listeners paused this long after EMFILE & co
constexpr int64_t kAcceptLogEveryMs = 10000;  // one log line per interval for accept failures
// Buffer capacity an idle client keeps; more is released once drained, so
// many idle clients do not use up clients-memory with bursts long past.
constexpr size_t kIdleBufferKeep = 256 * 1024;
}  // namespace

void Server::OnAccept(int listen_fd) {
  for (int i = 0; i < 4096; ++i) {  // drain the backlog; bounded for fairness
    std::string peer;
    int fd = qs::AcceptClient(listen_fd, &peer);
    if (fd < 0) {
      int err = errno;
      if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR) return;
      if (err == ECONNABORTED || err == EPROTO) continue;  // that one client is gone
      PauseAccept(err);  // EMFILE, ENFILE, ENOBUFS, ENOMEM: retrying now would spin
      return;
    }
    auto c = std::make_unique<Client>();
    c->id = next_client_id_++;
    c->fd = fd;
    c->peer = peer;
    qs::RespLimits limits;
    limits.max_request = opts_.max_request;
    c->parser = qs::RespParser(limits);
    c->admin = opts_.admin.empty();
    {
      // Every session starts in default, as a SELECT without password would.
      const NamespaceBinding& b = bindings_["default"];
      c->ns_instance = b.instance;
      c->ns_password_epoch = b.password_epoch;
      Namespace* def = FindNamespace("default");
      c->ns_keyed = def == nullptr || def->settings().password.empty();
    }
    c->writable = !opts_.protect;
    uint64_t id = c->id;
    // EPOLLRDHUP: a client that is not read (blocked, backpressure) and
    // goes away is noticed at once, as reading its EOF would.
    Status s = loop_.AddFd(fd, EPOLLIN | EPOLLRDHUP, [this, id](uint32_t events) {
      auto it = clients_.find(id);
      if (it == clients_.end()) return;
      Client& cl = *it->second;
      if (events & EPOLLOUT) WriteOutput(cl);
      if (cl.closed) return;
      if (cl.reading && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) OnReadable(cl);
      else if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) CloseClient(cl);
    });
    if (!s.ok()) {
      close(fd);
      continue;
    }
    ++clients_lifetime_;
    spdlog::debug("client {} connected from {}", id, peer);
    clients_[id] = std::move(c);
  }
}

void Server::PauseAccept(int err) {
  ++accept_failures_;
  int64_t now = qs::EventLoop::NowMs();
  if (accept_logged_ms_ == 0 || now - accept_logged_ms_ >= kAcceptLogEveryMs) {
    spdlog::warn("accept: {}: new connections wait ({} failed accepts since the last such line; {} clients connected)",
                 std::strerror(err), accept_failures_, clients_.size());
    accept_logged_ms_ = now;
    accept_failures_ = 0;
  }
  if (accept_paused_) return;
  // The pending connection stays in the backlog; retrying at once would find
  // the same error again and again. Resume after a pause, or when a client
  // leaves (CloseClient), whichever comes first.
  accept_paused_ = true;
  for (int fd : listen_fds_) loop_.ModifyFd(fd, 0);
  loop_.AddTimer(kAcceptRetryMs, 0, [this] {
    if (!accept_paused_) return;
    accept_paused_ = false;
    for (int fd : listen_fds_) loop_.ModifyFd(fd, EPOLLIN);
  });
}

bool Server::OutputOverSoft(const Client& c) const {
  return c.out.size() - c.out_sent > opts_.client_output_soft;
}

// Input is read only while it can be executed: not while the client is
// blocked, waits for its replies to drain, or is about to close; and never
// beyond one full request plus a read.
bool Server::InputMayGrow(const Client& c) const {
  return !c.closed && !c.close_after_write && !c.blocked && !OutputOverSoft(c) && c.in.size() < opts_.max_request;
}

size_t Server::ClientMemory(const Client& c) const { return c.in.capacity() + c.out.capacity(); }

void Server::UpdateInterest(Client& c) {
  if (c.closed) return;
  bool in = InputMayGrow(c);
  bool out = c.out_sent < c.out.size();
  if (in == c.reading && out == c.want_write) return;
  c.reading = in;
  c.want_write = out;
  loop_.ModifyFd(c.fd, EPOLLRDHUP | (in ? EPOLLIN : 0u) | (out ? EPOLLOUT : 0u));
}

void Server::Account(Client& c) {
  size_t now = c.closed ? 0 : ClientMemory(c);
  clients_memory_ += now;
  clients_memory_ -= c.accounted_memory;
  c.accounted_memory = now;
  if (!c.closed && c.out.size() - c.out_sent > opts_.client_output_hard) {
    spdlog::warn("client {} ({}): {} bytes of replies unread, over client-output-hard: disconnected", c.id, c.peer,
                 c.out.size() - c.out_sent);
    ++stats.limit_disconnects;
    CloseClient(c);
  }
}

void Server::EnforceClientLimits() {
  if (clients_memory_ <= opts_.clients_memory) return;
  // Over the server-wide budget: the largest clients go first (like Redis's
  // maxmemory-clients), so many small well-behaved clients are kept.
  std::vector<std::pair<size_t, uint64_t>> by_size;
  for (auto& [id, c] : clients_)
    if (!c->closed) by_size.emplace_back(ClientMemory(*c), id);
  std::sort(by_size.begin(), by_size.end(), std::greater<>());
  for (auto& [bytes, id] : by_size) {
    if (clients_memory_ <= opts_.clients_memory) break;
    Client& c = *clients_[id];
    spdlog::warn("client {} ({}): {} bytes buffered while all clients hold {} (clients-memory {}): disconnected", id,
                 c.peer, bytes, clients_memory_, opts_.clients_memory);
    ++stats.limit_disconnects;
    CloseClient(c);
  }
}

void Server::OnReadable(Client& c) {
  size_t total = 0;
  while (total < kMaxReadPerTurn && InputMayGrow(c)) {
    size_t want = c.parser.bytes_needed() > c.in.size() ? c.parser.bytes_needed() - c.in.size() : 0;
    size_t need = std::max(kReadChunk, want);
    char* dst = c.in.PrepareWrite(need);
    ssize_t n = read(c.fd, dst, need);
    if (n <= 0) {
      if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        CloseClient(c);
        return;
      }
      break;
    }
    c.in.Commit(static_cast<size_t>(n));
    total += static_cast<size_t>(n);
    stats.net_rx += static_cast<uint64_t>(n);
    if (static_cast<size_t>(n) < need) break;
  }
  ProcessInput(c);
}

void Server::ProcessInput(Client& c) {
  size_t offset = 0;
  std::vector<std::string_view> argv;
  // Backpressure: with too many replies unread, the rest waits (WriteOutput
  // resumes it once they drain).
  while (!c.blocked && !c.closed && !c.close_after_write && offset < c.in.size() && !OutputOverSoft(c)) {
    size_t consumed = 0;
    auto r = c.parser.Parse(c.in.data() + offset, c.in.size() - offset, &consumed, &argv);
    if (r == qs::RespParser::Result::kNeedMore) break;
    if (r == qs::RespParser::Result::kError) {
      resp::AppendError(&c.out, c.parser.error());  // E::kProtocolError texts (common/resp_parser.cc)
      c.close_after_write = true;
      MarkPendingWrite(c);
      ++stats.failed;
      break;
    }
    // The views point into c.in, which stays untouched until we erase below.
    if (!argv.empty()) Dispatch(c, argv);
    offset += consumed;
  }
  // Requests left because of the soft limit: WriteOutput resumes them.
  c.held_back = offset < c.in.size() && OutputOverSoft(c) && !c.closed;
  if (offset > 0) {
    c.in.Consume(offset);
    c.parser.Reset();
  }
  c.in.ShrinkIfIdle(kIdleBufferKeep);
  if (c.closed) return;
  Account(c);
  UpdateInterest(c);
}

static std::string Upper(std::string_view s) {
  std::string u(s);
  for (auto& ch : u) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return u;
}

void Server::Dispatch(Client& c, const Args& argv) {
  auto start = std::chrono::steady_clock::now();
  std::string name = Upper(argv[0]);
  ++stats.commands;
  MarkPendingWrite(c);
  const auto& table = CommandTable();
  auto it = table.find(name);
  size_t out_before = c.out.size();
  if (it == table.end()) {
    AppendZdbError(&c.out, E::kCommandNotSupported);
    ++stats.failed;
    if (err_counters_.count("unknown")) err_counters_["unknown"]->Increment();
    return;
  }
  const CommandSpec& spec = it->second;
  int argc = static_cast<int>(argv.size());
  if ((spec.arity > 0 && argc != spec.arity) || (spec.arity < 0 && argc < -spec.arity)) {
    AppendZdbError(&c.out, spec.arity_error);
    ++stats.failed;
    return;
  }
  if ((spec.flags & kCmdAdmin) && !c.admin) {
    AppendZdbError(&c.out, E::kPermissionDenied);
    ++stats.unauthorized;
    ++stats.failed;
    return;
  }
  if ((spec.flags & kCmdNamespace) && !CheckBinding(c)) {
    ++stats.failed;
    return;
  }
  c.command_flags = spec.flags;
  c.write_checked = false;
  spec.handler(*this, c, argv);
  bool failed = c.out.size() > out_before && c.out[out_before] == '-';
  // A command flagged kCmdWrite succeeds only past the write check.
  assert(!(spec.flags & kCmdWrite) || failed || c.blocked || c.write_checked);
  if (failed) {
    ++stats.failed;
    auto e = err_counters_.find(spec.name);
    if (e != err_counters_.end()) e->second->Increment();
  }
  auto oc = op_counters_.find(spec.name);
  if (oc != op_counters_.end()) oc->second->Increment();
  if (latency_ != nullptr)
    latency_->Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  if (!waiters_.empty()) CheckWaiters(c, spec.name);
}

void Server::WriteOutput(Client& c) {
  while (c.out_sent < c.out.size()) {
    ssize_t n = write(c.fd, c.out.data() + c.out_sent, c.out.size() - c.out_sent);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      CloseClient(c);
      return;
    }
    c.out_sent += static_cast<size_t>(n);
    stats.net_tx += static_cast<uint64_t>(n);
  }
  if (c.out_sent == c.out.size()) {
    c.out.clear();
    c.out_sent = 0;
    if (c.out.capacity() > kIdleBufferKeep) std::string().swap(c.out);
    if (c.close_after_write) {
      CloseClient(c);
      return;
    }
  } else if (c.out_sent >= (1u << 20) && c.out_sent >= c.out.size() / 2) {
    // A client that reads slowly but never catches up: drop what was sent,
    // or the buffer would grow by everything ever written to it.
    c.out.erase(0, c.out_sent);
    c.out_sent = 0;
  }
  if (OutputOverSoft(c)) {
    if (c.output_over_since_ms == 0) c.output_over_since_ms = qs::EventLoop::NowMs();
  } else {
    c.output_over_since_ms = 0;
    if (c.held_back) {
      c.held_back = false;
      pending_input_.insert(c.id);
      loop_.AddTimer(0, 0, [] {});
    }
  }
  Account(c);
  UpdateInterest(c);
}

void Server::CloseClient(Client& c) {
  if (c.closed) return;
  c.closed = true;
  loop_.RemoveFd(c.fd);
  close(c.fd);
  Account(c);
  if (accept_paused_) {  // a descriptor is free again
    accept_paused_ = false;
    for (int fd : listen_fds_) loop_.ModifyFd(fd, EPOLLIN);
  }
  uint64_t id = c.id;
  spdlog::debug("client {} disconnected", id);
  // Deferred erase: callers may still hold the reference this turn.
  loop_.AddTimer(0, 0, [this, id] {
    pending_input_.erase(id);
    waiters_.erase(std::remove(waiters_.begin(), waiters_.end(), id), waiters_.end());
    clients_.erase(id);
  });
}

void Server::DisconnectSlowReaders() {
  // Replies above the soft limit for too long: the client does not read
  // (Redis's soft output limit with its seconds).
  int64_t now_ms = qs::EventLoop::NowMs();
  int64_t limit_ms = static_cast<int64_t>(opts_.client_output_seconds) * 1000;
  for (auto& [id, c] : clients_) {
    if (c->closed || c->output_over_since_ms == 0 || now_ms - c->output_over_since_ms < limit_ms) continue;
    spdlog::warn("client {} ({}): {} bytes of replies unread for {} s: disconnected", id, c->peer,
                 c->out.size() - c->out_sent, (now_ms - c->output_over_since_ms) / 1000);
    ++stats.limit_disconnects;
    CloseClient(*c);
  }
}

}  // namespace zdb
