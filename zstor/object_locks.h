// Per-object locks of an ObjectStore: operations on the same object path
// serialise (store, rebuild and delete exclusive; retrieve, check and
// verify shared), operations on different paths run in parallel. An entry
// exists only while some thread holds or waits for its path. A waiting
// exclusive locker keeps new shared lockers out, so a stream of reads does
// not starve a store. Thread-safe.
#pragma once

#include <map>
#include <string>

#include "common/mutex.h"
#include "common/thread_annotations.h"

namespace zstor {

class ObjectLocks {
 public:
  enum class Mode { kShared, kExclusive };

  // Holds path's lock in mode for its lifetime. locks must outlive it.
  class Hold {
   public:
    Hold(ObjectLocks* locks, std::string path, Mode mode);
    ~Hold();
    Hold(const Hold&) = delete;
    Hold& operator=(const Hold&) = delete;

   private:
    ObjectLocks* locks_;
    std::string path_;
    Mode mode_;
  };

  // Paths with an entry now (held or waited for): 0 when idle.
  size_t entries();

 private:
  struct Entry {
    int readers = 0;          // shared holders
    bool writer = false;      // an exclusive holder
    int writers_waiting = 0;  // exclusive lockers waiting
    int waiting = 0;          // all lockers waiting
  };
  void Acquire(const std::string& path, Mode mode) EXCLUDES(mu_);
  void Release(const std::string& path, Mode mode) EXCLUDES(mu_);

  qs::Mutex mu_;
  qs::CondVar cv_;  // an entry was released
  std::map<std::string, Entry> entries_ GUARDED_BY(mu_);
};

}  // namespace zstor
