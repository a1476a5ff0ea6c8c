#include "zstor/fragment_sweep.h"

#include <dirent.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "common/coding.h"
#include "common/crc32c.h"
#include "zstor/crypto.h"
#include "zstor/erasure_coder.h"
#include "zstor/metadata.h"
#include "zstor/object_store.h"

namespace zstor {

using qs::Result;
using qs::Status;

namespace {

// (pool index of the data backend, zdb key)
using Marks = std::set<std::pair<size_t, std::string>>;

bool GetBytes(const std::string& s, size_t* pos, std::string* out) {
  if (s.size() - *pos < 4) return false;
  uint32_t n = qs::DecodeFixed32(s.data() + *pos);
  if (s.size() - *pos - 4 < n) return false;
  out->assign(s, *pos + 4, n);
  *pos += 4 + n;
  return true;
}

// Every Fragment record of every intent in dir (docs/zstor-journal.md):
// live stores and dead ones alike; the journal's reclaim decides on them.
Status MarkIntents(const std::string& dir, BackendPool& pool, Marks* marks, size_t* named) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) {
    if (errno == ENOENT) return Status::OK();  // no store ever ran
    return Status::FromErrno(errno, "open journal directory " + dir);
  }
  std::vector<std::string> files;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name.size() > 7 && name.compare(name.size() - 7, 7, ".intent") == 0) files.push_back(dir + "/" + name);
  }
  closedir(d);
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    if (!in) {
      if (errno == ENOENT) continue;  // finished meanwhile: its record is read after this
      return Status::FromErrno(errno, "read intent " + f);
    }
    std::stringstream ss;
    ss << in.rdbuf();
    std::string bytes = ss.str();
    size_t pos = 0;
    while (bytes.size() - pos >= 9) {  // up to the first torn or corrupt record
      uint32_t len = qs::DecodeFixed32(bytes.data() + pos);
      if (len > (1u << 20) || bytes.size() - pos - 4 < static_cast<size_t>(len) + 5) break;
      const char* rec = bytes.data() + pos + 4;
      if (qs::Crc32c(0, rec, 1 + len) != qs::DecodeFixed32(rec + 1 + len)) break;
      if (rec[0] == 2) {  // Fragment: address, namespace, key
        std::string body(rec + 1, len), address, ns, key;
        size_t p = 0;
        if (GetBytes(body, &p, &address) && GetBytes(body, &p, &ns) && GetBytes(body, &p, &key)) {
          int idx = pool.Find(address, ns);
          if (idx >= 0 && marks->emplace(static_cast<size_t>(idx), key).second) ++*named;
        }
      }
      pos += 4 + 1 + len + 4;
    }
  }
  return Status::OK();
}

// Marks the fragments of m; *count grows by the pairs new to marks.
void MarkRecord(const ObjectMeta& m, BackendPool& pool, Marks* marks, size_t* count) {
  std::vector<int> index(m.backends.size());
  for (size_t i = 0; i < m.backends.size(); ++i) index[i] = pool.Find(m.backends[i].address, m.backends[i].ns);
  for (const auto& c : m.chunks)
    for (const auto& f : c.fragments) {
      if (f.backend >= index.size() || index[f.backend] < 0) continue;  // not configured here: not swept
      if (marks->emplace(static_cast<size_t>(index[f.backend]), f.key).second) ++*count;
    }
}

// Every generation of the record at path that any reader could still get
// (docs/zstor-metadata.md, "Reading a record"): each generation with at
// least k shards on the meta backends. The newest is in List's answer; an
// older one is read when a newer one cannot be decoded from the answers a
// reader gets, so its fragments are live too. Every meta backend must
// answer: one that does not may hold shards of an older generation.
Status MarkGenerations(ObjectStore* store, const std::string& path, const ErasureCoder& coder, Marks* marks,
                       size_t* count) {
  const MetaConfig& mc = store->config().meta;
  Digest d = Sha256(path);
  std::string key = mc.prefix + ":" + ToHex(std::string_view(reinterpret_cast<const char*>(d.data()), d.size()));
  struct Shard {
    uint8_t index;
    uint32_t payload_len;
    std::string bytes;
  };
  std::map<uint64_t, std::vector<Shard>> generations;
  BackendPool& meta = store->meta().backends();
  size_t n = std::min(static_cast<size_t>(coder.k() + coder.m()), meta.size());
  for (size_t i = 0; i < n; ++i) {
    Backend& b = meta.at(i);
    auto v = b.healthy() ? b.Get(key) : Result<std::string>(Status::Unavailable("down"));
    if (!v.ok() && v.status().IsNotFound()) continue;
    if (!v.ok()) return Status::Unavailable("meta backend " + b.name() + " did not answer for " + path + ": " + v.status().message());
    // Shard value header (docs/zstor-metadata.md, "Shard value"): magic,
    // version, k, m, index, generation, payload length, SHA-256, shard.
    const std::string& s = *v;
    if (s.size() < 52 || s.compare(0, 4, "ZSMS") != 0 || s[4] != 1 || static_cast<uint8_t>(s[5]) != coder.k() ||
        static_cast<uint8_t>(s[6]) != coder.m() || static_cast<uint8_t>(s[7]) >= n)
      continue;  // not a shard a reader of this configuration decodes
    Digest sum = Sha256(std::string_view(s).substr(52));
    if (std::memcmp(sum.data(), s.data() + 20, 32) != 0) continue;
    generations[qs::DecodeFixed64(s.data() + 8)].push_back(
        Shard{static_cast<uint8_t>(s[7]), qs::DecodeFixed32(s.data() + 16), s.substr(52)});
  }
  for (auto& [gen, shards] : generations) {
    if (static_cast<int>(shards.size()) < coder.k()) continue;  // no reader can decode it
    std::vector<std::string> parts(static_cast<size_t>(coder.k() + coder.m()));
    std::vector<bool> present(parts.size(), false);
    for (auto& sh : shards) {
      if (sh.bytes.size() != shards.front().bytes.size()) continue;
      parts[sh.index] = sh.bytes;
      present[sh.index] = true;
    }
    std::string payload, record;
    if (!coder.Decode(parts, present, shards.front().payload_len, &payload).ok() || payload.size() < kNonceSize)
      continue;  // readers cannot decode it either
    std::string aad = "zstor-meta-v1:" + key;
    qs::PutFixed64(&aad, gen);
    Status s = Open(mc.key, payload.substr(0, kNonceSize), aad, payload.substr(kNonceSize), &record);
    for (size_t k = 0; !s.ok() && k < mc.old_keys.size(); ++k)
      if (Open(mc.old_keys[k], payload.substr(0, kNonceSize), aad, payload.substr(kNonceSize), &record).ok()) s = Status::OK();
    if (!s.ok()) return Status::Corruption("generation " + std::to_string(gen) + " of " + path + " cannot be decrypted");
    ObjectMeta m;
    Status ds = DecodeObjectMeta(record, &m);
    if (!ds.ok()) return Status::Corruption("generation " + std::to_string(gen) + " of " + path + ": " + ds.message());
    MarkRecord(m, store->backends(), marks, count);
  }
  return Status::OK();
}

// One backend: SCAN to the end, then DEL the old unmarked keys. Returns
// why it stopped early, OK when scanned to the end.
Status SweepBackend(Backend& b, size_t idx, const Marks& marks, int64_t cutoff, const SweepOptions& o,
                    SweepReport* r) {
  std::vector<std::pair<std::string, uint64_t>> orphans;
  std::string cursor;
  for (;;) {
    std::vector<std::string_view> argv = {"SCAN"};
    if (!cursor.empty()) argv.push_back(cursor);
    auto rep = b.Command(argv);
    if (!rep.ok()) return rep.status();
    if (rep->is_error()) {
      if (rep->str.find("No more data") != std::string::npos) break;
      return Status::IOError("SCAN: " + rep->str);
    }
    if (!rep->is_array() || rep->elements.size() != 2 || !rep->elements[1].is_array())
      return Status::IOError("malformed SCAN reply");
    cursor = rep->elements[0].str;
    for (const auto& item : rep->elements[1].elements) {
      if (item.elements.size() != 3) return Status::IOError("malformed SCAN entry");
      ++r->scanned;
      const std::string& key = item.elements[0].str;
      if (marks.count({idx, key}) != 0) continue;
      if (item.elements[2].integer > cutoff) {
        ++r->young;
        continue;
      }
      orphans.emplace_back(key, static_cast<uint64_t>(item.elements[1].integer));
    }
  }
  ++r->backends;
  for (const auto& [key, size] : orphans) {
    ++r->orphans;
    if (o.dry_run) {
      r->bytes += size;
      continue;
    }
    if (r->deleted >= o.max_deletes) {
      r->complete = false;
      continue;
    }
    Status s = b.Del(key);
    if (!s.ok() && !s.IsNotFound()) return s.WithContext("DEL");
    ++r->deleted;
    r->bytes += size;
  }
  return Status::OK();
}

}  // namespace

Result<SweepReport> SweepFragments(ObjectStore* store, const SweepOptions& o) {
  const Config& cfg = store->config();
  const int64_t start = static_cast<int64_t>(time(nullptr));
  const int64_t cutoff = start - o.min_age_s;
  SweepReport r;
  auto refuse = [](const Status& s) { return s.WithContext("nothing swept"); };
  // Intents first, records second: a store that finishes in between
  // removes its intent only after its record landed, so the list sees it.
  if (cfg.journal_dir.empty())
    return refuse(Status::InvalidArgument(
        "the sweep needs the store journal (config key 'journal_dir'): without it nothing names the fragments of "
        "stores in flight"));
  Marks marks;
  Status s = MarkIntents(cfg.journal_dir, store->backends(), &marks, &r.intent);
  if (!s.ok()) return refuse(s);
  auto list = store->List(/*strict=*/true);
  if (!list.ok()) return refuse(list.status());
  auto coder = ErasureCoder::Create(cfg.meta.minimal_shards, cfg.meta.expected_shards - cfg.meta.minimal_shards);
  if (!coder.ok()) return refuse(coder.status());
  for (const auto& m : *list) {
    ++r.records;
    MarkRecord(m, store->backends(), &marks, &r.referenced);
    s = MarkGenerations(store, m.path, **coder, &marks, &r.referenced);
    if (!s.ok()) return refuse(s);
  }
  spdlog::info("sweep: {} records name {} fragments, intents {} more; sweeping keys older than {} s{}", r.records,
               r.referenced, r.intent, o.min_age_s, o.dry_run ? " (dry run)" : "");
  BackendPool& pool = store->backends();
  for (size_t i = 0; i < pool.size(); ++i) {
    Backend& b = pool.at(i);
    if (!b.healthy()) {
      r.skipped.push_back(b.name() + ": down (" + b.last_error() + ")");
      spdlog::warn("sweep: {} skipped: down", b.name());
      continue;
    }
    size_t deleted = r.deleted, orphans = r.orphans;
    s = SweepBackend(b, i, marks, cutoff, o, &r);
    if (!s.ok()) {
      r.skipped.push_back(b.name() + ": " + s.message());
      spdlog::warn("sweep: {} not swept to the end: {}", b.name(), s.ToString());
    } else if (r.orphans > orphans) {
      spdlog::info("sweep: {}: {} orphan fragments, {} deleted", b.name(), r.orphans - orphans, r.deleted - deleted);
    }
  }
  spdlog::info("sweep: {} keys on {} backends, {} orphans, {} deleted ({} bytes), {} young kept, {} backends skipped{}",
               r.scanned, r.backends, r.orphans, r.deleted, r.bytes, r.young, r.skipped.size(),
               r.complete ? "" : "; bound reached, the next run goes on");
  return r;
}

}  // namespace zstor
