#include "zstor/fragment_sweep.h"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <chrono>
#include <ctime>
#include <map>
#include <set>
#include <thread>

#include "common/zdb_errors.h"
#include "zstor/metadata.h"
#include "zstor/object_store.h"
#include "zstor/store_journal.h"

namespace zstor {

using qs::Result;
using qs::Status;

namespace {

// (pool index of the data backend, zdb key)
using Marks = std::set<std::pair<size_t, std::string>>;

// Every fragment any intent in dir names (docs/zstor-journal.md): live
// stores and dead ones alike; the journal's reclaim decides on them.
Status MarkIntents(const std::string& dir, BackendPool& pool, Marks* marks, size_t* named) {
  return StoreJournal::ForEachFragment(dir, [&](const std::string& address, const std::string& ns, const std::string& key) {
    int idx = pool.Find(address, ns);
    if (idx >= 0 && marks->emplace(static_cast<size_t>(idx), key).second) ++*named;
  });
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
// (MetaStore::Generations): an older one is read when a newer one cannot
// be decoded from the answers a reader gets, so its fragments are live too.
Status MarkGenerations(ObjectStore* store, const std::string& path, Marks* marks, size_t* count) {
  auto gens = store->meta().Generations(path);
  if (!gens.ok()) return gens.status();
  for (const ObjectMeta& m : *gens) MarkRecord(m, store->backends(), marks, count);
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
      if (qs::ParseZdbError(rep->str) == qs::ZdbError::kNoMoreData) break;
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
  SweepReport r;
  auto refuse = [](const Status& s) { return s.WithContext("nothing swept"); };
  if (cfg.journal_dir.empty())
    return refuse(Status::InvalidArgument(
        "the sweep needs the store journal (config key 'journal_dir'): without it nothing names the fragments of "
        "stores in flight"));
  Marks marks;
  int64_t cutoff = 0;
  {
    // No store or rebuild of this ObjectStore runs while the mark is taken:
    // one that ran before has its fragments named by an intent or a record
    // now; one that starts later writes fragments zdb stamps after start,
    // too young to be swept.
    ObjectStore::WritesPaused paused(store);
    const int64_t start = static_cast<int64_t>(time(nullptr));
    cutoff = start - o.min_age_s;
    // Intents first, records second: a store that finishes in between
    // removes its intent only after its record landed, so the list sees it.
    Status s = MarkIntents(cfg.journal_dir, store->backends(), &marks, &r.intent);
    if (!s.ok()) return refuse(s);
    auto list = store->List(/*strict=*/true);
    if (!list.ok()) return refuse(list.status());
    for (const auto& m : *list) {
      ++r.records;
      MarkRecord(m, store->backends(), &marks, &r.referenced);
      s = MarkGenerations(store, m.path, &marks, &r.referenced);
      if (!s.ok()) return refuse(s);
    }
    // zdb stamps in whole seconds: writes resume only once the second of
    // start is over, so each of theirs is stamped later than cutoff.
    while (static_cast<int64_t>(time(nullptr)) <= start) std::this_thread::sleep_for(std::chrono::milliseconds(20));
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
    Status s = SweepBackend(b, i, marks, cutoff, o, &r);
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
