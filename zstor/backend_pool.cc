#include "zstor/backend_pool.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>

namespace zstor {

using qs::Result;
using qs::Status;

namespace {
constexpr int64_t kCooldownMs = 10000;
constexpr int kRequestTimeouts = 10;  // a request's total deadline, in per-wait timeouts

int64_t NowMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

int64_t WallMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

qs::ZdbClientOptions ClientOptions(std::chrono::milliseconds timeout, size_t max_reply_bytes) {
  qs::ZdbClientOptions o;
  o.connect_timeout = timeout;
  o.command_timeout = timeout;
  // However a backend paces its bytes, one request ends within this.
  o.request_timeout = timeout * kRequestTimeouts;
  o.max_reply_bytes = max_reply_bytes;
  o.connect_attempts = 1;  // a dead backend is skipped, not waited for
  return o;
}
}  // namespace

Backend::Backend(BackendConfig cfg, std::chrono::milliseconds timeout, size_t max_reply_bytes)
    : cfg_(std::move(cfg)),
      bulk_(cfg_.address, ClientOptions(timeout, max_reply_bytes)),
      urgent_(cfg_.address, ClientOptions(timeout, max_reply_bytes)) {}

bool Backend::healthy() const { return NowMs() >= down_until_ms_.load(); }

void Backend::MarkDown(const Status& why) {
  if (healthy()) spdlog::warn("backend {} is down: {}", name(), why.ToString());
  down_until_ms_ = NowMs() + kCooldownMs;
  int64_t zero = 0;
  down_since_ms_.compare_exchange_strong(zero, WallMs());
  qs::MutexLock lock(&error_mu_);
  last_error_ = why.ToString();
}

void Backend::MarkUp() {
  if (!healthy() || down_since_ms_ != 0) spdlog::info("backend {} is back", name());
  down_until_ms_ = 0;
  down_since_ms_ = 0;
}

std::string Backend::last_error() const {
  qs::MutexLock lock(&error_mu_);
  return last_error_;
}

Status Backend::Track(const Status& s) {
  if (!s.ok()) {
    ++errors_;
    if (s.code() == Status::Code::kUnavailable) MarkDown(s);
  }
  return s;
}

Result<std::string> Backend::Set(std::string_view key, std::string_view value) {
  qs::MutexLock lock(&bulk_.mu);
  auto r = bulk_.client.Set(key, value);
  if (!r.ok()) Track(r.status());
  return r;
}

Result<std::string> Backend::Get(std::string_view key, Lane lane) {
  Connection& c = lane == Lane::kUrgent ? urgent_ : bulk_;
  qs::MutexLock lock(&c.mu);
  auto r = c.client.Get(key);
  if (!r.ok()) {
    Track(r.status());
    return r.status();
  }
  if (!r->has_value()) return Status::NotFound("key not found on " + cfg_.Name());
  return std::move(**r);
}

Status Backend::Del(std::string_view key) {
  qs::MutexLock lock(&bulk_.mu);
  return Track(bulk_.client.Del(key));
}

Result<std::string> Backend::Prove(std::string_view key, std::string_view nonce) {
  auto r = Command({"PROVE", key, nonce});
  if (!r.ok()) return r.status();
  if (r->is_nil()) return Status::NotFound("key not found on " + cfg_.Name());
  // A 0-db without PROVE (zdb-protocol.md, "Differences from 0-db") proves
  // nothing either way; any other error is zdb's own checksum failing.
  if (r->is_error() && qs::ParseZdbError(r->str) == qs::ZdbError::kCommandNotSupported) return Status::NotSupported("PROVE on " + cfg_.Name() + ": " + r->str);
  if (r->is_error()) return Status::Corruption("PROVE on " + cfg_.Name() + ": " + r->str);
  if (!r->is_string()) return Status::IOError("PROVE: unexpected reply");
  return r->str;
}

Result<qs::Reply> Backend::Command(const std::vector<std::string_view>& argv) {
  qs::MutexLock lock(&bulk_.mu);
  auto r = bulk_.client.Command(argv);
  if (!r.ok()) Track(r.status());
  return r;
}

bool Backend::RefreshSpace() {
  auto r = Command({"NSINFO", cfg_.address.ns.empty() ? std::string_view("default") : std::string_view(cfg_.address.ns)});
  if (!r.ok() || !r->is_string()) return false;
  // "key: value" lines; a namespace limit wins over the disk's free space.
  auto field = [&](std::string_view key) -> int64_t {
    std::string needle(1, '\n');
    needle.append(key).append(": ");
    size_t p = r->str.find(needle);
    if (p == std::string::npos) return -1;
    return std::strtoll(r->str.c_str() + p + needle.size(), nullptr, 10);
  };
  int64_t ns_space = field("space_available");
  int64_t disk = field("data_disk_freespace_bytes");
  free_bytes_ = ns_space >= 0 ? (disk >= 0 ? std::min(ns_space, disk) : ns_space) : disk;
  entries_ = field("entries");
  used_bytes_ = field("data_size_bytes");
  return true;
}

BackendPool::BackendPool(const std::vector<BackendConfig>& configs, std::chrono::milliseconds timeout,
                         size_t max_reply_bytes) {
  for (const auto& c : configs) backends_.push_back(std::make_unique<Backend>(c, timeout, max_reply_bytes));
}

size_t MaxDataReply(const Config& cfg) {
  return cfg.chunk_size / static_cast<uint64_t>(std::max(cfg.minimal_shards, 1)) + (size_t{2} << 20);
}

size_t MaxMetaReply() { return size_t{64} << 20; }

int BackendPool::Find(const std::string& address, const std::string& ns) const {
  for (size_t i = 0; i < backends_.size(); ++i) {
    const auto& a = backends_[i]->config().address;
    if (a.ToString() == address && a.ns == ns) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace zstor
