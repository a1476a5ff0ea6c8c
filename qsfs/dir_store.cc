// Directory entries: linear hashing over buckets in qsfs-meta
// (docs/qsfs-format.md, "Directories"). A create or unlink rewrites one
// bucket of at most a few kilobytes; a split rewrites two.
#include <cerrno>

#include <spdlog/spdlog.h>

#include "qsfs/filesystem.h"
#include "qsfs/keys.h"

namespace qsfs {

namespace {
// Entries left behind by a split interrupted by a crash are not in the
// bucket their name hashes to; they are ignored.
void FilterForeign(const Inode& dir, uint32_t b, std::vector<DirEntry>* entries) {
  std::erase_if(*entries, [&](const DirEntry& e) {
    return BucketOf(NameHash(e.name), dir.dir_level, dir.dir_split) != b;
  });
}
}  // namespace

int Filesystem::DirBucket(uint64_t dir, const Inode& dir_inode, uint32_t b, DirEdit* edit,
                          std::vector<DirEntry>** out) {
  if (edit != nullptr) {
    auto it = edit->buckets.find(b);
    if (it != edit->buckets.end()) {
      *out = &it->second.entries;
      return 0;
    }
  }
  std::string key = DirBucketKey(dir, b);
  std::vector<DirEntry>* cached = dir_cache_.Find(key);
  if (metrics_ != nullptr) metrics_->DirCache(cached != nullptr);
  if (cached == nullptr) {
    auto got = store_->MetaGet(key);
    if (!got.ok()) {
      spdlog::error("reading directory {} bucket {}: {}", dir, b, got.status().ToString());
      return ErrnoOf(got.status());
    }
    std::vector<DirEntry> entries;
    if (got->has_value()) {
      auto decoded = DecodeDirBucket(**got);
      if (!decoded.ok()) {
        spdlog::error("directory {} bucket {}: {}", dir, b, decoded.status().ToString());
        return EIO;
      }
      entries = std::move(*decoded);
      FilterForeign(dir_inode, b, &entries);
    }
    cached = dir_cache_.Put(key, std::move(entries));
  }
  if (edit == nullptr) {
    *out = cached;
    return 0;
  }
  DirEdit::Bucket& copy = edit->buckets[b];
  copy.entries = *cached;
  *out = &copy.entries;
  return 0;
}

int Filesystem::DirFind(const Inode& dir, std::string_view name, DirEntry* out) {
  std::vector<DirEntry>* entries = nullptr;
  uint32_t b = BucketOf(NameHash(name), dir.dir_level, dir.dir_split);
  if (int err = DirBucket(dir.ino, dir, b, nullptr, &entries)) return err;
  for (const DirEntry& e : *entries) {
    if (e.name == name) {
      *out = e;
      return 0;
    }
  }
  return ENOENT;
}

int Filesystem::DirInsert(Inode* dir, DirEdit* edit, DirEntry e) {
  uint32_t b = BucketOf(NameHash(e.name), dir->dir_level, dir->dir_split);
  std::vector<DirEntry>* entries = nullptr;
  if (int err = DirBucket(dir->ino, *dir, b, edit, &entries)) return err;
  entries->push_back(std::move(e));
  edit->buckets[b].gains = true;
  dir->dir_entries++;
  if (dir->dir_entries <= kDirEntriesPerBucket * BucketCount(dir->dir_level, dir->dir_split) ||
      dir->dir_level >= 30) {
    return 0;
  }
  // Split bucket `split` into itself and split + 2^level.
  uint32_t p = dir->dir_split;
  uint32_t q = p + (uint32_t{1} << dir->dir_level);
  std::vector<DirEntry>* from = nullptr;
  if (int err = DirBucket(dir->ino, *dir, p, edit, &from)) return err;
  DirEdit::Bucket& to = edit->buckets[q];
  to.entries.clear();
  to.loses = false;
  std::vector<DirEntry> stay;
  for (DirEntry& x : *from) {
    if (BucketOf(NameHash(x.name), dir->dir_level, p + 1) == q) to.entries.push_back(std::move(x));
    else stay.push_back(std::move(x));
  }
  *from = std::move(stay);
  edit->buckets[p].split_source = true;
  dir->dir_split++;
  if (dir->dir_split == (uint32_t{1} << dir->dir_level)) {
    dir->dir_level++;
    dir->dir_split = 0;
  }
  return 0;
}

int Filesystem::DirRemove(Inode* dir, DirEdit* edit, std::string_view name) {
  uint32_t b = BucketOf(NameHash(name), dir->dir_level, dir->dir_split);
  std::vector<DirEntry>* entries = nullptr;
  if (int err = DirBucket(dir->ino, *dir, b, edit, &entries)) return err;
  for (auto it = entries->begin(); it != entries->end(); ++it) {
    if (it->name == name) {
      entries->erase(it);
      edit->buckets[b].loses = true;
      dir->dir_entries--;
      return 0;
    }
  }
  return ENOENT;
}

int Filesystem::DirRetarget(Inode* dir, DirEdit* edit, std::string_view name, uint64_t ino, uint8_t type) {
  uint32_t b = BucketOf(NameHash(name), dir->dir_level, dir->dir_split);
  std::vector<DirEntry>* entries = nullptr;
  if (int err = DirBucket(dir->ino, *dir, b, edit, &entries)) return err;
  for (DirEntry& e : *entries) {
    if (e.name == name) {
      e.ino = ino;
      e.type = type;
      edit->buckets[b].gains = true;
      edit->buckets[b].loses = true;
      return 0;
    }
  }
  return ENOENT;
}

int Filesystem::DirList(const Inode& dir, std::vector<DirEntry>* out) {
  uint64_t n = BucketCount(dir.dir_level, dir.dir_split);
  std::vector<std::string> missing;
  std::vector<uint32_t> missing_b;
  for (uint32_t b = 0; b < n; b++) {
    std::string key = DirBucketKey(dir.ino, b);
    if (const std::vector<DirEntry>* cached = dir_cache_.Peek(key)) {
      out->insert(out->end(), cached->begin(), cached->end());
    } else {
      missing.push_back(std::move(key));
      missing_b.push_back(b);
    }
  }
  if (missing.empty()) return 0;
  auto got = store_->MetaGetMany(missing);
  if (!got.ok()) {
    spdlog::error("listing directory {}: {}", dir.ino, got.status().ToString());
    return ErrnoOf(got.status());
  }
  for (size_t i = 0; i < missing.size(); i++) {
    if (!(*got)[i]) continue;
    auto decoded = DecodeDirBucket(*(*got)[i]);
    if (!decoded.ok()) {
      spdlog::error("directory {} bucket {}: {}", dir.ino, missing_b[i], decoded.status().ToString());
      return EIO;
    }
    FilterForeign(dir, missing_b[i], &*decoded);
    out->insert(out->end(), decoded->begin(), decoded->end());
  }
  return 0;
}

void Filesystem::DirEmpty(const Inode& dir, MetaBatch* batch) {
  uint64_t n = BucketCount(dir.dir_level, dir.dir_split);
  for (uint32_t b = 0; b < n; b++) {
    std::string key = DirBucketKey(dir.ino, b);
    dir_cache_.Drop(key);
    batch->Del(std::move(key));
  }
}

}  // namespace qsfs
