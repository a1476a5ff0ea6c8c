// The fragment sweep (docs/zstor-metadata.md, "Fragment sweep"): a
// mark-and-sweep of the data backends that deletes every fragment no
// object record names, whatever left it behind (a store killed before its
// journal named the fragment, a rebuild whose record write failed, an
// intent overtaken by a newer store). The store journal frees the orphans
// of dead stores within a repair interval; the sweep catches the rest.
//
// Mark: the intents in journal_dir, then every object record (strict: one
// unreadable record, or a record whose meta backends hold shards of more
// than one generation, and nothing is deleted). Sweep: SCAN each healthy
// data backend and DEL the keys neither names that zdb stamped more than
// min_age seconds before the sweep began. Stores and rebuilds of the same
// ObjectStore wait while the mark is taken (ObjectStore::WritesPaused);
// everything else, and the sweep phase, runs beside them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace zstor {

class ObjectStore;

struct SweepOptions {
  int64_t min_age_s = 3600;    // keep keys younger than this (seconds before the start)
  bool dry_run = false;        // count only, delete nothing
  uint64_t max_deletes = 1000000;  // bound of one run; the next run goes on
};

struct SweepReport {
  size_t records = 0;         // object records read
  size_t referenced = 0;      // (backend, key) pairs the records name
  size_t intent = 0;          // keys kept because an intent names them
  size_t backends = 0;        // data backends scanned to the end
  size_t scanned = 0;         // keys seen
  size_t young = 0;           // unreferenced keys kept as younger than min_age
  size_t orphans = 0;         // unreferenced keys old enough
  size_t deleted = 0;         // of those, deleted (0 in a dry run)
  uint64_t bytes = 0;         // value bytes of the deleted (dry run: of the orphans)
  bool complete = true;       // false: max_deletes reached, more left for the next run
  std::vector<std::string> skipped;  // "backend: why" for each backend not (fully) swept
};

// Runs one sweep over every configured data backend. Not OK (and nothing
// deleted) when the mark is incomplete; backends that are down or fail
// mid-way are listed in skipped and the rest are swept.
qs::Result<SweepReport> SweepFragments(ObjectStore* store, const SweepOptions& options);

}  // namespace zstor
