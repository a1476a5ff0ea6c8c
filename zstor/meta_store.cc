#include "zstor/meta_store.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <set>

#include "common/coding.h"
#include "common/zdb_errors.h"

namespace zstor {

using qs::Result;
using qs::Status;

namespace {

constexpr char kShardMagic[4] = {'Z', 'S', 'M', 'S'};
constexpr size_t kShardHeader = 52;

std::string MetaAad(const std::string& storage_key, uint64_t generation) {
  std::string aad = "zstor-meta-v1:" + storage_key;
  qs::PutFixed64(&aad, generation);
  return aad;
}

}  // namespace

bool MetaStore::ParseShard(const std::string& v, ParsedShard* p) {
  if (v.size() < kShardHeader || std::memcmp(v.data(), kShardMagic, 4) != 0 || v[4] != 1) return false;
  p->k = static_cast<uint8_t>(v[5]);
  p->m = static_cast<uint8_t>(v[6]);
  p->index = static_cast<uint8_t>(v[7]);
  p->generation = qs::DecodeFixed64(v.data() + 8);
  p->payload_len = qs::DecodeFixed32(v.data() + 16);
  p->bytes = v.substr(kShardHeader);
  Digest d;
  std::memcpy(d.data(), v.data() + 20, 32);
  return p->k > 0 && p->index < p->k + p->m && Sha256(p->bytes) == d;
}

MetaStore::MetaStore(const MetaConfig& cfg, TaskPool* pool) : cfg_(cfg), pool_(pool) {}

Result<std::unique_ptr<MetaStore>> MetaStore::Create(const MetaConfig& cfg, TaskPool* pool, size_t max_reply_bytes) {
  std::unique_ptr<MetaStore> s(new MetaStore(cfg, pool));
  int n = std::min(cfg.expected_shards, static_cast<int>(cfg.backends.size()));
  if (s->cfg_.write_quorum == 0) s->cfg_.write_quorum = DefaultWriteQuorum(cfg.minimal_shards, n);
  if (s->cfg_.write_quorum < std::min(n, 2 * cfg.minimal_shards - 1) || s->cfg_.write_quorum > n)
    return Status::InvalidArgument("meta write quorum " + std::to_string(s->cfg_.write_quorum) + " is unsafe for " +
                                   std::to_string(cfg.minimal_shards) + " of " + std::to_string(n) + " shards");
  auto coder = ErasureCoder::Create(cfg.minimal_shards, cfg.expected_shards - cfg.minimal_shards);
  if (!coder.ok()) return coder.status();
  s->coder_ = std::move(coder.value());
  s->pool_backends_ = std::make_unique<BackendPool>(cfg.backends, std::chrono::milliseconds(3000), max_reply_bytes);
  return s;
}

std::string MetaStore::StorageKey(const std::string& path) const {
  Digest d = Sha256(path);
  return cfg_.prefix + ":" + ToHex(std::string_view(reinterpret_cast<const char*>(d.data()), d.size()));
}

Status MetaStore::Put(const ObjectMeta& m, int* landed) {
  if (landed != nullptr) *landed = 0;
  std::string key = StorageKey(m.path);
  uint64_t generation = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  std::string nonce = RandomBytes(kNonceSize);
  std::string sealed;
  QS_RETURN_IF_ERROR(Seal(cfg_.key, nonce, MetaAad(key, generation), EncodeObjectMeta(m), &sealed));
  std::string payload = nonce + sealed;
  std::vector<std::string> shards;
  coder_->Encode(payload, &shards);
  size_t n = std::min(shards.size(), pool_backends_->size());
  std::vector<std::future<Status>> writes;
  for (size_t i = 0; i < n; ++i) {
    std::string v(kShardMagic, 4);
    v.push_back(1);
    v.push_back(static_cast<char>(coder_->k()));
    v.push_back(static_cast<char>(coder_->m()));
    v.push_back(static_cast<char>(i));
    qs::PutFixed64(&v, generation);
    qs::PutFixed32(&v, static_cast<uint32_t>(payload.size()));
    Digest d = Sha256(shards[i]);
    v.append(reinterpret_cast<const char*>(d.data()), d.size());
    v += shards[i];
    Backend* b = &pool_backends_->at(i);
    writes.push_back(pool_->Submit([b, key, v = std::move(v)]() -> Status {
      if (!b->healthy()) return Status::Unavailable(b->name() + " is down");
      auto r = b->Set(key, v);
      return r.ok() ? Status::OK() : r.status();
    }));
  }
  int ok = 0;
  Status last;
  for (auto& f : writes) {
    Status s = f.get();
    if (s.ok()) ++ok;
    else last = s;
  }
  if (landed != nullptr) *landed = ok;
  if (ok < cfg_.write_quorum)
    return Status::Unavailable("metadata of " + m.path + " reached " + std::to_string(ok) + " meta backends, " +
                               std::to_string(cfg_.write_quorum) + " needed (write quorum): " + last.ToString());
  if (ok < static_cast<int>(n)) spdlog::warn("metadata of {} written to {} of {} meta backends", m.path, ok, n);
  return Status::OK();
}

Result<ObjectMeta> MetaStore::Get(const std::string& path) { return GetByKey(StorageKey(path)); }

size_t MetaStore::shard_count() const {
  return std::min(static_cast<size_t>(coder_->k() + coder_->m()), pool_backends_->size());
}

int MetaStore::read_quorum() const { return static_cast<int>(shard_count()) - cfg_.write_quorum + 1; }

// Asks the first k + m meta backends (only they are ever written, Put) for
// key. An answer is a valid shard or "not found"; a transport error or an
// invalid shard value says nothing about what the backend holds.
int MetaStore::ReadShards(const std::string& key, ShardsByGeneration* by_generation) {
  size_t n = shard_count();
  std::vector<std::future<Result<std::string>>> reads;
  for (size_t i = 0; i < n; ++i) {
    Backend* b = &pool_backends_->at(i);
    // Record reads are small and someone waits for them (a retrieve, a
    // store deciding what it replaces): the urgent lanes.
    reads.push_back(pool_->SubmitUrgent([b, key]() -> Result<std::string> {
      if (!b->healthy()) return Status::Unavailable(b->name() + " is down");
      return b->Get(key, Backend::Lane::kUrgent);
    }));
  }
  int answers = 0;
  for (auto& f : reads) {
    auto r = f.get();
    if (!r.ok()) {
      if (r.status().IsNotFound()) ++answers;
      continue;
    }
    ParsedShard p;
    if (ParseShard(*r, &p)) {
      ++answers;
      (*by_generation)[p.generation].push_back(std::move(p));
    }
  }
  return answers;
}

// The payload of one generation from its shards; false when they do not
// decode (too few, or of another k + m).
bool MetaStore::DecodeGeneration(const std::vector<ParsedShard>& shards, std::string* payload) const {
  const ParsedShard& first = shards.front();
  if (static_cast<int>(shards.size()) < coder_->k() || first.k != coder_->k() || first.m != coder_->m()) return false;
  std::vector<std::string> parts(static_cast<size_t>(first.k + first.m));
  std::vector<bool> present(parts.size(), false);
  for (auto& sh : shards) {
    if (sh.bytes.size() != first.bytes.size() || sh.k != first.k || sh.m != first.m) continue;
    parts[sh.index] = sh.bytes;
    present[sh.index] = true;
  }
  return coder_->Decode(parts, present, first.payload_len, payload).ok() && payload->size() >= kNonceSize;
}

// Decrypts (current key, then rotated ones) and decodes a decoded payload.
Result<ObjectMeta> MetaStore::OpenGeneration(const std::string& key, uint64_t gen, const std::string& payload) const {
  std::string record;
  Status s = Open(cfg_.key, payload.substr(0, kNonceSize), MetaAad(key, gen), payload.substr(kNonceSize), &record);
  for (size_t k = 0; !s.ok() && s.IsCorruption() && k < cfg_.old_keys.size(); ++k) {  // rotated keys
    if (Open(cfg_.old_keys[k], payload.substr(0, kNonceSize), MetaAad(key, gen), payload.substr(kNonceSize), &record).ok())
      s = Status::OK();
  }
  if (!s.ok()) return Status::Corruption("metadata cannot be decrypted (wrong meta key?): " + s.message());
  ObjectMeta m;
  QS_RETURN_IF_ERROR(DecodeObjectMeta(record, &m));
  return m;
}

Result<std::vector<ObjectMeta>> MetaStore::Generations(const std::string& path) {
  const std::string key = StorageKey(path);
  ShardsByGeneration by_generation;
  int answers = ReadShards(key, &by_generation);
  if (answers < static_cast<int>(shard_count()))
    return Status::Unavailable("metadata of " + path + ": " + std::to_string(answers) + " of " +
                               std::to_string(shard_count()) + " meta backends answered, all needed");
  std::vector<ObjectMeta> out;
  for (auto& [gen, shards] : by_generation) {
    std::string payload;
    if (!DecodeGeneration(shards, &payload)) continue;  // no reader can decode it either
    auto m = OpenGeneration(key, gen, payload);
    if (!m.ok()) return m.status().WithContext("generation " + std::to_string(gen) + " of " + path);
    out.push_back(std::move(*m));
  }
  return out;
}

Result<ObjectMeta> MetaStore::GetByKey(const std::string& key) {
  ShardsByGeneration by_generation;
  const int answers = ReadShards(key, &by_generation);
  const size_t n = shard_count();
  const int quorum = read_quorum();
  if (answers < quorum)
    return Status::Unavailable("metadata unreadable: " + std::to_string(answers) + " of " + std::to_string(n) +
                               " meta backends answered, " + std::to_string(quorum) + " needed (read quorum)");
  // Newest first. A generation that cannot be decoded is skipped only when
  // it cannot have been acknowledged: the backends that may hold it (its
  // shards, the backends holding newer generations, which may have held it
  // before, and those that did not answer) are fewer than the write quorum.
  int newer_holders = 0;
  const int silent = static_cast<int>(n) - answers;
  for (auto& [gen, shards] : by_generation) {
    std::string payload;
    if (!DecodeGeneration(shards, &payload)) {
      int may_hold = static_cast<int>(shards.size()) + newer_holders + silent;
      if (may_hold >= cfg_.write_quorum)
        return Status::Unavailable("metadata unreadable: the newest record seen (generation " + std::to_string(gen) +
                                   ") has " + std::to_string(shards.size()) + " readable shards of " +
                                   std::to_string(coder_->k()) + " needed and may have been acknowledged (" +
                                   std::to_string(silent) + " meta backends did not answer)");
      newer_holders += static_cast<int>(shards.size());
      continue;
    }
    return OpenGeneration(key, gen, payload);
  }
  // Nothing seen, or only writes that never reached the quorum.
  return Status::NotFound("no such object");
}

Status MetaStore::Delete(const std::string& path) {
  std::string key = StorageKey(path);
  std::vector<std::future<Status>> dels;
  for (size_t i = 0; i < pool_backends_->size(); ++i) {
    Backend* b = &pool_backends_->at(i);
    dels.push_back(pool_->Submit([b, key]() -> Status {
      Status s = b->Del(key);
      return s.IsNotFound() ? Status::OK() : s;
    }));
  }
  int ok = 0;
  Status last;
  for (auto& f : dels) {
    Status s = f.get();
    if (s.ok()) ++ok;
    else last = s;
  }
  // Once fewer than k shards remain the record is unreadable: deleted.
  int remaining = static_cast<int>(pool_backends_->size()) - ok;
  if (remaining >= coder_->k()) return Status::Unavailable("metadata delete incomplete: " + last.ToString());
  return Status::OK();
}

Result<std::vector<ObjectMeta>> MetaStore::List(bool strict) {
  std::set<std::string> keys;
  std::string want_prefix = cfg_.prefix + ":";
  int reachable = 0;
  for (size_t i = 0; i < pool_backends_->size(); ++i) {
    Backend& b = pool_backends_->at(i);
    if (!b.healthy()) continue;
    std::string cursor;
    bool ok = true;
    for (;;) {
      std::vector<std::string_view> argv = {"SCAN"};
      if (!cursor.empty()) argv.push_back(cursor);
      auto r = b.Command(argv);
      if (!r.ok()) {
        ok = false;
        break;
      }
      if (r->is_error()) {
        // The end of the scan; any other error leaves this backend's keys
        // unknown, so it does not count toward the listing.
        if (qs::ParseZdbError(r->str) != qs::ZdbError::kNoMoreData) ok = false;
        break;
      }
      if (!r->is_array() || r->elements.size() != 2) {
        ok = false;
        break;
      }
      cursor = r->elements[0].str;
      for (const auto& item : r->elements[1].elements) {
        if (!item.elements.empty() && item.elements[0].str.rfind(want_prefix, 0) == 0) keys.insert(item.elements[0].str);
      }
    }
    if (ok) ++reachable;
  }
  if (reachable < coder_->k()) return Status::Unavailable("too few meta backends reachable to list objects");
  std::vector<ObjectMeta> out;
  size_t unreadable = 0;
  Status first;
  for (const auto& k : keys) {
    auto m = GetByKey(k);
    if (m.ok()) {
      out.push_back(std::move(m.value()));
    } else if (!m.status().IsNotFound()) {
      spdlog::warn("metadata {} unreadable: {}", k, m.status().ToString());
      if (unreadable++ == 0) first = m.status();
    }
  }
  if (strict && unreadable > 0) {
    std::string msg = std::to_string(unreadable) + " of " + std::to_string(keys.size()) +
                      " object records unreadable, first: " + first.message();
    return first.IsCorruption() ? Status::Corruption(msg) : Status::Unavailable(msg);
  }
  std::sort(out.begin(), out.end(), [](const ObjectMeta& a, const ObjectMeta& b) { return a.path < b.path; });
  return out;
}

}  // namespace zstor
