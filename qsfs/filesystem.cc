#include "qsfs/filesystem.h"

#include <dirent.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <random>

#include <spdlog/spdlog.h>

#include "qsfs/block_map.h"
#include "qsfs/keys.h"
#include "qsfs/zdb_store.h"

// FUSE_SET_ATTR_* values (fuse_lowlevel.h), repeated so this file does not
// depend on libfuse.
#define QS_ATTR_MODE (1 << 0)
#define QS_ATTR_UID (1 << 1)
#define QS_ATTR_GID (1 << 2)
#define QS_ATTR_SIZE (1 << 3)
#define QS_ATTR_ATIME (1 << 4)
#define QS_ATTR_MTIME (1 << 5)
#define QS_ATTR_ATIME_NOW (1 << 7)
#define QS_ATTR_MTIME_NOW (1 << 8)
#define QS_ATTR_CTIME (1 << 10)

namespace qsfs {

namespace {
constexpr uint32_t kMaxLink = 65000;
constexpr uint64_t kInoReserve = 1024;  // inode numbers reserved per superblock write
constexpr size_t kMaxUnreferencedNodes = 4096;
constexpr size_t kMaxSymlink = 4095;
constexpr uint64_t kMaxFileSize = uint64_t{1} << 44;  // 16 TiB, as ext4

uint8_t TypeOf(uint32_t mode) { return static_cast<uint8_t>((mode & S_IFMT) >> 12); }
// An open with write access (counted in open_writers_).
bool Writable(int open_flags) { return (open_flags & O_ACCMODE) != O_RDONLY; }
}  // namespace

Filesystem::Filesystem(const Options& options, std::shared_ptr<Store> store)
    : options_(options), store_(std::move(store)) {
  // A small inode cache is held from the first sweep on, not from 8192.
  sweep_at_ = std::min<size_t>(sweep_at_, options_.inode_cache + 1);
}

Filesystem::~Filesystem() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (background_.joinable()) background_.join();
}

qs::Result<std::unique_ptr<Filesystem>> Filesystem::Mount(const Options& options) {
  auto store = ZdbStore::Open(options);
  if (!store.ok()) return store.status();
  return Mount(options, std::shared_ptr<Store>(std::move(store.value())));
}

qs::Result<std::unique_ptr<Filesystem>> Filesystem::Mount(const Options& options, std::shared_ptr<Store> store) {
  std::unique_ptr<Filesystem> fs(new Filesystem(options, std::move(store)));
  std::lock_guard<std::mutex> lock(fs->mu_);
  fs->lease_ = std::make_unique<MountLease>(options, fs->store_.get());
  QS_RETURN_IF_ERROR(fs->lease_->Acquire(&fs->took_stale_lease_));
  fs->lease_->Start();  // renewed from now on, through a long check too
  qs::Status s = fs->LoadOrFormat();
  if (s.ok()) s = fs->CleanOrphans();
  if (!s.ok()) {
    fs->lease_->Stop();
    fs->lease_->Release();
    return s;
  }
  if (fs->took_stale_lease_ || options.fsck) {
    spdlog::info("checking the filesystem ({})", fs->took_stale_lease_ ? "the previous mount did not end cleanly"
                                                                      : "fsck option");
    FsckReport r;
    s = fs->Fsck(&r);
    // What it repaired stays repaired; what it could not do is logged and
    // the mount goes on (nothing it skips makes the filesystem worse).
    if (!s.ok()) spdlog::error("filesystem check stopped: {}", s.ToString());
    spdlog::info("filesystem check: {} inodes, {} data blocks read in {:.1f} s; freed {} inodes no name reached and {} "
                 "unreferenced blocks; fixed {} link counts",
                 r.inodes, r.blocks, r.seconds, r.inodes_freed, r.blocks_freed, r.link_counts_fixed);
    if (r.unreadable_buckets > 0)
      spdlog::error("filesystem check: {} directory buckets are unreadable; inodes and link counts were left as they "
                    "are", r.unreadable_buckets);
  }
  return fs;
}

// ---------------------------------------------------------------------------
// Lifecycle

qs::Status Filesystem::LoadOrFormat() {
  auto got = store_->MetaGet(kSuperblockKey);
  if (!got.ok()) return got.status();
  if (!got->has_value()) {
    Inode root;
    root.ino = kRootIno;
    root.mode = S_IFDIR | 0755;
    root.uid = getuid();
    root.gid = getgid();
    root.nlink = 2;
    root.parent = kRootIno;
    root.atime = root.mtime = root.ctime = Now();
    sb_.block_size = options_.block_size;
    sb_.next_ino = kRootIno + 1;
    sb_.created = root.ctime.sec;
    MetaBatch b;
    b.Set(InodeKey(kRootIno), EncodeInode(root));
    b.Set(kSuperblockKey, EncodeSuperblock(sb_));  // last: its presence means formatted
    QS_RETURN_IF_ERROR(store_->Apply(b));
    spdlog::info("formatted a new filesystem in {} (block size {})", options_.meta_ns, sb_.block_size);
  } else {
    auto sb = DecodeSuperblock(**got);
    if (!sb.ok()) return sb.status();
    sb_ = *sb;
  }
  next_ino_ = sb_.next_ino;
  reserved_until_ = sb_.next_ino;
  Node* root = nullptr;
  if (int err = GetNode(kRootIno, &root)) {
    return qs::Status::Corruption("the root inode cannot be read (errno " + std::to_string(err) + ")");
  }
  root->nlookup = 1;  // the kernel's reference, never forgotten
  return qs::Status::OK();
}

qs::Status Filesystem::CleanOrphans() {
  auto got = store_->MetaGet(kOrphansKey);
  if (!got.ok()) return got.status();
  if (!got->has_value()) return qs::Status::OK();
  auto list = DecodeOrphans(**got);
  if (!list.ok()) {
    spdlog::error("{}; dropping the orphan list", list.status().ToString());
    return store_->MetaDel(kOrphansKey);
  }
  orphans_.insert(list->begin(), list->end());
  size_t freed = 0;
  for (uint64_t ino : *list) {
    Node* n = nullptr;
    int err = GetNode(ino, &n);
    if (err == 0 && n->inode.nlink == 0) {
      if (FreeInode(n) == 0) freed++;
    } else {
      orphans_.erase(ino);
      if (n != nullptr) MaybeEvict(n);
    }
  }
  if (freed > 0) spdlog::info("freed {} unlinked inodes left by the previous mount", freed);
  if (orphans_.empty()) return store_->MetaDel(kOrphansKey);
  return store_->MetaSet(kOrphansKey, EncodeOrphans({orphans_.begin(), orphans_.end()}));
}

void Filesystem::Start() {
  background_ = std::thread([this] { BackgroundLoop(); });
}

void Filesystem::SetMetrics(FsMetrics* metrics) {
  metrics_ = metrics;
  store_->SetMetrics(metrics);
}

void Filesystem::BackgroundLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  auto period = std::chrono::duration<double>(std::clamp(options_.writeback_delay_seconds / 2, 0.1, 1.0));
  while (!stopping_) {
    wake_.wait_for(lock, period);
    if (stopping_) break;
    // Writes the kernel caches (writeback_cache) come to qsfs first, then
    // go to zdb with the rest. Only while a file is open for writing: the
    // kernel writes a file's pages back when it is closed.
    if (options_.writeback_cache && open_writers_ > 0 && kernel_sync_) {
      lock.unlock();
      kernel_sync_();
      lock.lock();
      if (stopping_) break;
    }
    bool all = flush_requested_;  // the dirty cache is half full
    flush_requested_ = false;
    if (!lease_->fenced()) FlushAll(!all);  // zdb would refuse every write
    // Nodes the kernel forgot are freed, but the allocator keeps their pages:
    // hand them back once the table has shrunk well below its peak.
    if (nodes_.size() + 8192 < nodes_peak_) {
      malloc_trim(0);
      nodes_peak_ = nodes_.size();
    }
    nodes_peak_ = std::max(nodes_peak_, nodes_.size());
    ShedParked(&lock);
    if (metrics_ != nullptr) {
      metrics_->SetDirty(dirty_bytes_ + inflight_bytes_);
      metrics_->SetCachedInodes(nodes_.size());
      metrics_->SetParkedInodes(parked_.size());
    }
  }
}

void Filesystem::SetEntryInvalidator(EntryInvalidator fn) {
  std::lock_guard<std::mutex> lock(inval_mu_);
  invalidator_ = std::move(fn);
}

void Filesystem::ShedParked(std::unique_lock<std::mutex>* lock) {
  if (parked_.size() <= options_.inode_cache) return;
  // The kernel can only be told to drop an entry by its parent and name:
  // each parked inode keeps the name it was last looked up by, and that
  // name is asked for once (a new lookup sets one again), so an entry the
  // kernel cannot drop (a working directory) is not asked for every round.
  constexpr size_t kPerRound = 16384;
  std::vector<std::pair<uint64_t, std::string>> drop;
  const size_t want = std::min(kPerRound, parked_.size() - options_.inode_cache / 2);
  for (auto& [ino, p] : parked_) {
    if (p.name.empty()) continue;
    drop.emplace_back(p.name_parent, std::move(p.name));
    p.name.clear();
    if (drop.size() >= want) break;
  }
  if (drop.empty()) return;
  lock->unlock();  // the kernel takes the directory's lock: no qsfs lock held
  {
    std::lock_guard<std::mutex> inval(inval_mu_);
    if (invalidator_) {
      for (const auto& [dir, name] : drop) invalidator_(dir, name);
    }
  }
  lock->lock();
}

qs::Status Filesystem::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (background_.joinable()) background_.join();
  std::lock_guard<std::mutex> lock(mu_);
  if (shut_down_) return qs::Status::OK();
  shut_down_ = true;
  if (lease_->fenced()) {
    // Another mount owns the namespaces now: nothing more is written.
    return qs::Status::IOError("this mount was fenced (another mount took the namespaces over): " +
                               std::to_string(dirty_bytes_) + " bytes of unacknowledged changes were dropped");
  }
  qs::Status result;
  if (int err = FlushAll(false)) {
    result = qs::Status::IOError(std::string("flushing data at unmount: ") + strerror(err));
  }
  // Nothing is open any more: unlinked inodes go now.
  std::vector<uint64_t> unlinked;
  for (const auto& [ino, n] : nodes_) {
    if (n->inode.nlink == 0 && !n->freed) unlinked.push_back(ino);
  }
  for (uint64_t ino : orphans_) unlinked.push_back(ino);
  for (uint64_t ino : unlinked) {
    Node* n = nullptr;
    if (GetNode(ino, &n) == 0 && n->inode.nlink == 0 && !n->freed) FreeInode(n);
  }
  std::unique_lock<std::mutex> io(io_mu_);
  qs::Status s = store_->Sync();
  io.unlock();
  if (!s.ok() && result.ok()) result = s;
  lease_->Stop();
  s = lease_->Release();
  if (!s.ok() && result.ok()) result = s;
  return result;
}

int Filesystem::AllocIno(uint64_t* ino) {
  if (next_ino_ >= reserved_until_) {
    Superblock sb = sb_;
    sb.next_ino = next_ino_ + kInoReserve;
    qs::Status s = store_->MetaSet(kSuperblockKey, EncodeSuperblock(sb));
    if (!s.ok()) return ErrnoOf(s);
    sb_ = sb;
    reserved_until_ = sb.next_ino;
  }
  *ino = next_ino_++;
  return 0;
}

// ---------------------------------------------------------------------------
// Nodes

int Filesystem::GetNode(uint64_t ino, Node** out) {
  auto it = nodes_.find(ino);
  if (it != nodes_.end()) {
    *out = it->second.get();
    return 0;
  }
  auto node = std::make_unique<Node>();
  auto remembered = forgotten_.find(ino);
  if (remembered != forgotten_.end()) {
    node->inode = std::move(*remembered->second);
    forgotten_lru_.erase(remembered->second);
    forgotten_.erase(remembered);
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
  auto parked = parked_.find(ino);
  if (parked != parked_.end()) {
    node->nlookup = parked->second.lookups;
    node->name_parent = parked->second.name_parent;
    node->name = std::move(parked->second.name);
    parked_.erase(parked);
  }
  *out = node.get();
  nodes_.emplace(ino, std::move(node));
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
  Remember(n);
  nodes_.erase(n->inode.ino);
}

void Filesystem::Remember(const Node* n) {
  if (n->freed || n->inode.nlink == 0 || n->has_dirty() || n->chunks_dirty() || n->inode.ino == kRootIno) return;
  auto old = forgotten_.find(n->inode.ino);
  if (old != forgotten_.end()) {
    forgotten_lru_.erase(old->second);
    forgotten_.erase(old);
  }
  forgotten_lru_.push_front(n->inode);
  forgotten_[n->inode.ino] = forgotten_lru_.begin();
  while (!forgotten_lru_.empty() && nodes_.size() + forgotten_.size() > options_.inode_cache) {
    forgotten_.erase(forgotten_lru_.back().ino);
    forgotten_lru_.pop_back();
  }
}

// Drops nodes the kernel no longer references. Amortised: after a sweep
// the next waits until the table has grown by half again, so a table full
// of referenced nodes (a directory of a million files the kernel holds) is
// not scanned on every lookup and create.
void Filesystem::SweepNodes() {
  if (nodes_.size() < sweep_at_) return;
  std::vector<uint64_t> idle;
  for (const auto& [ino, n] : nodes_) {
    if (ino != kRootIno && n->nlookup == 0 && n->nopen == 0 && n->pins == 0 && n->inode.nlink > 0) idle.push_back(ino);
  }
  for (uint64_t ino : idle) {
    Node* n = nodes_[ino].get();
    if (n->has_dirty() && FlushNode(n) != 0) continue;
    Remember(n);
    nodes_.erase(ino);
  }
  // Beyond the inode cache, clean inodes the kernel holds keep only their
  // lookup count, down to three quarters of the cache.
  if (nodes_.size() > options_.inode_cache) {
    size_t target = options_.inode_cache - options_.inode_cache / 4;
    std::vector<uint64_t> park;
    for (const auto& [ino, n] : nodes_) {
      if (nodes_.size() - park.size() <= target) break;
      if (ino != kRootIno && n->nopen == 0 && n->pins == 0 && !n->freed && n->inode.nlink > 0 && !n->has_dirty() &&
          !n->chunks_dirty())
        park.push_back(ino);
    }
    for (uint64_t ino : park) {
      Node* n = nodes_[ino].get();
      if (n->nlookup > 0) parked_[ino] = Parked{n->nlookup, n->name_parent, std::move(n->name)};
      nodes_.erase(ino);
    }
  }
  sweep_at_ = std::max(kMaxUnreferencedNodes * 2, nodes_.size() + nodes_.size() / 2);
  if (nodes_.size() < options_.inode_cache) sweep_at_ = std::min<size_t>(sweep_at_, options_.inode_cache + 1);
}

Inode Filesystem::NewInode(const Caller& c, const Inode& parent, uint32_t mode) {
  Inode n;
  n.mode = mode;
  n.uid = c.uid;
  n.gid = c.gid;
  if (parent.mode & S_ISGID) {
    n.gid = parent.gid;
    if (S_ISDIR(mode)) n.mode |= S_ISGID;
  }
  n.atime = n.mtime = n.ctime = Now();
  n.nlink = S_ISDIR(mode) ? 2 : 1;
  return n;
}

int Filesystem::CheckName(std::string_view name) const {
  if (name.empty() || name.find('/') != std::string_view::npos) return EINVAL;
  if (name.size() > 255) return ENAMETOOLONG;
  return 0;
}

void Filesystem::Stat(const Node* n, struct stat* st) const {
  n->inode.ToStat(sb_.block_size, st);
  if (n->inode.is_dir()) {
    st->st_size = static_cast<off_t>((n->inode.dir_entries + 2) * 32);
    st->st_blocks = static_cast<blkcnt_t>(BucketCount(n->inode.dir_level, n->inode.dir_split) * 8);
  }
}

bool Filesystem::AddOrphan(Node* n, MetaBatch* batch) {
  if (n->nopen == 0) return false;
  orphans_.insert(n->inode.ino);
  batch->Set(kOrphansKey, EncodeOrphans({orphans_.begin(), orphans_.end()}));
  return true;
}

int Filesystem::FreeInode(Node* n) {
  uint64_t ino = n->inode.ino;
  std::vector<uint64_t> ids;
  MetaBatch batch;
  if (n->inode.is_reg()) {
    DropDirty(n, 0);
    uint64_t nblocks = (n->inode.size + sb_.block_size - 1) / sb_.block_size;
    if (int err = ClearSlots(n, 0, nblocks, &ids)) return err;
    for (uint64_t c = 0; c * kBlocksPerChunk < nblocks; c++) batch.Del(BlockMapKey(ino, static_cast<uint32_t>(c)));
  }
  batch.Del(InodeKey(ino));
  if (orphans_.erase(ino)) {
    if (orphans_.empty()) batch.Del(kOrphansKey);
    else batch.Set(kOrphansKey, EncodeOrphans({orphans_.begin(), orphans_.end()}));
  }
  qs::Status s = store_->Apply(batch);
  if (!s.ok()) {
    spdlog::error("freeing inode {}: {}", ino, s.ToString());
    return ErrnoOf(s);
  }
  if (!ids.empty()) {
    std::lock_guard<std::mutex> io(io_mu_);
    s = store_->DataDelMany(ids);
    if (!s.ok()) spdlog::warn("freeing {} blocks of inode {}: {}", ids.size(), ino, s.ToString());
  }
  dirty_nodes_.erase(ino);
  if (n->nlookup == 0 && n->pins == 0) {
    nodes_.erase(ino);
  } else {
    n->freed = true;
    n->inode.size = 0;
    n->inode.blocks = 0;
    n->chunks.clear();
    n->inode_dirty = false;
  }
  return 0;
}

int Filesystem::PersistInode(Node* n) {
  if (n->inode.is_reg()) {
    n->inode_dirty = true;
    if (!dirty_nodes_.count(n->inode.ino)) n->dirty_since = std::chrono::steady_clock::now();
    dirty_nodes_.insert(n->inode.ino);
    return FlushNode(n);
  }
  qs::Status s = store_->MetaSet(InodeKey(n->inode.ino), EncodeInode(n->inode));
  return s.ok() ? 0 : ErrnoOf(s);
}

int Filesystem::ApplyEdits(MetaBatch* head, const std::vector<DirEdit*>& edits, MetaBatch* middle,
                           const std::vector<const Inode*>& inodes, MetaBatch* tail) {
  MetaBatch batch;
  auto append = [&](MetaBatch* b) {
    if (b != nullptr) batch.Append(*b);
  };
  auto buckets = [&](auto pred) {
    for (DirEdit* e : edits) {
      for (auto& [b, bucket] : e->buckets) {
        if (!pred(bucket)) continue;
        std::string key = DirBucketKey(e->dir, b);
        if (bucket.entries.empty()) batch.Del(key);
        else batch.Set(key, EncodeDirBucket(bucket.entries));
      }
    }
  };
  append(head);
  // A name's new place before its old one goes: a rename over an existing
  // name retargets that entry (gains and loses) and must come before the
  // bucket that only loses the old name.
  buckets([](const DirEdit::Bucket& b) { return (b.gains || !b.loses) && !b.split_source; });
  buckets([](const DirEdit::Bucket& b) { return !b.gains && b.loses && !b.split_source; });
  append(middle);
  for (const Inode* in : inodes) batch.Set(InodeKey(in->ino), EncodeInode(*in));
  buckets([](const DirEdit::Bucket& b) { return b.split_source; });
  append(tail);
  qs::Status s = store_->Apply(batch);
  if (!s.ok()) {
    spdlog::warn("metadata update failed: {}", s.ToString());
    if (s.code() == qs::Status::Code::kUnavailable) {
      // zdb is gone: reading back would only wait again. What it may have
      // applied is found by the next reads of those buckets.
      for (DirEdit* e : edits) {
        for (auto& [b, bucket] : e->buckets) CacheDrop(DirBucketKey(e->dir, b));
      }
    } else {
      ReloadAfterFailure(edits, inodes);
    }
    return ErrnoOf(s);
  }
  for (DirEdit* e : edits) {
    for (auto& [b, bucket] : e->buckets) CachePut(DirBucketKey(e->dir, b), std::move(bucket.entries));
  }
  return 0;
}

void Filesystem::ReloadAfterFailure(const std::vector<DirEdit*>& edits, const std::vector<const Inode*>& inodes) {
  // zdb may have applied part of the pipeline: forget what was cached and
  // read the inodes back.
  for (DirEdit* e : edits) {
    for (auto& [b, bucket] : e->buckets) CacheDrop(DirBucketKey(e->dir, b));
  }
  for (const Inode* in : inodes) {
    auto it = nodes_.find(in->ino);
    if (it == nodes_.end()) continue;
    auto got = store_->MetaGet(InodeKey(in->ino));
    if (!got.ok() || !got->has_value()) continue;
    auto decoded = DecodeInode(in->ino, **got);
    if (!decoded.ok()) continue;
    Inode& mem = it->second->inode;
    uint64_t size = mem.size;
    uint64_t blocks = mem.blocks;
    bool dirty = it->second->has_dirty();
    mem = std::move(*decoded);
    if (dirty) {  // unwritten data keeps its size
      mem.size = size;
      mem.blocks = blocks;
    }
  }
}

// ---------------------------------------------------------------------------
// Namespace operations

int Filesystem::Lookup(uint64_t parent, std::string_view name, Entry* out) {
  std::lock_guard<std::mutex> lock(mu_);
  SweepNodes();
  if (int err = CheckName(name)) return err;
  Node* p = nullptr;
  if (int err = GetNode(parent, &p)) return err;
  if (!p->inode.is_dir()) return ENOTDIR;
  DirEntry e;
  if (int err = DirFind(p->inode, name, &e)) return err;
  Node* n = nullptr;
  int err = GetNode(e.ino, &n);
  if (err == ENOENT) {
    spdlog::warn("directory {} entry '{}' points to missing inode {}", parent, std::string(name), e.ino);
    return ENOENT;
  }
  if (err != 0) return err;
  n->nlookup++;
  n->name_parent = parent;
  n->name.assign(name);
  out->ino = e.ino;
  Stat(n, &out->attr);
  return 0;
}

int Filesystem::LookupEntry(uint64_t ino, Entry* out) {
  std::lock_guard<std::mutex> lock(mu_);
  SweepNodes();
  Node* n = nullptr;
  if (int err = GetNode(ino, &n)) return err;
  n->nlookup++;
  out->ino = ino;
  Stat(n, &out->attr);
  return 0;
}

void Filesystem::Forget(uint64_t ino, uint64_t nlookup) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = nodes_.find(ino);
  if (it == nodes_.end() || ino == kRootIno) {
    auto parked = parked_.find(ino);
    if (parked != parked_.end() && (parked->second.lookups -= std::min(parked->second.lookups, nlookup)) == 0)
      parked_.erase(parked);
    return;
  }
  Node* n = it->second.get();
  n->nlookup -= std::min(n->nlookup, nlookup);
  MaybeEvict(n);
}

int Filesystem::GetAttr(uint64_t ino, struct stat* out) {
  std::lock_guard<std::mutex> lock(mu_);
  Node* n = nullptr;
  if (int err = GetNode(ino, &n)) return err;
  Stat(n, out);
  return 0;
}

int Filesystem::SetAttr(uint64_t ino, const struct stat& attr, int to_set, struct stat* out) {
  std::lock_guard<std::mutex> lock(mu_);
  Node* n = nullptr;
  if (int err = GetNode(ino, &n)) return err;
  Inode old = n->inode;
  Inode& in = n->inode;
  Timespec now = Now();
  if (to_set & QS_ATTR_SIZE) {
    if (in.is_dir()) return EISDIR;
    if (!in.is_reg()) return EINVAL;
    if (static_cast<uint64_t>(attr.st_size) > kMaxFileSize) return EFBIG;
  }
  if (to_set & QS_ATTR_MODE) in.mode = (in.mode & S_IFMT) | (attr.st_mode & 07777);
  if (to_set & (QS_ATTR_UID | QS_ATTR_GID)) {
    if (to_set & QS_ATTR_UID) in.uid = attr.st_uid;
    if (to_set & QS_ATTR_GID) in.gid = attr.st_gid;
    if (!(to_set & QS_ATTR_MODE) && !in.is_dir()) {
      in.mode &= ~static_cast<uint32_t>(S_ISUID);
      if (in.mode & S_IXGRP) in.mode &= ~static_cast<uint32_t>(S_ISGID);
    }
  }
  if (to_set & QS_ATTR_ATIME_NOW) in.atime = now;
  else if (to_set & QS_ATTR_ATIME) in.atime = {attr.st_atim.tv_sec, static_cast<uint32_t>(attr.st_atim.tv_nsec)};
  if (to_set & QS_ATTR_MTIME_NOW) in.mtime = now;
  else if (to_set & QS_ATTR_MTIME) in.mtime = {attr.st_mtim.tv_sec, static_cast<uint32_t>(attr.st_mtim.tv_nsec)};
  if (to_set & QS_ATTR_CTIME) in.ctime = {attr.st_ctim.tv_sec, static_cast<uint32_t>(attr.st_ctim.tv_nsec)};
  else in.ctime = now;
  int err = 0;
  if (to_set & QS_ATTR_SIZE) {
    if (!(to_set & (QS_ATTR_MTIME | QS_ATTR_MTIME_NOW))) in.mtime = now;
    err = TruncateNode(n, static_cast<uint64_t>(attr.st_size));
  } else {
    err = PersistInode(n);
  }
  if (err != 0) {
    if (!(to_set & QS_ATTR_SIZE)) {
      uint64_t size = in.size;
      uint64_t blocks = in.blocks;
      in = old;
      in.size = size;
      in.blocks = blocks;
    }
    return err;
  }
  Stat(n, out);
  return 0;
}

int Filesystem::ReadLink(uint64_t ino, std::string* out) {
  std::lock_guard<std::mutex> lock(mu_);
  Node* n = nullptr;
  if (int err = GetNode(ino, &n)) return err;
  if (!n->inode.is_symlink()) return EINVAL;
  *out = n->inode.symlink;
  return 0;
}

int Filesystem::MakeNode(const Caller& c, uint64_t parent, std::string_view name, uint32_t mode, uint64_t rdev,
                         std::string_view symlink, Entry* out) {
  SweepNodes();
  if (int err = CheckName(name)) return err;
  Node* p = nullptr;
  if (int err = GetNode(parent, &p)) return err;
  if (!p->inode.is_dir()) return ENOTDIR;
  if (p->inode.nlink == 0) return ENOENT;  // removed directory
  DirEntry existing;
  int err = DirFind(p->inode, name, &existing);
  if (err == 0) return EEXIST;
  if (err != ENOENT) return err;
  if (S_ISDIR(mode) && p->inode.nlink >= kMaxLink) return EMLINK;
  uint64_t ino = 0;
  if (int e = AllocIno(&ino)) return e;
  Inode child = NewInode(c, p->inode, mode);
  child.ino = ino;
  child.rdev = rdev;
  if (S_ISDIR(mode)) child.parent = parent;
  if (S_ISLNK(mode)) {
    child.symlink = std::string(symlink);
    child.size = symlink.size();
  }
  Inode pi = p->inode;
  DirEdit edit;
  edit.dir = parent;
  if (int e = DirInsert(&pi, &edit, DirEntry{std::string(name), ino, TypeOf(mode)})) return e;
  pi.mtime = pi.ctime = child.ctime;
  if (S_ISDIR(mode)) pi.nlink++;
  MetaBatch head;
  head.Set(InodeKey(ino), EncodeInode(child));  // the inode before its name
  if (int e = ApplyEdits(&head, {&edit}, nullptr, {&pi}, nullptr)) return e;
  p->inode = pi;
  auto node = std::make_unique<Node>();
  node->inode = std::move(child);
  node->nlookup = 1;
  node->name_parent = parent;
  node->name.assign(name);
  out->ino = ino;
  Stat(node.get(), &out->attr);
  nodes_[ino] = std::move(node);
  return 0;
}

int Filesystem::MkNod(const Caller& c, uint64_t parent, std::string_view name, uint32_t mode, uint64_t rdev,
                      Entry* out) {
  uint32_t type = mode & S_IFMT;
  if (type == 0) type = S_IFREG;
  if (type != S_IFREG && type != S_IFCHR && type != S_IFBLK && type != S_IFIFO && type != S_IFSOCK) return EINVAL;
  std::lock_guard<std::mutex> lock(mu_);
  return MakeNode(c, parent, name, type | (mode & 07777), rdev, {}, out);
}

int Filesystem::MkDir(const Caller& c, uint64_t parent, std::string_view name, uint32_t mode, Entry* out) {
  std::lock_guard<std::mutex> lock(mu_);
  return MakeNode(c, parent, name, S_IFDIR | (mode & 07777), 0, {}, out);
}

int Filesystem::Symlink(const Caller& c, std::string_view target, uint64_t parent, std::string_view name,
                        Entry* out) {
  if (target.size() > kMaxSymlink) return ENAMETOOLONG;
  std::lock_guard<std::mutex> lock(mu_);
  return MakeNode(c, parent, name, S_IFLNK | 0777, 0, target, out);
}

int Filesystem::Create(const Caller& c, uint64_t parent, std::string_view name, uint32_t mode, int flags,
                       Entry* out) {
  std::lock_guard<std::mutex> lock(mu_);
  if (int err = MakeNode(c, parent, name, S_IFREG | (mode & 07777), 0, {}, out)) return err;
  nodes_[out->ino]->nopen++;
  if (Writable(flags)) open_writers_++;
  return 0;
}

int Filesystem::Link(uint64_t ino, uint64_t parent, std::string_view name, Entry* out) {
  std::lock_guard<std::mutex> lock(mu_);
  if (int err = CheckName(name)) return err;
  Node* p = nullptr;
  if (int err = GetNode(parent, &p)) return err;
  if (!p->inode.is_dir()) return ENOTDIR;
  if (p->inode.nlink == 0) return ENOENT;
  Node* n = nullptr;
  if (int err = GetNode(ino, &n)) return err;
  if (n->inode.is_dir()) return EPERM;
  if (n->inode.nlink >= kMaxLink) return EMLINK;
  if (n->inode.nlink == 0) return ENOENT;
  DirEntry existing;
  int err = DirFind(p->inode, name, &existing);
  if (err == 0) return EEXIST;
  if (err != ENOENT) return err;
  if (n->has_dirty()) {
    if (int e = FlushNode(n)) return e;
  }
  Inode ni = n->inode;
  ni.nlink++;
  ni.ctime = Now();
  Inode pi = p->inode;
  DirEdit edit;
  edit.dir = parent;
  if (int e = DirInsert(&pi, &edit, DirEntry{std::string(name), ino, TypeOf(ni.mode)})) return e;
  pi.mtime = pi.ctime = ni.ctime;
  MetaBatch head;
  head.Set(InodeKey(ino), EncodeInode(ni));  // the link count before the name
  if (int e = ApplyEdits(&head, {&edit}, nullptr, {&pi}, nullptr)) return e;
  n->inode = ni;
  p->inode = pi;
  n->nlookup++;
  n->name_parent = parent;
  n->name.assign(name);
  out->ino = ino;
  Stat(n, &out->attr);
  return 0;
}

int Filesystem::RemoveName(uint64_t parent, std::string_view name, bool dir) {
  if (int err = CheckName(name)) return err;
  Node* p = nullptr;
  if (int err = GetNode(parent, &p)) return err;
  if (!p->inode.is_dir()) return ENOTDIR;
  DirEntry e;
  if (int err = DirFind(p->inode, name, &e)) return err;
  Node* n = nullptr;
  if (int err = GetNode(e.ino, &n)) return err;
  if (dir) {
    if (!n->inode.is_dir()) return ENOTDIR;
    if (n->inode.dir_entries > 0) return ENOTEMPTY;
  } else if (n->inode.is_dir()) {
    return EISDIR;
  }
  Inode pi = p->inode;
  Inode ni = n->inode;
  DirEdit edit;
  edit.dir = parent;
  if (int err = DirRemove(&pi, &edit, name)) return err;
  Timespec now = Now();
  pi.mtime = pi.ctime = now;
  ni.ctime = now;
  if (dir) {
    ni.nlink = 0;
    pi.nlink--;
  } else {
    ni.nlink--;
  }
  if (ni.nlink > 0 && n->has_dirty()) {
    if (int err = FlushNode(n)) return err;
    ni.size = n->inode.size;
    ni.blocks = n->inode.blocks;
  }
  MetaBatch middle;
  MetaBatch tail;
  bool orphan = false;
  std::set<uint64_t> orphans_before = orphans_;
  if (ni.nlink == 0) {
    orphan = AddOrphan(n, &middle);
    if (dir) DirEmpty(ni, &tail);
  }
  if (int err = ApplyEdits(nullptr, {&edit}, &middle, {&pi, &ni}, &tail)) {
    orphans_ = orphans_before;
    return err;
  }
  p->inode = pi;
  uint64_t size = n->inode.size;
  uint64_t blocks = n->inode.blocks;
  n->inode = ni;
  n->inode.size = size;  // unwritten data of an open file stays readable
  n->inode.blocks = blocks;
  if (ni.nlink == 0 && !orphan) FreeInode(n);
  return 0;
}

int Filesystem::Unlink(uint64_t parent, std::string_view name) {
  std::lock_guard<std::mutex> lock(mu_);
  return RemoveName(parent, name, false);
}

int Filesystem::RmDir(uint64_t parent, std::string_view name) {
  std::lock_guard<std::mutex> lock(mu_);
  return RemoveName(parent, name, true);
}

int Filesystem::IsAncestor(uint64_t maybe_ancestor, uint64_t ino, bool* out) {
  *out = false;
  for (int depth = 0; depth < 65536; depth++) {
    if (ino == maybe_ancestor) {
      *out = true;
      return 0;
    }
    if (ino == kRootIno) return 0;
    Node* n = nullptr;
    if (int err = GetNode(ino, &n)) return err;
    ino = n->inode.parent;
  }
  return ELOOP;
}

int Filesystem::Rename(const Caller& c, uint64_t parent, std::string_view name, uint64_t new_parent,
                       std::string_view new_name, unsigned flags) {
  constexpr unsigned kNoReplace = 1;  // RENAME_NOREPLACE
  constexpr unsigned kExchange = 2;   // RENAME_EXCHANGE
  constexpr unsigned kWhiteout = 4;   // RENAME_WHITEOUT (overlayfs)
  if ((flags & ~(kNoReplace | kExchange | kWhiteout)) != 0 || (flags & kExchange && flags != kExchange)) return EINVAL;
  std::lock_guard<std::mutex> lock(mu_);
  int err = RenameLocked(parent, name, new_parent, new_name, flags & ~kWhiteout);
  if (err != 0 || !(flags & kWhiteout)) return err;
  // A whiteout (character device 0:0) takes the old name, as overlayfs
  // asks of its upper layer. Nobody looked it up: it holds no lookup.
  Entry e;
  if (int werr = MakeNode(c, parent, name, S_IFCHR, 0, {}, &e)) return werr;
  Node* w = nodes_[e.ino].get();
  w->nlookup = 0;
  MaybeEvict(w);
  return 0;
}

int Filesystem::RenameLocked(uint64_t parent, std::string_view name, uint64_t new_parent, std::string_view new_name,
                             unsigned flags) {
  constexpr unsigned kNoReplace = 1;
  constexpr unsigned kExchange = 2;
  bool exchange = flags & kExchange;
  if (int err = CheckName(name)) return err;
  if (int err = CheckName(new_name)) return err;
  Node* op = nullptr;
  Node* np = nullptr;
  if (int err = GetNode(parent, &op)) return err;
  if (int err = GetNode(new_parent, &np)) return err;
  if (!op->inode.is_dir() || !np->inode.is_dir()) return ENOTDIR;
  if (np->inode.nlink == 0) return ENOENT;
  DirEntry se;
  if (int err = DirFind(op->inode, name, &se)) return err;
  DirEntry de;
  int derr = DirFind(np->inode, new_name, &de);
  if (derr != 0 && derr != ENOENT) return derr;
  bool exists = derr == 0;
  if (exchange && !exists) return ENOENT;
  if ((flags & kNoReplace) && exists) return EEXIST;
  if (exists && de.ino == se.ino) return 0;  // two names of one file: nothing to do
  Node* s = nullptr;
  if (int err = GetNode(se.ino, &s)) return err;
  Node* d = nullptr;
  if (exists) {
    if (int err = GetNode(de.ino, &d)) return err;
  }
  if (s->inode.is_dir() && parent != new_parent) {
    bool inside = false;
    if (int err = IsAncestor(se.ino, new_parent, &inside)) return err;
    if (inside) return EINVAL;
  }
  if (exchange && d->inode.is_dir() && parent != new_parent) {
    bool inside = false;
    if (int err = IsAncestor(de.ino, parent, &inside)) return err;
    if (inside) return EINVAL;
  }
  if (exists && !exchange) {
    if (s->inode.is_dir()) {
      if (!d->inode.is_dir()) return ENOTDIR;
      if (d->inode.dir_entries > 0) return ENOTEMPTY;
    } else if (d->inode.is_dir()) {
      return EISDIR;
    }
  }
  // Data before the inodes that describe it.
  for (Node* x : {s, d}) {
    if (x != nullptr && x->has_dirty()) {
      if (int err = FlushNode(x)) return err;
    }
  }
  bool same_dir = parent == new_parent;
  Inode opi = op->inode;
  Inode npi_own = np->inode;
  Inode* npi = same_dir ? &opi : &npi_own;
  DirEdit oedit;
  oedit.dir = parent;
  DirEdit nedit_own;
  nedit_own.dir = new_parent;
  DirEdit* nedit = same_dir ? &oedit : &nedit_own;
  Inode si = s->inode;
  Inode di = exists ? d->inode : Inode{};
  Timespec now = Now();
  bool victim_gone = false;
  if (exchange) {
    if (int err = DirRetarget(&opi, &oedit, name, de.ino, TypeOf(di.mode))) return err;
    if (int err = DirRetarget(npi, nedit, new_name, se.ino, TypeOf(si.mode))) return err;
    if (!same_dir) {
      if (si.is_dir()) {
        si.parent = new_parent;
        opi.nlink--;
        npi->nlink++;
      }
      if (di.is_dir()) {
        di.parent = parent;
        npi->nlink--;
        opi.nlink++;
      }
    }
    si.ctime = di.ctime = now;
  } else {
    if (exists) {
      if (int err = DirRetarget(npi, nedit, new_name, se.ino, TypeOf(si.mode))) return err;
      if (di.is_dir()) {
        di.nlink = 0;
        npi->nlink--;
      } else {
        di.nlink--;
      }
      di.ctime = now;
      victim_gone = di.nlink == 0;
    } else {
      if (int err = DirInsert(npi, nedit, DirEntry{std::string(new_name), se.ino, TypeOf(si.mode)})) return err;
    }
    if (int err = DirRemove(&opi, &oedit, name)) return err;
    if (si.is_dir() && !same_dir) {
      si.parent = new_parent;
      opi.nlink--;
      npi->nlink++;
    }
    si.ctime = now;
  }
  opi.mtime = opi.ctime = now;
  npi->mtime = npi->ctime = now;
  MetaBatch middle;
  MetaBatch tail;
  bool orphan = false;
  std::set<uint64_t> orphans_before = orphans_;
  if (victim_gone) {
    orphan = AddOrphan(d, &middle);
    if (di.is_dir()) DirEmpty(di, &tail);
  }
  std::vector<DirEdit*> edits = {&oedit};
  std::vector<const Inode*> inodes = {&si};
  if (exists) inodes.push_back(&di);
  inodes.push_back(&opi);
  if (!same_dir) {
    edits.push_back(nedit);
    inodes.push_back(npi);
  }
  if (int err = ApplyEdits(nullptr, edits, &middle, inodes, &tail)) {
    orphans_ = orphans_before;
    return err;
  }
  op->inode = opi;
  if (!same_dir) np->inode = *npi;
  s->inode = si;
  s->name_parent = new_parent;  // the kernel moved its entry (d_move)
  s->name.assign(new_name);
  if (exists) {
    d->inode = di;
    if (exchange) {
      d->name_parent = parent;
      d->name.assign(name);
    }
    if (victim_gone && !orphan) FreeInode(d);
  }
  return 0;
}

// ---------------------------------------------------------------------------
// Files

int Filesystem::Open(uint64_t ino, int flags) {
  std::lock_guard<std::mutex> lock(mu_);
  Node* n = nullptr;
  if (int err = GetNode(ino, &n)) return err;
  if (n->inode.is_dir() && (flags & O_ACCMODE) != O_RDONLY) return EISDIR;
  if ((flags & O_TRUNC) && n->inode.is_reg()) {  // the kernel checked write permission
    Timespec now = Now();
    n->inode.mtime = n->inode.ctime = now;
    if (int err = TruncateNode(n, 0)) return err;
  }
  n->nopen++;
  if (Writable(flags)) open_writers_++;
  return 0;
}

int Filesystem::Read(uint64_t ino, size_t size, uint64_t off, std::string* out) {
  // Stored blocks are fetched without the lock: a slow zdb (a missing-data
  // restore) holds up this reader only. A block freed or replaced meanwhile
  // (truncate, unlink, punch hole) reads as missing; the read is then
  // planned again against the new block map.
  for (int attempt = 1;; attempt++) {
    ReadPlan plan;
    uint64_t end = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      Node* n = nullptr;
      if (int err = GetNode(ino, &n)) return err;
      if (n->inode.is_dir()) return EISDIR;
      if (int err = PlanRead(n, off, size, out, &plan)) return err;
      end = off + out->size();
      if (plan.ids.empty()) {
        TouchAtime(n);
        return 0;
      }
    }
    auto got = store_->DataGetMany(plan.ids);
    std::lock_guard<std::mutex> lock(mu_);
    if (!got.ok()) {
      spdlog::error("reading inode {}: {}", ino, got.status().ToString());
      return ErrnoOf(got.status());
    }
    size_t missing = plan.ids.size();
    for (size_t i = 0; i < plan.ids.size() && missing == plan.ids.size(); i++)
      if (!(*got)[i]) missing = i;
    if (missing < plan.ids.size()) {
      if (attempt < 3) continue;
      spdlog::error("inode {} block {}: data id {} is missing in zdb", ino, plan.idxs[missing], plan.ids[missing]);
      return EIO;
    }
    for (size_t i = 0; i < plan.ids.size(); i++) CopyBlockPart(plan.idxs[i], *(*got)[i], off, end, out);
    Node* n = nullptr;
    if (GetNode(ino, &n) == 0) TouchAtime(n);
    return 0;
  }
}

// relatime: atime moves when it is older than the last change or a day
// old; it is written back with the file's other lazy updates.
void Filesystem::TouchAtime(Node* n) {
  Inode& in = n->inode;
  Timespec now = Now();
  auto before = [](const Timespec& a, const Timespec& b) { return a.sec < b.sec || (a.sec == b.sec && a.nsec <= b.nsec); };
  if (before(in.atime, in.mtime) || before(in.atime, in.ctime) || now.sec - in.atime.sec >= 24 * 3600) {
    in.atime = now;
    if (!dirty_nodes_.count(in.ino)) n->dirty_since = std::chrono::steady_clock::now();
    n->inode_dirty = true;
    dirty_nodes_.insert(in.ino);
  }
}

int Filesystem::Write(uint64_t ino, const char* buf, size_t size, uint64_t off, bool append, size_t* written) {
  std::lock_guard<std::mutex> lock(mu_);
  Node* n = nullptr;
  if (int err = GetNode(ino, &n)) return err;
  if (!n->inode.is_reg()) return EINVAL;
  if (append) off = n->inode.size;
  if (off + size > kMaxFileSize || off + size < off) return EFBIG;
  if (int err = WriteData(n, off, buf, size)) return err;
  *written = size;
  return 0;
}

int Filesystem::Flush(uint64_t ino) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = nodes_.find(ino);
  if (it == nodes_.end()) return 0;
  return FlushNode(it->second.get());
}

int Filesystem::Release(uint64_t ino, int flags) {
  std::lock_guard<std::mutex> lock(mu_);
  if (Writable(flags) && open_writers_ > 0) open_writers_--;
  auto it = nodes_.find(ino);
  if (it == nodes_.end()) return 0;
  Node* n = it->second.get();
  if (n->nopen > 0) n->nopen--;
  int err = n->inode.nlink > 0 ? FlushNode(n) : 0;
  MaybeEvict(n);
  return err;
}

int Filesystem::Fsync(uint64_t ino) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = nodes_.find(ino);
  if (it != nodes_.end()) {
    if (int err = FlushNode(it->second.get(), /*release_lock=*/true)) return err;
  }
  std::lock_guard<std::mutex> io(io_mu_);
  qs::Status s = store_->Sync();
  return s.ok() ? 0 : ErrnoOf(s);
}

int Filesystem::FsyncDir() {
  std::lock_guard<std::mutex> lock(mu_);
  std::lock_guard<std::mutex> io(io_mu_);
  qs::Status s = store_->Sync();
  return s.ok() ? 0 : ErrnoOf(s);
}

int Filesystem::OpenDir(uint64_t ino, std::unique_ptr<DirHandle>* out) {
  std::lock_guard<std::mutex> lock(mu_);
  Node* n = nullptr;
  if (int err = GetNode(ino, &n)) return err;
  if (!n->inode.is_dir()) return ENOTDIR;
  auto h = std::make_unique<DirHandle>();
  h->entries.push_back(DirEntry{".", ino, DT_DIR});
  h->entries.push_back(DirEntry{"..", n->inode.parent == 0 ? kRootIno : n->inode.parent, DT_DIR});
  if (int err = DirList(n->inode, &h->entries)) return err;
  *out = std::move(h);
  return 0;
}

int Filesystem::StatFs(struct statvfs* out) {
  std::lock_guard<std::mutex> lock(mu_);
  auto space = store_->Space();
  if (!space.ok()) return ErrnoOf(space.status());
  const uint64_t frsize = 4096;
  uint64_t pending = dirty_bytes_ + inflight_bytes_;
  uint64_t used = space->data_used + pending;
  uint64_t total = space->data_limit > 0 ? space->data_limit : space->data_used + space->disk_free;
  uint64_t avail = space->data_limit > 0 ? (space->data_limit > used ? space->data_limit - used : 0)
                                         : (space->disk_free > pending ? space->disk_free - pending : 0);
  *out = {};
  out->f_bsize = sb_.block_size;
  out->f_frsize = frsize;
  out->f_blocks = total / frsize;
  out->f_bfree = avail / frsize;
  out->f_bavail = avail / frsize;
  out->f_ffree = avail / 512;  // an inode record is a few hundred bytes
  out->f_favail = out->f_ffree;
  out->f_files = space->entries + out->f_ffree;
  out->f_namemax = 255;
  return 0;
}

// ---------------------------------------------------------------------------
// Extended attributes (stored in the inode record)

int Filesystem::SetXattr(uint64_t ino, std::string_view name, std::string_view value, int flags) {
  if (name.empty() || name.size() > 255) return ERANGE;
  if (value.size() > 65536) return E2BIG;
  std::lock_guard<std::mutex> lock(mu_);
  Node* n = nullptr;
  if (int err = GetNode(ino, &n)) return err;
  std::string key(name);
  auto it = n->inode.xattrs.find(key);
  if ((flags & XATTR_CREATE) && it != n->inode.xattrs.end()) return EEXIST;
  if ((flags & XATTR_REPLACE) && it == n->inode.xattrs.end()) return ENODATA;
  size_t old_bytes = it == n->inode.xattrs.end() ? 0 : key.size() + it->second.size();
  if (n->inode.XattrBytes() - old_bytes + key.size() + value.size() > kMaxXattrBytes) return ENOSPC;
  Inode old = n->inode;
  n->inode.xattrs[key] = std::string(value);
  n->inode.ctime = Now();
  if (int err = PersistInode(n)) {
    n->inode.xattrs = old.xattrs;
    n->inode.ctime = old.ctime;
    return err;
  }
  return 0;
}

int Filesystem::GetXattr(uint64_t ino, std::string_view name, std::string* out) {
  std::lock_guard<std::mutex> lock(mu_);
  Node* n = nullptr;
  if (int err = GetNode(ino, &n)) return err;
  auto it = n->inode.xattrs.find(std::string(name));
  if (it == n->inode.xattrs.end()) return ENODATA;
  *out = it->second;
  return 0;
}

int Filesystem::ListXattr(uint64_t ino, std::string* out) {
  std::lock_guard<std::mutex> lock(mu_);
  Node* n = nullptr;
  if (int err = GetNode(ino, &n)) return err;
  out->clear();
  for (const auto& [k, v] : n->inode.xattrs) {
    out->append(k);
    out->push_back('\0');
  }
  return 0;
}

int Filesystem::RemoveXattr(uint64_t ino, std::string_view name) {
  std::lock_guard<std::mutex> lock(mu_);
  Node* n = nullptr;
  if (int err = GetNode(ino, &n)) return err;
  auto it = n->inode.xattrs.find(std::string(name));
  if (it == n->inode.xattrs.end()) return ENODATA;
  Inode old = n->inode;
  n->inode.xattrs.erase(it);
  n->inode.ctime = Now();
  if (int err = PersistInode(n)) {
    n->inode.xattrs = old.xattrs;
    n->inode.ctime = old.ctime;
    return err;
  }
  return 0;
}

}  // namespace qsfs
