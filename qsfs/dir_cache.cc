#include "qsfs/dir_cache.h"

#include <algorithm>

namespace qsfs {

DirCache::DirCache(size_t capacity) : capacity_(std::max<size_t>(capacity, 1)) {}

std::vector<DirEntry>* DirCache::Find(const std::string& key) {
  auto it = cache_.find(key);
  if (it == cache_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second.pos);
  return &it->second.entries;
}

const std::vector<DirEntry>* DirCache::Peek(const std::string& key) const {
  auto it = cache_.find(key);
  return it == cache_.end() ? nullptr : &it->second.entries;
}

std::vector<DirEntry>* DirCache::Put(const std::string& key, std::vector<DirEntry> entries) {
  auto it = cache_.find(key);
  if (it != cache_.end()) {
    it->second.entries = std::move(entries);
    lru_.splice(lru_.begin(), lru_, it->second.pos);
    return &it->second.entries;
  }
  lru_.push_front(key);
  // Oldest first out, never the one just put (capacity_ >= 1).
  while (cache_.size() >= capacity_) {
    cache_.erase(lru_.back());
    lru_.pop_back();
  }
  return &cache_.emplace(key, Cached{std::move(entries), lru_.begin()}).first->second.entries;
}

void DirCache::Drop(const std::string& key) {
  auto it = cache_.find(key);
  if (it == cache_.end()) return;
  lru_.erase(it->second.pos);
  cache_.erase(it);
}

}  // namespace qsfs
