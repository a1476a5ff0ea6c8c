// The consistency check run at mount after a crash (or when asked): it
// repairs what the known windows of docs/qsfs-format.md ("Crash
// consistency") leave behind. Runs before the mount serves anything, with
// the mount lease held, so nothing else changes the namespaces meanwhile.
#include <dirent.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "qsfs/block_map.h"
#include "qsfs/filesystem.h"
#include "qsfs/keys.h"

namespace qsfs {

namespace {

constexpr size_t kGroup = 512;  // keys per pipelined GET or DEL

uint64_t KeyIno(const std::string& key) { return qs::DecodeFixed64(key.data() + 1); }

// Fetches keys in groups and hands each present value to fn(key, value).
template <typename Fn>
qs::Status ForEachValue(Store* store, const std::vector<std::string>& keys, Fn fn) {
  for (size_t start = 0; start < keys.size(); start += kGroup) {
    std::vector<std::string> group(keys.begin() + static_cast<std::ptrdiff_t>(start),
                                   keys.begin() + static_cast<std::ptrdiff_t>(std::min(keys.size(), start + kGroup)));
    auto values = store->MetaGetMany(group);
    if (!values.ok()) return values.status();
    for (size_t i = 0; i < group.size(); ++i) {
      if ((*values)[i].has_value()) QS_RETURN_IF_ERROR(fn(group[i], *(*values)[i]));
    }
  }
  return qs::Status::OK();
}

}  // namespace

qs::Status Filesystem::Fsck(FsckReport* report) {
  auto t0 = std::chrono::steady_clock::now();
  *report = FsckReport{};
  // A big filesystem takes a while: where the check is, every 5 s.
  auto last_note = t0;
  auto progress = [&](const char* stage, size_t done) {
    auto now = std::chrono::steady_clock::now();
    if (now - last_note < std::chrono::seconds(5)) return;
    last_note = now;
    spdlog::info("filesystem check: {} ({} so far, {:.0f} s)", stage, done,
                 std::chrono::duration<double>(now - t0).count());
  };
  // Every metadata key, sorted by kind.
  std::vector<std::string> inode_keys, bucket_keys, map_keys;
  QS_RETURN_IF_ERROR(store_->MetaScan([&](const std::string& key) {
    if (key.size() == 9 && key[0] == 'I') inode_keys.push_back(key);
    else if (key.size() == 13 && key[0] == 'D') bucket_keys.push_back(key);
    else if (key.size() == 13 && key[0] == 'M') map_keys.push_back(key);
    progress("listing metadata keys", inode_keys.size() + bucket_keys.size() + map_keys.size());
  }));

  // Names: how many entries point at each inode, and each directory's
  // subdirectories (its link count is 2 + that).
  // A bucket that cannot be read hides names: then no inode is freed and
  // no link count changed, since "no name" may only mean "unreadable name".
  std::unordered_map<uint64_t, uint32_t> names, subdirs;
  std::unordered_set<uint64_t> dirs_with_entries;
  QS_RETURN_IF_ERROR(ForEachValue(store_.get(), bucket_keys, [&](const std::string& key, const std::string& value) {
    auto entries = DecodeDirBucket(value);
    if (!entries.ok()) {
      spdlog::error("fsck: a bucket of directory {} is unreadable ({}); left as it is, and no inode is freed nor "
                    "link count changed",
                    KeyIno(key), entries.status().ToString());
      report->unreadable_buckets++;
      return qs::Status::OK();
    }
    const uint64_t dir = KeyIno(key);
    progress("reading directories (entries)", names.size());
    if (!entries->empty()) dirs_with_entries.insert(dir);
    for (const DirEntry& e : *entries) {
      names[e.ino]++;
      if (e.type == DT_DIR) subdirs[dir]++;
    }
    return qs::Status::OK();
  }));

  const bool names_known = report->unreadable_buckets == 0;

  // Inodes: those no name reaches (and not open-unlinked, i.e. not in the
  // orphan list) are leaked; a link count that disagrees with the names is
  // set to what the names say.
  std::unordered_set<uint64_t> live;
  std::vector<Inode> leaked;
  const std::set<uint64_t> orphans = orphans_;  // a copy the callback reads
  QS_RETURN_IF_ERROR(ForEachValue(store_.get(), inode_keys, [&](const std::string& key, const std::string& value) {
    const uint64_t ino = KeyIno(key);
    auto inode = DecodeInode(ino, value);
    if (!inode.ok()) {
      spdlog::error("fsck: {}; left as it is", inode.status().ToString());
      live.insert(ino);  // unreadable, not provably unreferenced: keep its blocks
      return qs::Status::OK();
    }
    report->inodes++;
    progress("reading inodes", report->inodes);
    auto n = names.find(ino);
    const uint32_t refs = n == names.end() ? 0 : n->second;
    if (ino != kRootIno && refs == 0 && orphans.count(ino) == 0) {
      // A directory only when empty: the names inside a non-empty one keep
      // their inodes referenced, so it is left for a person to look at.
      if (!names_known) {
        spdlog::warn("fsck: inode {} has no name in the readable directories; kept", ino);
      } else if (!inode->is_dir() || dirs_with_entries.count(ino) == 0) {
        leaked.push_back(std::move(*inode));
        return qs::Status::OK();
      } else {
        spdlog::error("fsck: directory {} has entries but no name; left as it is", ino);
      }
    }
    live.insert(ino);
    // (An orphan with no name keeps its count: it is freed by the orphan list.)
    const bool orphan = refs == 0 && orphans.count(ino) != 0;
    const uint32_t want = inode->is_dir() ? 2 + subdirs[ino] : refs;
    if (!orphan && names_known && inode->nlink != want) {
      spdlog::warn("fsck: inode {} had link count {}, its names say {}", ino, inode->nlink, want);
      inode->nlink = want;
      QS_RETURN_IF_ERROR(store_->MetaSet(InodeKey(ino), EncodeInode(*inode)));
      report->link_counts_fixed++;
    }
    return qs::Status::OK();
  }));

  // Leaked inodes go: record (and an empty directory's buckets), then their
  // maps below with every other map of an inode that is not live.
  for (const Inode& in : leaked) {
    MetaBatch batch;
    batch.Del(InodeKey(in.ino));
    if (in.is_dir()) {
      for (const std::string& key : bucket_keys)
        if (KeyIno(key) == in.ino) batch.Del(key);
    }
    QS_RETURN_IF_ERROR(store_->Apply(batch));
    spdlog::warn("fsck: freed inode {} (mode {:o}, {} bytes), which no name reached", in.ino, in.mode, in.size);
    report->inodes_freed++;
  }

  // Blocks the live inodes' maps reference; maps of inodes that are gone
  // are deleted.
  std::unordered_set<uint64_t> referenced;
  std::vector<std::string> dead_maps;
  std::vector<std::string> live_maps;
  for (const std::string& key : map_keys) (live.count(KeyIno(key)) ? live_maps : dead_maps).push_back(key);
  QS_RETURN_IF_ERROR(ForEachValue(store_.get(), live_maps, [&](const std::string& key, const std::string& value) {
    auto slots = DecodeBlockMapChunk(value);
    if (!slots.ok()) {
      // Its blocks cannot be told apart from leaked ones: keep every block.
      return qs::Status::Corruption("fsck: block map of inode " + std::to_string(KeyIno(key)) +
                                    " is unreadable (" + slots.status().message() + "); no block freed");
    }
    for (uint64_t v : *slots)
      if (v != 0) referenced.insert(v - 1);
    return qs::Status::OK();
  }));
  for (size_t start = 0; start < dead_maps.size(); start += kGroup) {
    MetaBatch batch;
    for (size_t i = start; i < std::min(dead_maps.size(), start + kGroup); ++i) batch.Del(dead_maps[i]);
    QS_RETURN_IF_ERROR(store_->Apply(batch));
  }

  // Data blocks nothing references: written by a flush that did not get to
  // its map, or left by a free that did not get to its DELs.
  std::vector<uint64_t> unreferenced;
  QS_RETURN_IF_ERROR(store_->DataScan([&](uint64_t id) {
    report->blocks++;
    progress("listing data blocks", report->blocks);
    if (!referenced.count(id)) unreferenced.push_back(id);
  }));
  QS_RETURN_IF_ERROR(store_->DataDelMany(unreferenced));
  report->blocks_freed = unreferenced.size();
  report->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return qs::Status::OK();
}

}  // namespace qsfs
