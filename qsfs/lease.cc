#include "qsfs/lease.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <ctime>
#include <random>
#include <thread>

#include <spdlog/spdlog.h>

namespace qsfs {

namespace {
int64_t WallSeconds() { return static_cast<int64_t>(std::time(nullptr)); }
}  // namespace

MountLease::MountLease(const Options& options, Store* store)
    : options_(options), store_(store), timeout_ms_(int64_t{options.lease_timeout_seconds} * 1000) {
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  std::random_device rd;
  char id[33];
  std::snprintf(id, sizeof(id), "%08x%08x%08x%08x", rd(), rd(), rd(), rd());
  lease_.host = host;
  lease_.pid = getpid();
  lease_.id = id;
  lease_.timeout = options.lease_timeout_seconds;
}

MountLease::~MountLease() { Stop(); }

void MountLease::Start() {
  thread_ = std::thread([this] {
    qs::MutexLock lock(&mu_);
    while (!stop_) {
      cv_.WaitFor(&mu_, std::chrono::milliseconds(timeout_ms_ / 6));
      if (stop_) break;
      lock.Unlock();
      Renew();
      lock.Lock();
    }
  });
}

void MountLease::Stop() {
  {
    qs::MutexLock lock(&mu_);
    stop_ = true;
  }
  cv_.SignalAll();
  if (thread_.joinable()) thread_.join();
}

qs::Result<uint64_t> MountLease::NextToken(const Lease* held) {
  auto fence = store_->CurrentFence();
  if (!fence.ok()) return fence.status();
  uint64_t seen = std::max(*fence, held != nullptr ? held->token : 0);
  uint64_t high = (seen >> 32) + 1;
  if (high > 0xffffffffu) return qs::Status::IOError("the namespaces' fence is at its largest value");
  std::random_device rd;
  return (high << 32) | rd();
}

qs::Status MountLease::Acquire(bool* took_stale) {
  *took_stale = false;
  auto got = store_->LeaseGet();
  if (!got.ok()) return got.status();
  std::optional<Lease> held;
  if (got->has_value()) {
    auto decoded = DecodeLease(**got);
    if (decoded.ok()) {
      int64_t age = WallSeconds() - decoded->time;
      bool stale = age > decoded->timeout;
      if (!stale && decoded->host == lease_.host && decoded->pid > 0 &&
          kill(static_cast<pid_t>(decoded->pid), 0) != 0 && errno == ESRCH) {
        stale = true;  // the holder on this machine is gone (crashed)
      }
      if (!stale) {
        return qs::Status::Busy("namespaces " + options_.meta_ns + "/" + options_.data_ns +
                                " are already mounted by qsfs pid " + std::to_string(decoded->pid) + " on " +
                                decoded->host + " (lease renewed " + std::to_string(age) +
                                "s ago); refusing a second mount");
      }
      spdlog::warn("taking over the stale mount lease of pid {} on {} ({}s old, its timeout {}s)", decoded->pid,
                   decoded->host, age, decoded->timeout);
      held = *decoded;
    } else {
      spdlog::warn("replacing an unreadable mount lease: {}", decoded.status().ToString());
    }
    *took_stale = true;
  }

  // Fence first: from here on zdb refuses every write of an earlier holder.
  auto token = NextToken(held ? &*held : nullptr);
  if (!token.ok()) return token.status();
  qs::Status s = store_->Fence(*token);
  if (!s.ok()) {
    if (store_->fenced()) {
      return qs::Status::Busy("another qsfs took the namespaces over at the same time; refusing a second mount");
    }
    return s;
  }
  lease_.token = *token;

  // The holder may have renewed between our read and our fence: it then
  // believes it holds the lease for up to 2/3 of its timeout after that
  // renewal. Wait that out, so that no two mounts acknowledge changes at
  // once (it cannot renew any more).
  if (held) {
    got = store_->LeaseGet();
    if (!got.ok()) return got.status();
    auto now_held = got->has_value() ? DecodeLease(**got) : qs::Result<Lease>(qs::Status::NotFound("lease"));
    if (now_held.ok() && now_held->id == held->id && now_held->time != held->time) {
      spdlog::warn("pid {} on {} renewed its lease while it was taken over; waiting {}s for it to stop",
                   now_held->pid, now_held->host, now_held->timeout);
      std::this_thread::sleep_for(std::chrono::seconds(now_held->timeout));
    }
  }

  auto sent = Clock::now();
  lease_.time = WallSeconds();
  s = store_->LeaseSet(EncodeLease(lease_));
  if (!s.ok()) {
    if (store_->fenced()) {
      return qs::Status::Busy("another qsfs took the namespaces over at the same time; refusing a second mount");
    }
    return s;
  }
  renewed_at_ns_ = std::chrono::duration_cast<std::chrono::nanoseconds>(sent.time_since_epoch()).count();
  // Two mounts starting together: the one whose lease is not the last
  // written gives up (the other one's token fences it anyway).
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  got = store_->LeaseGet();
  if (!got.ok()) return got.status();
  auto now_held = got->has_value() ? DecodeLease(**got) : qs::Result<Lease>(qs::Status::NotFound("lease"));
  if (!now_held.ok() || now_held->id != lease_.id) {
    return qs::Status::Busy("another qsfs took the mount lease at the same time; refusing a second mount");
  }
  spdlog::info("mount lease taken: token {}, timeout {}s", lease_.token, lease_.timeout);
  return qs::Status::OK();
}

void MountLease::LoseForGood(const std::string& why) {
  if (!lost_.exchange(true)) {
    spdlog::error("fenced: {}; this mount acknowledges no further change (EIO) until it is mounted again", why);
  }
}

void MountLease::Renew() {
  if (fenced()) return;
  auto sent = Clock::now();
  auto got = store_->LeaseGet();
  if (!got.ok()) {
    spdlog::warn("renewing the mount lease: {}", got.status().ToString());
    return;
  }
  if (got->has_value()) {
    auto held = DecodeLease(**got);
    if (held.ok() && held->id != lease_.id) {
      LoseForGood("the mount lease is now held by pid " + std::to_string(held->pid) + " on " + held->host +
                  " (token " + std::to_string(held->token) + ")");
      return;
    }
  }
  lease_.time = WallSeconds();
  qs::Status s = store_->LeaseSet(EncodeLease(lease_));
  if (!s.ok()) {
    if (store_->fenced()) LoseForGood("zdb refused the lease renewal: " + s.message());
    else spdlog::warn("renewing the mount lease: {}", s.ToString());
    return;
  }
  renewed_at_ns_ = std::chrono::duration_cast<std::chrono::nanoseconds>(sent.time_since_epoch()).count();
  if (stale_logged_.exchange(false)) spdlog::info("mount lease renewed: changes are acknowledged again");
}

bool MountLease::fenced() {
  if (lost_) return true;
  if (store_->fenced()) LoseForGood("zdb refused a write: another mount took the namespaces over");
  return lost_;
}

int MountLease::Gate() {
  if (fenced()) return EIO;
  auto renewed = Clock::time_point(std::chrono::nanoseconds(renewed_at_ns_.load()));
  auto age = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - renewed).count();
  if (age < timeout_ms_ * 2 / 3) return 0;
  if (!stale_logged_.exchange(true)) {
    spdlog::error("the mount lease was last renewed {:.1f}s ago (timeout {}s): changes fail with EIO until a "
                  "renewal succeeds", static_cast<double>(age) / 1000.0, lease_.timeout);
  }
  return EIO;
}

qs::Status MountLease::Release() {
  if (fenced()) return qs::Status::OK();
  auto got = store_->LeaseGet();
  if (!got.ok()) return got.status();
  if (got->has_value()) {
    auto held = DecodeLease(**got);
    if (held.ok() && held->id != lease_.id) return qs::Status::OK();  // not ours any more
  }
  return store_->LeaseDel();
}

}  // namespace qsfs
