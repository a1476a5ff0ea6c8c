#include "common/zdb_client.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <climits>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>
#include <thread>

#include <hiredis/hiredis.h>

namespace qs {

namespace {

timeval ToTimeval(std::chrono::milliseconds ms) {
  timeval tv;
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

// RESP multibulk encoding of one command; binary-safe.
void EncodeCommand(const std::vector<std::string_view>& argv, std::string* out) {
  out->append("*").append(std::to_string(argv.size())).append("\r\n");
  for (std::string_view a : argv) {
    out->append("$").append(std::to_string(a.size())).append("\r\n");
    out->append(a.data(), a.size());
    out->append("\r\n");
  }
}

// hiredis builds replies through these functions, straight into Reply, so
// a bulk string is copied once out of the reader's buffer (not into a
// redisReply first and then into a Reply). The root is heap-allocated and
// owned by whoever takes it from redisGetReply (FreeReply); elements live
// inside their parent's vector, sized once by CreateArray, so their
// addresses stay valid while hiredis fills nested arrays.
// What the reply being read may still grow to; set by ReadReply for the
// thread reading (hiredis calls the builders below from that thread).
struct ReplyBudget {
  size_t elements_left = 0;
  long long refused_elements = -1;  // an array declared beyond the budget
};
thread_local ReplyBudget* tls_budget = nullptr;

Reply* ReplySlot(const redisReadTask* task) {
  if (task->parent == nullptr) return new (std::nothrow) Reply();
  auto* parent = static_cast<Reply*>(task->parent->obj);
  return &parent->elements[static_cast<size_t>(task->idx)];
}

void* CreateString(const redisReadTask* task, char* str, size_t len) {
  Reply* r = ReplySlot(task);
  if (r == nullptr) return nullptr;
  switch (task->type) {
    case REDIS_REPLY_STATUS: r->type = Reply::Type::kStatus; break;
    case REDIS_REPLY_ERROR: r->type = Reply::Type::kError; break;
    default: r->type = Reply::Type::kString; break;
  }
  r->str.assign(str, len);
  return r;
}

void* CreateArray(const redisReadTask* task, int elements) {
  size_t n = static_cast<size_t>(std::max(elements, 0));
  if (tls_budget != nullptr) {
    if (n > tls_budget->elements_left) {
      tls_budget->refused_elements = elements;
      return nullptr;  // hiredis stops with an out-of-memory error; ReadReply names the cause
    }
    tls_budget->elements_left -= n;
  }
  Reply* r = ReplySlot(task);
  if (r == nullptr) return nullptr;
  r->type = Reply::Type::kArray;
  r->elements.resize(n);
  return r;
}

void* CreateInteger(const redisReadTask* task, long long value) {
  Reply* r = ReplySlot(task);
  if (r == nullptr) return nullptr;
  r->type = Reply::Type::kInteger;
  r->integer = value;
  return r;
}

void* CreateNil(const redisReadTask* task) {
  Reply* r = ReplySlot(task);
  if (r != nullptr) r->type = Reply::Type::kNil;
  return r;
}

void FreeReply(void* reply) { delete static_cast<Reply*>(reply); }

redisReplyObjectFunctions kReplyFunctions = {CreateString, CreateArray, CreateInteger, CreateNil, FreeReply};

// The reader keeps up to this much unused buffer between replies, so
// fragment-sized replies reuse warm memory instead of growing a fresh
// buffer each time (hiredis' default is 16 KiB).
constexpr size_t kReaderKeep = size_t{4} << 20;

// The longest status, error or integer line a reply may have.
constexpr size_t kMaxReplyLine = size_t{64} << 10;


// Blocks SIGPIPE for the calling thread while hiredis writes, and swallows
// a SIGPIPE raised meanwhile, so a peer closing the socket cannot kill a
// process that did not ignore SIGPIPE. Does nothing if SIGPIPE is ignored.
class SigpipeGuard {
 public:
  SigpipeGuard() {
    struct sigaction sa;
    if (sigaction(SIGPIPE, nullptr, &sa) == 0 && sa.sa_handler == SIG_IGN) return;
    active_ = true;
    sigemptyset(&pipe_set_);
    sigaddset(&pipe_set_, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_set_, &old_mask_);
  }
  ~SigpipeGuard() {
    if (!active_) return;
    if (!was_pending_) {
      sigset_t pending;
      sigpending(&pending);
      if (sigismember(&pending, SIGPIPE) == 1) {
        timespec zero{0, 0};
        while (sigtimedwait(&pipe_set_, nullptr, &zero) < 0 && errno == EINTR) {
        }
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
  }
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  bool active_ = false;
  bool was_pending_ = false;
  sigset_t pipe_set_;
  sigset_t old_mask_;
};

}  // namespace

// ---------------------------------------------------------------------------

std::string Reply::DebugString() const {
  switch (type) {
    case Type::kNil: return "(nil)";
    case Type::kStatus: return "+" + str;
    case Type::kError: return "-" + str;
    case Type::kInteger: return std::to_string(integer);
    case Type::kString: {
      std::string out = "\"";
      for (unsigned char c : str) {
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
          out += static_cast<char>(c);
        } else {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\x%02x", c);
          out += buf;
        }
      }
      return out + "\"";
    }
    case Type::kArray: {
      std::string out = "[";
      for (size_t i = 0; i < elements.size(); i++) {
        if (i > 0) out += ", ";
        out += elements[i].DebugString();
      }
      return out + "]";
    }
  }
  return "?";
}

// ---------------------------------------------------------------------------

ZdbClient::ZdbClient(ZdbAddress address, ZdbClientOptions options)
    : address_(std::move(address)), options_(options), backoff_(options.backoff_initial) {
  if (options_.connect_attempts < 1) options_.connect_attempts = 1;
}

ZdbClient::~ZdbClient() { Close(); }

void ZdbClient::Close() {
  if (ctx_ != nullptr) {
    redisFree(ctx_);
    ctx_ = nullptr;
  }
}

Status ZdbClient::TransportError(std::string_view what, int saved_errno) {
  std::string msg = "zdb " + address_.ToString() + ": " + std::string(what) + ": ";
  if (ctx_ != nullptr && ctx_->err == REDIS_ERR_IO &&
      (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK)) {
    msg += "timed out";
  } else if (ctx_ != nullptr && ctx_->err != 0) {
    msg += ctx_->errstr;
  } else {
    msg += "unknown error";
  }
  Close();
  return Status::Unavailable(msg);
}

bool ZdbClient::ConnectionLooksDead() const {
  // The client only reads replies it asked for, so an idle connection that
  // is readable has been closed (or reset, or desynchronised) by the peer.
  pollfd p{};
  p.fd = ctx_->fd;
  p.events = POLLIN;
  int r = poll(&p, 1, 0);
  if (r <= 0) return false;
  if (p.revents & (POLLERR | POLLHUP | POLLNVAL)) return true;
  return (p.revents & POLLIN) != 0;
}

Status ZdbClient::ConnectOnce(bool* retryable) {
  *retryable = true;
  Close();
  if (!address_.unix_path.empty()) {
    ctx_ = options_.connect_timeout.count() > 0
               ? redisConnectUnixWithTimeout(address_.unix_path.c_str(),
                                             ToTimeval(options_.connect_timeout))
               : redisConnectUnix(address_.unix_path.c_str());
  } else {
    ctx_ = options_.connect_timeout.count() > 0
               ? redisConnectWithTimeout(address_.host.c_str(), address_.port,
                                         ToTimeval(options_.connect_timeout))
               : redisConnect(address_.host.c_str(), address_.port);
  }
  if (ctx_ == nullptr) return Status::Unavailable("zdb " + address_.ToString() + ": out of memory");
  if (ctx_->err != 0) {
    std::string msg = "zdb " + address_.ToString() + ": connect: " + ctx_->errstr;
    Close();
    return Status::Unavailable(msg);
  }
  if (options_.command_timeout.count() > 0 &&
      redisSetTimeout(ctx_, ToTimeval(options_.command_timeout)) != REDIS_OK) {
    return TransportError("set timeout", errno);
  }
  if (address_.unix_path.empty()) redisEnableKeepAlive(ctx_);
  ctx_->reader->fn = &kReplyFunctions;
  ctx_->reader->maxbuf = kReaderKeep;

  if (admin_password_.has_value()) {
    std::string wire;
    EncodeCommand({"AUTH", *admin_password_}, &wire);
    Result<std::vector<Reply>> r = RoundTrip(wire, 1);
    if (!r.ok()) return r.status();
    const Reply& reply = r.value()[0];
    if (reply.is_error()) {
      *retryable = false;
      Close();
      return Status::PermissionDenied("zdb " + address_.ToString() + ": AUTH failed: " + reply.str);
    }
  }
  if (!address_.ns.empty()) {
    std::vector<std::string_view> argv = {"SELECT", address_.ns};
    if (!address_.password.empty()) argv.push_back(address_.password);
    std::string wire;
    EncodeCommand(argv, &wire);
    Result<std::vector<Reply>> r = RoundTrip(wire, 1);
    if (!r.ok()) return r.status();
    const Reply& reply = r.value()[0];
    if (reply.is_error()) {
      *retryable = false;
      Close();
      Status mapped = StatusFromServerError(reply.str);
      std::string msg = "zdb " + address_.ToString() + ": SELECT '" + address_.ns +
                        "' failed: " + reply.str;
      switch (mapped.code()) {
        case Status::Code::kNotFound: return Status::NotFound(msg);
        case Status::Code::kPermissionDenied: return Status::PermissionDenied(msg);
        default: return Status::InvalidArgument(msg);
      }
    }
  }
  return Status::OK();
}

Status ZdbClient::Connect() {
  StartRequest();
  return Reconnect();
}

Status ZdbClient::Reconnect() {
  if (ctx_ != nullptr && !ConnectionLooksDead()) return Status::OK();
  Close();
  Status s;
  for (int attempt = 1;; attempt++) {
    bool retryable = true;
    s = ConnectOnce(&retryable);
    if (s.ok()) {
      backoff_ = options_.backoff_initial;
      return s;
    }
    if (!retryable || attempt >= options_.connect_attempts) break;
    std::this_thread::sleep_for(backoff_);
    backoff_ = std::min(backoff_ * 2, options_.backoff_max);
  }
  return s;
}

Status ZdbClient::EnsureConnected() { return Reconnect(); }

void ZdbClient::StartRequest() {
  if (options_.request_timeout.count() > 0) deadline_ = Clock::now() + options_.request_timeout;
  else deadline_.reset();
}

Result<std::vector<Reply>> ZdbClient::RoundTrip(const std::string& wire, size_t count) {
  if (!wire.empty()) QS_RETURN_IF_ERROR(WriteAll({iovec{const_cast<char*>(wire.data()), wire.size()}}));
  std::vector<Reply> replies;
  replies.reserve(count);
  for (size_t i = 0; i < count; i++) {
    Result<Reply> r = ReadReply(i == 0 ? "send/receive" : "receive pipelined reply");
    if (!r.ok()) return r.status();
    replies.push_back(std::move(r.value()));
  }
  return replies;
}

int ZdbClient::WaitMs(std::string_view what, Status* timed_out) {
  // The shorter of the per-wait timeout and what is left of the request.
  int64_t ms = options_.command_timeout.count() > 0 ? options_.command_timeout.count() : -1;
  bool by_deadline = false;
  if (deadline_.has_value()) {
    int64_t left = std::chrono::duration_cast<std::chrono::milliseconds>(*deadline_ - Clock::now()).count();
    if (left < 0) left = 0;
    if (ms < 0 || left <= ms) {
      ms = left;
      by_deadline = true;
    }
  }
  if (ms == 0) {
    *timed_out = Timeout(what, by_deadline);
    return 0;
  }
  return static_cast<int>(std::min<int64_t>(ms, INT_MAX));
}

Status ZdbClient::Timeout(std::string_view what, bool by_deadline) {
  std::string msg = "zdb " + address_.ToString() + ": " + std::string(what) + ": timed out";
  if (by_deadline)
    msg += " (request deadline of " + std::to_string(options_.request_timeout.count()) + " ms)";
  Close();
  return Status::Unavailable(msg);
}

Result<Reply> ZdbClient::ReadReply(std::string_view what) {
  ReplyBudget budget;
  budget.elements_left = options_.max_reply_elements;
  for (;;) {
    void* raw = nullptr;
    tls_budget = &budget;
    int rc = redisGetReplyFromReader(ctx_, &raw);
    tls_budget = nullptr;
    if (rc != REDIS_OK) {
      delete static_cast<Reply*>(raw);
      if (budget.refused_elements >= 0) {
        std::string msg = "zdb " + address_.ToString() + ": " + std::string(what) + ": reply declares " +
                          std::to_string(budget.refused_elements) + " elements, more than the limit of " +
                          std::to_string(options_.max_reply_elements);
        Close();
        return Status::Unavailable(msg);
      }
      return TransportError(what, 0);
    }
    if (raw != nullptr) {
      std::unique_ptr<Reply> reply(static_cast<Reply*>(raw));
      return std::move(*reply);
    }
    // Incomplete: what is buffered already exceeds any acceptable reply?
    // A status, error or integer line ends within kMaxReplyLine bytes (and
    // hiredis rescans an unterminated line on every read, so it must not
    // grow to max_reply_bytes).
    const redisReader* rd = ctx_->reader;
    size_t buffered = rd->len - rd->pos;
    int type = rd->ridx >= 0 ? rd->rstack[rd->ridx].type : -1;
    bool line = type == REDIS_REPLY_STATUS || type == REDIS_REPLY_ERROR || type == REDIS_REPLY_INTEGER;
    if (buffered > options_.max_reply_bytes || (line && buffered > kMaxReplyLine)) {
      std::string msg = "zdb " + address_.ToString() + ": " + std::string(what) + ": reply exceeds " +
                        std::to_string(line ? kMaxReplyLine : options_.max_reply_bytes) + " bytes" +
                        (line ? " without a line end" : "");
      Close();
      return Status::Unavailable(msg);
    }
    Status timed_out;
    int ms = WaitMs(what, &timed_out);
    if (!timed_out.ok()) return timed_out;
    pollfd p{ctx_->fd, POLLIN, 0};
    int pr = poll(&p, 1, ms);
    if (pr < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ctx_->err = REDIS_ERR_IO;
      std::snprintf(ctx_->errstr, sizeof(ctx_->errstr), "%s", std::strerror(err));
      return TransportError(what, err);
    }
    if (pr == 0) {
      WaitMs(what, &timed_out);  // the deadline, if that is what ran out
      return timed_out.ok() ? Timeout(what, false) : timed_out;
    }
    errno = 0;
    if (redisBufferRead(ctx_) != REDIS_OK) return TransportError(what, errno);
  }
}

Status ZdbClient::WriteGathered(const std::vector<std::vector<std::string_view>>& cmds) {
  // The bytes EncodeCommand produces: headers, small arguments and CRLFs
  // are encoded into one buffer; arguments of kGatherArg bytes or more are
  // sent from the caller's memory. Segments hold offsets into the buffer
  // (data == nullptr) until it stops growing.
  constexpr size_t kGatherArg = size_t{16} << 10;
  struct Segment {
    const char* data;  // caller's bytes, or nullptr: enc[off, off + len)
    size_t off, len;
  };
  std::string enc;
  std::vector<Segment> segs;
  size_t open_from = 0;  // start of the encoded run not yet in segs
  auto close_run = [&] {
    if (enc.size() > open_from) segs.push_back({nullptr, open_from, enc.size() - open_from});
    open_from = enc.size();
  };
  for (const auto& argv : cmds) {
    enc.append("*").append(std::to_string(argv.size())).append("\r\n");
    for (std::string_view a : argv) {
      enc.append("$").append(std::to_string(a.size())).append("\r\n");
      if (a.size() >= kGatherArg) {
        close_run();
        segs.push_back({a.data(), 0, a.size()});
      } else {
        enc.append(a.data(), a.size());
      }
      enc.append("\r\n");
    }
  }
  close_run();
  std::vector<iovec> iov;
  iov.reserve(segs.size());
  for (const Segment& g : segs)
    iov.push_back({const_cast<char*>(g.data != nullptr ? g.data : enc.data() + g.off), g.len});
  return WriteAll(std::move(iov));
}

Status ZdbClient::WriteAll(std::vector<iovec> iov) {
  SigpipeGuard guard;
  size_t first = 0;
  while (first < iov.size()) {
    msghdr msg{};
    msg.msg_iov = &iov[first];
    msg.msg_iovlen = std::min<size_t>(iov.size() - first, IOV_MAX);
    ssize_t w = sendmsg(ctx_->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        Status timed_out;
        int ms = WaitMs("send", &timed_out);
        if (!timed_out.ok()) return timed_out;
        pollfd p{ctx_->fd, POLLOUT, 0};
        int pr = poll(&p, 1, ms);
        if (pr == 0) {
          WaitMs("send", &timed_out);
          return timed_out.ok() ? Timeout("send", false) : timed_out;
        }
        continue;
      }
      int err = errno;
      ctx_->err = REDIS_ERR_IO;
      std::snprintf(ctx_->errstr, sizeof(ctx_->errstr), "%s", std::strerror(err));
      return TransportError("send", err);
    }
    size_t left = static_cast<size_t>(w);
    while (first < iov.size() && left >= iov[first].iov_len) left -= iov[first++].iov_len;
    if (left > 0) {
      iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + left;
      iov[first].iov_len -= left;
    }
  }
  return Status::OK();
}

Result<std::vector<Reply>> ZdbClient::Pipeline(const std::vector<std::vector<std::string_view>>& cmds) {
  for (const auto& argv : cmds)
    if (argv.empty()) return Status::InvalidArgument("zdb: empty command");
  if (pending_count_ > 0) return Status::InvalidArgument("zdb: Pipeline with commands queued by Append");
  if (cmds.empty()) return std::vector<Reply>{};
  StartRequest();
  QS_RETURN_IF_ERROR(EnsureConnected());
  QS_RETURN_IF_ERROR(WriteGathered(cmds));
  return RoundTrip(std::string(), cmds.size());
}

Result<Reply> ZdbClient::Command(const std::vector<std::string_view>& argv) {
  if (argv.empty()) return Status::InvalidArgument("zdb: empty command");
  StartRequest();
  QS_RETURN_IF_ERROR(EnsureConnected());
  QS_RETURN_IF_ERROR(WriteGathered({argv}));
  Result<std::vector<Reply>> r = RoundTrip(std::string(), 1);
  if (!r.ok()) return r.status();
  return std::move(r.value()[0]);
}

Status ZdbClient::Append(const std::vector<std::string_view>& argv) {
  if (argv.empty()) return Status::InvalidArgument("zdb: empty command");
  EncodeCommand(argv, &pending_);
  pending_count_++;
  return Status::OK();
}

Result<std::vector<Reply>> ZdbClient::Flush() {
  std::string wire;
  wire.swap(pending_);
  size_t count = pending_count_;
  pending_count_ = 0;
  if (count == 0) return std::vector<Reply>{};
  StartRequest();
  QS_RETURN_IF_ERROR(EnsureConnected());
  return RoundTrip(wire, count);
}

Status ZdbClient::Auth(std::string_view password) {
  std::optional<std::string> previous = admin_password_;
  admin_password_ = std::string(password);
  if (ctx_ == nullptr || ConnectionLooksDead()) {
    // Connect() sends AUTH itself, before SELECT.
    Status s = Connect();
    if (s.code() == Status::Code::kPermissionDenied) admin_password_ = previous;
    return s;
  }
  Result<Reply> r = Command({"AUTH", password});
  if (!r.ok()) return r.status();  // keep the password: it is checked on reconnect
  if (r->is_error()) {
    admin_password_ = previous;
    return Status::PermissionDenied("zdb " + address_.ToString() + ": AUTH failed: " + r->str);
  }
  return Status::OK();
}

Status ZdbClient::Ping() {
  Result<Reply> r = Command({"PING"});
  if (!r.ok()) return r.status();
  if (r->is_error()) return StatusFromServerError(r->str);
  return Status::OK();
}

Result<std::string> ZdbClient::Set(std::string_view key, std::string_view value) {
  Result<Reply> r = Command({"SET", key, value});
  if (!r.ok()) return r.status();
  switch (r->type) {
    case Reply::Type::kString: return std::move(r->str);
    case Reply::Type::kStatus:
    case Reply::Type::kNil: return std::string(key);
    case Reply::Type::kError: return StatusFromServerError(r->str);
    default: return Status::Corruption("zdb SET: unexpected reply " + r->DebugString());
  }
}

Result<std::optional<std::string>> ZdbClient::Get(std::string_view key) {
  Result<Reply> r = Command({"GET", key});
  if (!r.ok()) return r.status();
  switch (r->type) {
    case Reply::Type::kString: return std::optional<std::string>(std::move(r->str));
    case Reply::Type::kNil: return std::optional<std::string>();
    case Reply::Type::kError: return StatusFromServerError(r->str);
    default: return Status::Corruption("zdb GET: unexpected reply " + r->DebugString());
  }
}

Status ZdbClient::Del(std::string_view key) {
  Result<Reply> r = Command({"DEL", key});
  if (!r.ok()) return r.status();
  switch (r->type) {
    case Reply::Type::kInteger:
      return r->integer > 0 ? Status::OK() : Status::NotFound("zdb DEL: key not found");
    case Reply::Type::kStatus: return Status::OK();
    case Reply::Type::kError: return StatusFromServerError(r->str);
    default: return Status::Corruption("zdb DEL: unexpected reply " + r->DebugString());
  }
}

Result<bool> ZdbClient::Exists(std::string_view key) {
  Result<Reply> r = Command({"EXISTS", key});
  if (!r.ok()) return r.status();
  if (r->is_integer()) return r->integer != 0;
  if (r->is_error()) return StatusFromServerError(r->str);
  return Status::Corruption("zdb EXISTS: unexpected reply " + r->DebugString());
}

}  // namespace qs
