#include "qsfs/zdb_store.h"

#include <cerrno>
#include <charconv>
#include <thread>

#include <spdlog/spdlog.h>

#include "common/coding.h"
#include "common/service_notify.h"
#include "common/zdb_errors.h"
#include "qsfs/keys.h"

namespace qsfs {

namespace {

constexpr int kAttempts = 3;                 // per call, on transport failures
constexpr size_t kPipelineBytes = 8u << 20;  // bytes of values per pipeline

bool Contains(std::string_view s, std::string_view what) { return s.find(what) != std::string_view::npos; }

// Field of an NSINFO reply ("key: value\n" lines); empty when absent.
std::string InfoField(const std::string& info, std::string_view key) {
  size_t pos = 0;
  while (pos < info.size()) {
    size_t nl = info.find('\n', pos);
    std::string_view line(info.data() + pos, (nl == std::string::npos ? info.size() : nl) - pos);
    pos = nl == std::string::npos ? info.size() : nl + 1;
    if (line.size() > key.size() + 1 && line.substr(0, key.size()) == key && line[key.size()] == ':') {
      std::string_view v = line.substr(key.size() + 1);
      while (!v.empty() && v[0] == ' ') v.remove_prefix(1);
      return std::string(v);
    }
  }
  return "";
}

uint64_t InfoNumber(const std::string& info, std::string_view key) {
  std::string v = InfoField(info, key);
  uint64_t n = 0;
  std::from_chars(v.data(), v.data() + v.size(), n);
  return n;
}

bool StartsWith(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }
// zdb's error replies by their code (common/zdb_errors.h), not their text.
bool Is(const std::string& reply, qs::ZdbError e) { return qs::ParseZdbError(reply) == e; }
constexpr std::string_view kNoToken = "Fenced: this session holds no token";

qs::Status ReplyStatus(const qs::Reply& r) {
  if (r.is_error()) return qs::StatusFromServerError(r.str);
  return qs::Status::OK();
}

}  // namespace


namespace {
// Runtime connections: a few reconnect attempts with back-off, so a zdb
// restart is ridden out while a dead zdb gives EIO within seconds.
qs::ZdbClientOptions RuntimeClientOptions() {
  qs::ZdbClientOptions o;
  o.connect_timeout = std::chrono::milliseconds(3000);
  o.command_timeout = std::chrono::milliseconds(10000);
  o.connect_attempts = 3;
  o.backoff_initial = std::chrono::milliseconds(100);
  o.backoff_max = std::chrono::milliseconds(1000);
  return o;
}
}  // namespace

namespace {
// The reason of a failed connect without the client's "zdb ADDR: connect: ".
std::string ConnectReason(const qs::Status& s) {
  const std::string& m = s.message();
  size_t at = m.rfind("connect: ");
  return at == std::string::npos ? m : m.substr(at + 9);
}
}  // namespace

qs::Status ZdbStore::WaitForZdb(qs::ZdbClient& client, int wait_seconds) {
  using Clock = std::chrono::steady_clock;
  const std::string where = client.address().ToString();
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::seconds(wait_seconds);
  auto backoff = std::chrono::milliseconds(100);
  auto next_log = start;
  std::string last_reason;
  for (;;) {
    qs::Status s = client.Connect();
    if (s.ok()) {
      if (!last_reason.empty()) {
        spdlog::info("zdb at {} answers after {} s", where,
                     std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - start).count());
      }
      return s;
    }
    if (s.code() != qs::Status::Code::kUnavailable) return s;  // not a matter of time
    auto now = Clock::now();
    const int64_t waited = std::chrono::duration_cast<std::chrono::seconds>(now - start).count();
    if (now >= deadline) {
      if (wait_seconds == 0) return qs::Status::Unavailable("cannot reach zdb at " + where + ": " + ConnectReason(s));
      return qs::Status::Unavailable("cannot reach zdb at " + where + ": " + ConnectReason(s) + " (waited " +
                                     std::to_string(waited) + " s; wait=SECONDS sets how long)");
    }
    std::string reason = ConnectReason(s);
    // A line at the first failure, every 10 s after, and when the reason changes.
    if (now >= next_log || reason != last_reason) {
      std::string line = fmt::format("waiting for zdb at {}: {}; {} s of {}", where, reason, waited, wait_seconds);
      spdlog::warn("{}", line);
      qs::NotifyStatus(line);  // systemctl status qsfs@NAME shows it
      next_log = now + std::chrono::seconds(10);
    }
    last_reason = reason;
    std::this_thread::sleep_for(std::min<Clock::duration>(backoff, deadline - now));
    backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
  }
}

ZdbStore::ZdbStore(const Options& options, qs::ZdbAddress base, qs::ZdbAddress meta, qs::ZdbAddress data)
    : options_(options),
      meta_(std::move(meta), RuntimeClientOptions()),
      data_(std::move(data), RuntimeClientOptions()),
      admin_(std::move(base), RuntimeClientOptions()),
      lease_(meta_.address(), RuntimeClientOptions()) {}

qs::Result<std::unique_ptr<ZdbStore>> ZdbStore::Open(const Options& o) {
  qs::ZdbAddress base;
  base.host = o.host;
  base.port = o.port;
  base.unix_path = o.unix_path;
  std::string where = base.ToString();

  // First contact: one attempt at a time, so a wrong address fails at once
  // with wait=0 and each try of the wait is logged.
  qs::ZdbClientOptions fast;
  fast.connect_attempts = 1;
  fast.connect_timeout = std::chrono::milliseconds(3000);
  fast.command_timeout = std::chrono::milliseconds(10000);
  qs::ZdbClient setup(base, fast);
  qs::Status s = WaitForZdb(setup, o.wait_seconds);
  if (!s.ok()) return s;
  if (!o.admin_password.empty()) {
    s = setup.Auth(o.admin_password);
    if (!s.ok()) return qs::Status::PermissionDenied("zdb at " + where + " refused the admin password: " + s.message());
  }

  struct Want {
    const std::string& ns;
    const std::string& password;
    bool sequential;
  };
  for (const Want& w : {Want{o.meta_ns, o.meta_password, false}, Want{o.data_ns, o.data_password, true}}) {
    auto info = setup.Command({"NSINFO", w.ns});
    if (!info.ok()) return qs::Status::Unavailable("zdb at " + where + ": " + info.status().message());
    if (info->is_error()) {
      if (!Is(info->str, qs::ZdbError::kNamespaceNotFound)) {
        return qs::Status::IOError("zdb at " + where + ": NSINFO " + w.ns + ": " + info->str);
      }
      if (!o.create_namespaces) {
        return qs::Status::NotFound("namespace '" + w.ns + "' does not exist on zdb at " + where +
                                    " (and nocreate was given)");
      }
      std::vector<std::vector<std::string_view>> cmds = {{"NSNEW", w.ns}};
      if (w.sequential) cmds.push_back({"NSSET", w.ns, "mode", "seq"});
      if (!w.password.empty()) {
        cmds.push_back({"NSSET", w.ns, "password", w.password});
        cmds.push_back({"NSSET", w.ns, "public", "0"});
      }
      for (const auto& c : cmds) {
        auto r = setup.Command(c);
        if (!r.ok()) return qs::Status::Unavailable("zdb at " + where + ": " + r.status().message());
        if (r->is_error()) {
          return qs::Status::PermissionDenied("cannot create namespace '" + w.ns + "' on zdb at " + where + " (" +
                                              std::string(c[0]) + ": " + r->str +
                                              "); give admin_password= or create it yourself");
        }
      }
      spdlog::info("created namespace {} ({} mode) on {}", w.ns, w.sequential ? "seq" : "user", where);
      info = setup.Command({"NSINFO", w.ns});
      if (!info.ok() || info->is_error()) return qs::Status::IOError("NSINFO " + w.ns + " failed after NSNEW");
    }
    std::string mode = InfoField(info->str, "mode");
    if (w.sequential && mode != "sequential") {
      return qs::Status::InvalidArgument("namespace '" + w.ns + "' on " + where + " is in " + mode +
                                         " mode; the data namespace must be sequential (NSSET " + w.ns +
                                         " mode seq)");
    }
    if (!w.sequential && mode != "userkey") {
      return qs::Status::InvalidArgument("namespace '" + w.ns + "' on " + where + " is in " + mode +
                                         " mode; the metadata namespace must be in user mode");
    }
  }

  qs::ZdbAddress meta = base;
  meta.ns = o.meta_ns;
  meta.password = o.meta_password;
  qs::ZdbAddress data = base;
  data.ns = o.data_ns;
  data.password = o.data_password;
  std::unique_ptr<ZdbStore> store(new ZdbStore(o, base, meta, data));
  for (qs::ZdbClient* c : {&store->meta_, &store->data_}) {
    s = c->Connect();
    if (!s.ok()) {
      return qs::Status::PermissionDenied("cannot use namespace '" + c->address().ns + "' on " + where + ": " +
                                          s.message());
    }
    // A namespace opened read-only (public, wrong or no password) fails on
    // the first write; find out now.
    auto probe = c->Command({"DBSIZE"});
    if (!probe.ok() || probe->is_error()) {
      return qs::Status::IOError("namespace '" + c->address().ns + "' on " + where + " is not usable");
    }
  }
  return store;
}

template <typename Fn>
auto ZdbStore::Retry(qs::ZdbClient& client, Fn fn) -> decltype(fn(client)) {
  for (int attempt = 1;; attempt++) {
    if (FsMetrics* m = metrics_.load()) m->ZdbRoundTrip(client.address().ns == options_.data_ns);
    auto r = fn(client);
    if (r.ok() || r.status().code() != qs::Status::Code::kUnavailable || attempt >= kAttempts) return r;
    spdlog::warn("zdb {} ({}): {}; retrying", client.address().ToString(), client.address().ns,
                 r.status().message());
  }
}

qs::Result<std::vector<qs::Reply>> ZdbStore::Pipeline(qs::ZdbClient& client,
                                                   const std::vector<std::vector<std::string_view>>& cmds) {
  return Retry(client, [&](qs::ZdbClient& c) { return c.Pipeline(cmds); });
}

qs::Result<std::optional<std::string>> ZdbStore::MetaGet(const std::string& key) {
  return Retry(meta_, [&](qs::ZdbClient& c) { return c.Get(key); });
}

qs::Result<std::vector<std::optional<std::string>>> ZdbStore::MetaGetMany(const std::vector<std::string>& keys) {
  std::vector<std::optional<std::string>> out;
  out.reserve(keys.size());
  constexpr size_t kGroup = 512;
  for (size_t start = 0; start < keys.size(); start += kGroup) {
    std::vector<std::vector<std::string_view>> cmds;
    for (size_t i = start; i < std::min(keys.size(), start + kGroup); i++) cmds.push_back({"GET", keys[i]});
    auto replies = Pipeline(meta_, cmds);
    if (!replies.ok()) return replies.status();
    for (qs::Reply& r : *replies) {
      if (r.is_error()) return qs::StatusFromServerError(r.str);
      if (r.is_nil()) out.push_back(std::nullopt);
      else out.push_back(std::move(r.str));
    }
  }
  return out;
}

qs::Status ZdbStore::MetaSet(const std::string& key, std::string_view value) {
  MetaBatch b;
  b.Set(key, std::string(value));
  return Apply(b);
}

qs::Status ZdbStore::MetaDel(const std::string& key) {
  MetaBatch b;
  b.Del(key);
  return Apply(b);
}

qs::Status ZdbStore::Apply(const MetaBatch& batch) {
  size_t start = 0;
  while (start < batch.ops().size()) {
    std::vector<std::vector<std::string_view>> cmds;
    size_t bytes = 0;
    size_t end = start;
    while (end < batch.ops().size() && (end == start || bytes < kPipelineBytes)) {
      const MetaBatch::Op& op = batch.ops()[end];
      if (op.del) cmds.push_back({"DEL", op.key});
      else cmds.push_back({"SET", op.key, op.value});
      bytes += op.value.size() + op.key.size();
      end++;
    }
    auto replies = WritePipeline(meta_, cmds);
    if (!replies.ok()) return replies.status();
    for (size_t i = 0; i < replies->size(); i++) {
      const qs::Reply& r = (*replies)[i];
      if (!r.is_error()) continue;
      if (batch.ops()[start + i].del && Is(r.str, qs::ZdbError::kKeyNotFound)) continue;
      return qs::StatusFromServerError(r.str);
    }
    start = end;
  }
  return qs::Status::OK();
}

std::vector<std::optional<uint64_t>> ZdbStore::DataWrite(const std::vector<BlockWrite>& writes, qs::Status* failed) {
  std::vector<std::optional<uint64_t>> ids(writes.size());
  *failed = qs::Status::OK();
  size_t start = 0;
  while (start < writes.size()) {
    std::vector<std::string> keys;
    size_t end = start;
    size_t bytes = 0;
    while (end < writes.size() && (end == start || bytes < kPipelineBytes)) {
      keys.push_back(writes[end].id ? DataKey(*writes[end].id) : std::string());
      bytes += writes[end].data.size();
      end++;
    }
    std::vector<std::vector<std::string_view>> cmds;
    for (size_t i = start; i < end; i++) cmds.push_back({"SET", keys[i - start], writes[i].data});
    auto replies = WritePipeline(data_, cmds);
    if (!replies.ok()) {
      *failed = replies.status();
      return ids;
    }
    for (size_t i = start; i < end; i++) {
      const qs::Reply& r = (*replies)[i - start];
      if (r.is_error()) {
        *failed = qs::StatusFromServerError(r.str);
        return ids;
      }
      if (r.is_nil() && writes[i].id) {
        ids[i] = writes[i].id;
      } else if (r.is_string() && r.str.size() == 8) {
        ids[i] = qs::DecodeFixed64(r.str.data());
      } else {
        *failed = qs::Status::IOError("zdb: unexpected reply to SET in " + options_.data_ns + ": " + r.DebugString());
        return ids;
      }
    }
    start = end;
  }
  return ids;
}

std::unique_ptr<qs::ZdbClient> ZdbStore::TakeReader(bool meta) {
  {
    qs::MutexLock lock(&readers_mu_);
    auto& pool = meta ? meta_readers_ : readers_;
    if (!pool.empty()) {
      auto c = std::move(pool.back());
      pool.pop_back();
      return c;
    }
  }
  return std::make_unique<qs::ZdbClient>(meta ? meta_.address() : data_.address(), RuntimeClientOptions());
}

void ZdbStore::ReturnReader(bool meta, std::unique_ptr<qs::ZdbClient> c) {
  qs::MutexLock lock(&readers_mu_);
  auto& pool = meta ? meta_readers_ : readers_;
  if (pool.size() < options_.max_threads) pool.push_back(std::move(c));
}

qs::Result<std::optional<std::string>> ZdbStore::MetaRead(const std::string& key) {
  std::unique_ptr<qs::ZdbClient> reader = TakeReader(true);
  auto got = Retry(*reader, [&](qs::ZdbClient& c) { return c.Get(key); });
  // After a transport failure the connection may be mid-reply: dropped.
  if (got.ok() || got.status().code() != qs::Status::Code::kUnavailable) ReturnReader(true, std::move(reader));
  return got;
}

qs::Result<std::vector<std::optional<std::string>>> ZdbStore::DataGetMany(const std::vector<uint64_t>& ids) {
  std::unique_ptr<qs::ZdbClient> reader = TakeReader(false);
  std::vector<std::optional<std::string>> out;
  out.reserve(ids.size());
  constexpr size_t kGroup = 16;
  for (size_t start = 0; start < ids.size(); start += kGroup) {
    std::vector<std::string> keys;
    for (size_t i = start; i < std::min(ids.size(), start + kGroup); i++) keys.push_back(DataKey(ids[i]));
    std::vector<std::vector<std::string_view>> cmds;
    for (const std::string& k : keys) cmds.push_back({"GET", k});
    auto replies = Pipeline(*reader, cmds);
    if (!replies.ok()) return replies.status();  // the connection may be mid-reply: dropped
    for (qs::Reply& r : *replies) {
      if (r.is_error()) {
        ReturnReader(false, std::move(reader));
        return qs::StatusFromServerError(r.str);
      }
      if (r.is_nil()) out.push_back(std::nullopt);
      else out.push_back(std::move(r.str));
    }
  }
  ReturnReader(false, std::move(reader));
  return out;
}

qs::Status ZdbStore::DataDelMany(const std::vector<uint64_t>& ids) {
  constexpr size_t kGroup = 512;
  for (size_t start = 0; start < ids.size(); start += kGroup) {
    std::vector<std::string> keys;
    for (size_t i = start; i < std::min(ids.size(), start + kGroup); i++) keys.push_back(DataKey(ids[i]));
    std::vector<std::vector<std::string_view>> cmds;
    for (const std::string& k : keys) cmds.push_back({"DEL", k});
    auto replies = WritePipeline(data_, cmds);
    if (!replies.ok()) return replies.status();
    for (const qs::Reply& r : *replies) {
      if (r.is_error() && !Is(r.str, qs::ZdbError::kKeyNotFound)) return qs::StatusFromServerError(r.str);
    }
  }
  return qs::Status::OK();
}

qs::Status ZdbStore::Scan(qs::ZdbClient& client, const std::function<void(const std::string& key)>& fn) {
  std::string cursor;
  for (;;) {
    std::vector<std::string_view> cmd = {"SCAN"};
    if (!cursor.empty()) cmd.push_back(cursor);
    auto r = Retry(client, [&](qs::ZdbClient& c) { return c.Command(cmd); });
    if (!r.ok()) return r.status();
    if (r->is_error()) {
      if (Is(r->str, qs::ZdbError::kNoMoreData)) return qs::Status::OK();
      return qs::StatusFromServerError(r->str);
    }
    if (!r->is_array() || r->elements.size() != 2 || !r->elements[0].is_string() || !r->elements[1].is_array())
      return qs::Status::Corruption("zdb SCAN: unexpected reply " + r->DebugString().substr(0, 200));
    for (const qs::Reply& e : r->elements[1].elements) {
      if (!e.is_array() || e.elements.empty() || !e.elements[0].is_string())
        return qs::Status::Corruption("zdb SCAN: unexpected entry " + e.DebugString().substr(0, 200));
      fn(e.elements[0].str);
    }
    if (r->elements[0].str == cursor) return qs::Status::Corruption("zdb SCAN: the cursor did not move");
    cursor = r->elements[0].str;
  }
}

qs::Status ZdbStore::MetaScan(const std::function<void(const std::string& key)>& fn) { return Scan(meta_, fn); }

qs::Status ZdbStore::DataScan(const std::function<void(uint64_t id)>& fn) {
  return Scan(data_, [&](const std::string& key) {
    if (key.size() == 8) fn(qs::DecodeFixed64(key.data()));
  });
}

qs::Result<std::vector<qs::Reply>> ZdbStore::WritePipeline(qs::ZdbClient& client,
                                                        const std::vector<std::vector<std::string_view>>& cmds) {
  auto replies = Pipeline(client, cmds);
  if (!replies.ok() || token_ == 0) return replies;
  for (size_t i = 0; i < replies->size(); i++) {
    const qs::Reply& r = (*replies)[i];
    if (!r.is_error() || !StartsWith(r.str, kNoToken)) continue;
    // A new connection (the client reconnected): what it refused did not
    // run, what came before did. Fence it and send the rest again, once.
    QS_RETURN_IF_ERROR(FenceOn(client));
    std::vector<std::vector<std::string_view>> rest(cmds.begin() + static_cast<std::ptrdiff_t>(i), cmds.end());
    auto again = Pipeline(client, rest);
    if (!again.ok()) return again.status();
    for (size_t j = 0; j < again->size(); j++) (*replies)[i + j] = std::move((*again)[j]);
    break;
  }
  for (const qs::Reply& r : *replies) {
    if (r.is_error() && Is(r.str, qs::ZdbError::kFenced) && !fenced_.exchange(true)) {
      spdlog::error("zdb refused a write to {}: {}", client.address().ns, r.str);
    }
  }
  return replies;
}

qs::Status ZdbStore::FenceOn(qs::ZdbClient& client) {
  const std::string token = std::to_string(token_);
  auto r = Retry(client, [&](qs::ZdbClient& c) { return c.Command({"FENCE", token}); });
  if (!r.ok()) return r.status();
  if (r->is_error()) {
    if (Is(r->str, qs::ZdbError::kFenced) && !fenced_.exchange(true)) {
      spdlog::error("zdb refused FENCE {} on {}: {}", token, client.address().ns, r->str);
    }
    return qs::Status::IOError("FENCE on " + client.address().ns + ": " + r->str);
  }
  return qs::Status::OK();
}

qs::Status ZdbStore::Fence(uint64_t token) {
  token_ = token;
  for (qs::ZdbClient* c : {&meta_, &data_, &lease_}) {
    qs::Status s = FenceOn(*c);
    if (!s.ok() && Contains(s.message(), "Command not supported")) {
      spdlog::warn("zdb at {} has no FENCE: a mount that lost its lease stops by itself, zdb does not refuse it",
                   c->address().ToString());
      token_ = 0;
      return qs::Status::OK();
    }
    QS_RETURN_IF_ERROR(s);
  }
  return qs::Status::OK();
}

qs::Result<std::optional<std::string>> ZdbStore::LeaseGet() {
  return Retry(lease_, [&](qs::ZdbClient& c) { return c.Get(kLeaseKey); });
}

qs::Status ZdbStore::LeaseSet(std::string_view record) {
  auto r = WritePipeline(lease_, {{"SET", kLeaseKey, record}});
  if (!r.ok()) return r.status();
  return ReplyStatus(r->at(0));
}

qs::Status ZdbStore::LeaseDel() {
  auto r = WritePipeline(lease_, {{"DEL", kLeaseKey}});
  if (!r.ok()) return r.status();
  if (r->at(0).is_error() && Is(r->at(0).str, qs::ZdbError::kKeyNotFound)) return qs::Status::OK();
  return ReplyStatus(r->at(0));
}

qs::Result<uint64_t> ZdbStore::CurrentFence() {
  uint64_t fence = 0;
  for (const std::string& ns : {options_.meta_ns, options_.data_ns}) {
    auto info = NsInfo(ns);
    if (!info.ok()) return info.status();
    fence = std::max(fence, InfoNumber(*info, "fence"));
  }
  return fence;
}

qs::Status ZdbStore::Sync() {
  for (qs::ZdbClient* c : {&data_, &meta_}) {
    auto r = Retry(*c, [](qs::ZdbClient& cl) { return cl.Command({"FSYNC"}); });
    if (!r.ok()) return r.status();
    QS_RETURN_IF_ERROR(ReplyStatus(*r));
  }
  return qs::Status::OK();
}

qs::Result<std::string> ZdbStore::NsInfo(const std::string& ns) {
  auto r = Retry(admin_, [&](qs::ZdbClient& c) { return c.Command({"NSINFO", ns}); });
  if (!r.ok()) return r.status();
  if (r->is_error()) return qs::StatusFromServerError(r->str);
  return r->str;
}

qs::Result<SpaceInfo> ZdbStore::Space() {
  auto data = NsInfo(options_.data_ns);
  if (!data.ok()) return data.status();
  auto meta = NsInfo(options_.meta_ns);
  if (!meta.ok()) return meta.status();
  SpaceInfo s;
  s.data_used = InfoNumber(*data, "data_size_bytes") + InfoNumber(*meta, "data_size_bytes");
  s.data_limit = InfoNumber(*data, "data_limits_bytes");
  s.disk_free = InfoNumber(*data, "data_disk_freespace_bytes");
  s.entries = InfoNumber(*meta, "entries");
  return s;
}

}  // namespace qsfs
