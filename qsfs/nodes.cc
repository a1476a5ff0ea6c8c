// Inodes in memory for the Filesystem: a Node made on a miss, from a
// remembered copy or the store's record (read under mu_ by GetNode, or
// with mu_ released behind the inode's latch by LoadNodeReleasingMu: the
// rule is in filesystem.h), and dropped again once the kernel forgot it
// (MaybeEvict, SweepNodes; node_table.h keeps parked and remembered ones).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <memory>

#include "qsfs/filesystem.h"
#include "qsfs/keys.h"

namespace qsfs {

namespace {
constexpr size_t kMaxUnreferencedNodes = 4096;
}  // namespace

int Filesystem::GetNode(uint64_t ino, Node** out) {
  if (Node* n = table_.Find(ino)) {
    *out = n;
    return 0;
  }
  auto node = std::make_unique<Node>();
  if (table_.TakeRemembered(ino, &node->inode)) {
    if (metrics_ != nullptr) metrics_->InodeCache(true);
  } else {
    auto got = store_->MetaGet(InodeKey(ino));
    if (!got.ok()) {
      spdlog::error("reading inode {}: {}", ino, got.status().ToString());
      return ErrnoOf(got.status());
    }
    if (!got->has_value()) return ENOENT;
    auto inode = DecodeInode(ino, **got);
    if (!inode.ok()) {
      spdlog::error("{}", inode.status().ToString());
      return EIO;
    }
    node->inode = std::move(*inode);
    if (metrics_ != nullptr) metrics_->InodeCache(false);
  }
  *out = InstallNode(std::move(node));
  return 0;
}

Node* Filesystem::InstallNode(std::unique_ptr<Node> node) {
  auto latched = loading_.find(node->inode.ino);
  if (latched != loading_.end()) latched->second = true;
  return table_.Install(std::move(node));
}

void Filesystem::LoadNodesReleasingMu(std::initializer_list<uint64_t> inos) {
  bool released = false;
  for (uint64_t ino : inos) LoadNodeReleasingMu(ino, &released);
}

int Filesystem::LoadNodeReleasingMu(uint64_t ino, bool* released) {
  *released = false;
  for (;;) {
    if (table_.Find(ino) != nullptr) return 0;
    auto node = std::make_unique<Node>();
    if (table_.TakeRemembered(ino, &node->inode)) {
      if (metrics_ != nullptr) metrics_->InodeCache(true);
      InstallNode(std::move(node));
      return 0;
    }
    if (!loading_.count(ino)) break;
    *released = true;
    loaded_cv_.Wait(&mu_);  // another thread reads it: one read per miss
  }
  loading_[ino] = false;
  *released = true;
  mu_.Unlock();
  auto got = store_->MetaRead(InodeKey(ino));
  mu_.Lock();
  const bool superseded = loading_[ino];
  loading_.erase(ino);
  loaded_cv_.SignalAll();
  if (!got.ok()) {
    spdlog::error("reading inode {}: {}", ino, got.status().ToString());
    return ErrnoOf(got.status());
  }
  if (!got->has_value()) return ENOENT;
  auto inode = DecodeInode(ino, **got);
  if (!inode.ok()) {
    spdlog::error("{}", inode.status().ToString());
    return EIO;
  }
  if (metrics_ != nullptr) metrics_->InodeCache(false);
  // Installed meanwhile (and perhaps changed, even dropped again): what was
  // read may be older than the store's record now.
  if (superseded || table_.Find(ino) != nullptr) return 0;
  auto node = std::make_unique<Node>();
  node->inode = std::move(*inode);
  InstallNode(std::move(node));
  return 0;
}

void Filesystem::MaybeEvict(Node* n) {
  if (n->inode.ino == kRootIno || n->nopen > 0 || n->pins > 0) return;
  if (n->inode.nlink == 0 && !n->freed) {
    FreeInode(n);  // space comes back as soon as the last name and open go
    return;
  }
  if (n->nlookup > 0) return;
  if (n->has_dirty() && !n->freed) return;  // the write-back evicts nothing; Sweep does later
  table_.Remember(*n);
  table_.Erase(n->inode.ino);
}

// Drops nodes the kernel no longer references. Amortised: after a sweep
// the next waits until the table has grown by half again, so a table full
// of referenced nodes (a directory of a million files the kernel holds) is
// not scanned on every lookup and create.
void Filesystem::SweepNodes() {
  if (table_.size() < sweep_at_) return;
  std::vector<uint64_t> idle;
  for (const auto& [ino, n] : table_.nodes()) {
    if (ino != kRootIno && n->nlookup == 0 && n->nopen == 0 && n->pins == 0 && n->inode.nlink > 0) idle.push_back(ino);
  }
  for (uint64_t ino : idle) {
    Node* n = table_.Find(ino);
    if (n->has_dirty() && FlushNode(n) != 0) continue;
    table_.Remember(*n);
    table_.Erase(ino);
  }
  // Beyond the inode cache, clean inodes the kernel holds keep only their
  // lookup count, down to three quarters of the cache.
  if (table_.size() > options_.inode_cache) {
    size_t target = options_.inode_cache - options_.inode_cache / 4;
    std::vector<uint64_t> park;
    for (const auto& [ino, n] : table_.nodes()) {
      if (table_.size() - park.size() <= target) break;
      if (ino != kRootIno && n->nopen == 0 && n->pins == 0 && !n->freed && n->inode.nlink > 0 && !n->has_dirty() &&
          !n->chunks_dirty())
        park.push_back(ino);
    }
    for (uint64_t ino : park) table_.Park(ino);
  }
  sweep_at_ = std::max(kMaxUnreferencedNodes * 2, table_.size() + table_.size() / 2);
  if (table_.size() < options_.inode_cache) sweep_at_ = std::min<size_t>(sweep_at_, options_.inode_cache + 1);
}

}  // namespace qsfs
