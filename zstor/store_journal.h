// The intent journal of stores (docs/zstor-journal.md): before a store
// writes its first fragment it creates an intent file, appends each
// fragment's (backend, key) as the backend acknowledges it, and removes the
// file once the store ended cleanly (record acknowledged, or its fragments
// freed). A store that died (kill -9, crash) leaves its intent behind;
// Reclaim deletes the fragments such intents name, so nothing stays
// unreferenced. The writer holds an exclusive flock on its file, so Reclaim
// never touches the intent of a store still running in any process.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "common/mutex.h"
#include "common/status.h"
#include "common/thread_annotations.h"

namespace zstor {

class ObjectStore;

class StoreJournal {
 public:
  // Creates and locks a new intent for one store attempt in dir (created
  // if missing); the Begin record is durable when this returns.
  static qs::Result<std::unique_ptr<StoreJournal>> Begin(const std::string& dir, const std::string& path,
                                                        const std::string& object_id);
  ~StoreJournal();  // closes (and so unlocks) the file; it stays unless Finish ran
  StoreJournal(const StoreJournal&) = delete;
  StoreJournal& operator=(const StoreJournal&) = delete;

  // A fragment the backend acknowledged; written at once (survives a kill
  // of the process), durable after the next Sync. Thread-safe.
  void Fragment(const std::string& address, const std::string& ns, const std::string& key);
  // fdatasync: everything appended so far survives a power loss.
  void Sync();
  // The record write starts: from here on the new record may become the
  // one read, so Reclaim frees this intent's fragments only if it is not.
  void RecordWrite();
  // The record write reached fewer than k backends: that record can never
  // be read, so Reclaim may free this intent's fragments again.
  void RecordAbandoned();
  // The store ended cleanly: removes the intent.
  void Finish();

  struct ReclaimStats {
    size_t intents = 0;      // unfinished intents of dead stores found
    size_t reclaimed = 0;    // of those, resolved and removed
    size_t fragments = 0;    // fragments deleted
  };
  // Resolves the intents in dir that no live process holds: fragments of a
  // store that never wrote its record are deleted from their backends
  // (not found counts as deleted); an intent whose record is the one read
  // now is simply removed. Intents that cannot be resolved yet (a backend
  // unreachable or not configured here, the record unreadable) stay.
  static ReclaimStats Reclaim(const std::string& dir, ObjectStore* store);
  // Calls fn(address, namespace, key) for every fragment any intent in dir
  // names, of running and dead stores alike (what a sweep must keep). A
  // missing dir names none; IOError when dir or an intent cannot be read.
  using FragmentFn = std::function<void(const std::string& address, const std::string& ns, const std::string& key)>;
  static qs::Status ForEachFragment(const std::string& dir, const FragmentFn& fn);

 private:
  StoreJournal(int fd, std::string file) : fd_(fd), file_(std::move(file)) {}
  void Append(uint8_t type, const std::string& body);

  qs::Mutex mu_;  // one record appended at a time (fragment writes run in parallel)
  int fd_ GUARDED_BY(mu_);
  const std::string file_;
  bool finished_ GUARDED_BY(mu_) = false;
};

}  // namespace zstor
