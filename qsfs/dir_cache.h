// DirCache: directory buckets (docs/qsfs-format.md, "Directories") as the
// store last acknowledged them, by bucket key, the least recently used
// dropped beyond a capacity. A bucket is put here only once the store
// holds it, and dropped when a write of it may have half failed.
// Not thread-safe: the Filesystem holds it under its mu_.
#pragma once

#include <cstddef>
#include <list>
#include <string>
#include <unordered_map>
#include <vector>

#include "qsfs/dir_bucket.h"

namespace qsfs {

class DirCache {
 public:
  explicit DirCache(size_t capacity);  // at least one bucket is kept

  // The bucket under key, now the most recently used; null when absent.
  std::vector<DirEntry>* Find(const std::string& key);
  // The same without changing the order (a listing reads every bucket).
  const std::vector<DirEntry>* Peek(const std::string& key) const;
  // Stores or replaces the bucket; returns where it is kept (valid until
  // the next Put or Drop).
  std::vector<DirEntry>* Put(const std::string& key, std::vector<DirEntry> entries);
  void Drop(const std::string& key);
  size_t size() const { return cache_.size(); }

 private:
  struct Cached {
    std::vector<DirEntry> entries;
    std::list<std::string>::iterator pos;
  };
  const size_t capacity_;
  std::list<std::string> lru_;  // most recent first
  std::unordered_map<std::string, Cached> cache_;
};

}  // namespace qsfs
