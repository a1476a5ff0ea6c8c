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
constexpr uint64_t kInoReserve = 1024;  // inode numbers reserved per superblock write
constexpr uint64_t kMaxFileSize = uint64_t{1} << 44;  // 16 TiB, as ext4

// An open with write access (counted in open_writers_).
bool Writable(int open_flags) { return (open_flags & O_ACCMODE) != O_RDONLY; }
}  // namespace

Filesystem::Filesystem(const Options& options, std::shared_ptr<Store> store)
    : options_(options),
      store_(std::move(store)),
      table_(options.inode_cache),
      dir_cache_(options.dir_cache_buckets) {
  // A small inode cache is held from the first sweep on, not from 8192.
  sweep_at_ = std::min<size_t>(sweep_at_, options_.inode_cache + 1);
}

Filesystem::~Filesystem() {
  {
    qs::MutexLock lock(&mu_);
    stopping_ = true;
  }
  wake_.SignalAll();
  if (background_.joinable()) background_.join();
}

qs::Result<std::unique_ptr<Filesystem>> Filesystem::Mount(const Options& options) {
  auto store = ZdbStore::Open(options);
  if (!store.ok()) return store.status();
  return Mount(options, std::shared_ptr<Store>(std::move(store.value())));
}

qs::Result<std::unique_ptr<Filesystem>> Filesystem::Mount(const Options& options, std::shared_ptr<Store> store) {
  std::unique_ptr<Filesystem> fs(new Filesystem(options, std::move(store)));
  qs::MutexLock lock(&fs->mu_);
  fs->lease_ = std::make_unique<MountLease>(options, fs->store_.get());
  QS_RETURN_IF_ERROR(fs->lease_->Acquire(&fs->took_stale_lease_));
  fs->lease_->Start();  // renewed from now on, through a long check too
  qs::Status s = fs->LoadOrFormat();
  fs->block_size_ = fs->sb_.block_size;
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
  qs::MutexLock lock(&mu_);
  auto period = std::chrono::duration<double>(std::clamp(options_.writeback_delay_seconds / 2, 0.1, 1.0));
  while (!stopping_) {
    wake_.WaitFor(&mu_, period);
    if (stopping_) break;
    // Writes the kernel caches (writeback_cache) come to qsfs first, then
    // go to zdb with the rest. Only while a file is open for writing: the
    // kernel writes a file's pages back when it is closed.
    if (options_.writeback_cache && open_writers_ > 0 && kernel_sync_) {
      lock.Unlock();
      kernel_sync_();
      lock.Lock();
      if (stopping_) break;
    }
    bool all = flush_requested_;  // the dirty cache is half full
    flush_requested_ = false;
    if (!lease_->fenced()) FlushAll(!all);  // zdb would refuse every write
    // Nodes the kernel forgot are freed, but the allocator keeps their pages:
    // hand them back once the table has shrunk well below its peak.
    if (table_.size() + 8192 < nodes_peak_) {
      malloc_trim(0);
      nodes_peak_ = table_.size();
    }
    nodes_peak_ = std::max(nodes_peak_, table_.size());
    std::vector<std::pair<uint64_t, std::string>> drop = ParkedEntriesToDrop();
    if (!drop.empty()) {
      lock.Unlock();  // the kernel takes the directory's lock: no qsfs lock held
      InvalidateEntries(drop);
      lock.Lock();
    }
    if (metrics_ != nullptr) {
      metrics_->SetDirty(dirty_bytes_ + inflight_bytes_);
      metrics_->SetCachedInodes(table_.size());
      metrics_->SetParkedInodes(table_.parked());
    }
  }
}

void Filesystem::SetEntryInvalidator(EntryInvalidator fn) {
  qs::MutexLock lock(&inval_mu_);
  invalidator_ = std::move(fn);
}

std::vector<std::pair<uint64_t, std::string>> Filesystem::ParkedEntriesToDrop() {
  if (table_.parked() <= options_.inode_cache) return {};
  // The kernel can only be told to drop an entry by its parent and name:
  // each parked inode keeps the name it was last looked up by, and that
  // name is asked for once (a new lookup sets one again), so an entry the
  // kernel cannot drop (a working directory) is not asked for every round.
  constexpr size_t kPerRound = 16384;
  return table_.TakeParkedNames(std::min(kPerRound, table_.parked() - options_.inode_cache / 2));
}

void Filesystem::InvalidateEntries(const std::vector<std::pair<uint64_t, std::string>>& entries) {
  qs::MutexLock inval(&inval_mu_);
  if (!invalidator_) return;
  for (const auto& [dir, name] : entries) invalidator_(dir, name);
}

qs::Status Filesystem::Shutdown() {
  {
    qs::MutexLock lock(&mu_);
    stopping_ = true;
  }
  wake_.SignalAll();
  if (background_.joinable()) background_.join();
  qs::MutexLock lock(&mu_);
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
  for (const auto& [ino, n] : table_.nodes()) {
    if (n->inode.nlink == 0 && !n->freed) unlinked.push_back(ino);
  }
  for (uint64_t ino : orphans_) unlinked.push_back(ino);
  for (uint64_t ino : unlinked) {
    Node* n = nullptr;
    if (GetNode(ino, &n) == 0 && n->inode.nlink == 0 && !n->freed) FreeInode(n);
  }
  qs::MutexLock io(&io_mu_);
  qs::Status s = store_->Sync();
  io.Unlock();
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
// Inodes (loading and eviction: nodes.cc)

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
    qs::MutexLock io(&io_mu_);
    s = store_->DataDelMany(ids);
    if (!s.ok()) spdlog::warn("freeing {} blocks of inode {}: {}", ids.size(), ino, s.ToString());
  }
  dirty_nodes_.erase(ino);
  if (n->nlookup == 0 && n->pins == 0) {
    table_.Erase(ino);
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

// ---------------------------------------------------------------------------
// Namespace operations

int Filesystem::Lookup(uint64_t parent, std::string_view name, Entry* out) {
  qs::MutexLock lock(&mu_);
  SweepNodes();
  if (int err = CheckName(name)) return err;
  LoadNodesReleasingMu({parent});
  DirEntry e;
  for (int attempt = 0;; attempt++) {
    Node* p = nullptr;
    if (int err = GetNode(parent, &p)) return err;
    if (!p->inode.is_dir()) return ENOTDIR;
    if (int err = DirFind(p->inode, name, &e)) return err;
    bool released = false;
    if (attempt > 0 || LoadNodeReleasingMu(e.ino, &released) != 0 || !released) break;
    // The child was read with mu_ released: the directory may have changed.
  }
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
  qs::MutexLock lock(&mu_);
  SweepNodes();
  LoadNodesReleasingMu({ino});
  Node* n = nullptr;
  if (int err = GetNode(ino, &n)) return err;
  n->nlookup++;
  out->ino = ino;
  Stat(n, &out->attr);
  return 0;
}

void Filesystem::Forget(uint64_t ino, uint64_t nlookup) {
  qs::MutexLock lock(&mu_);
  Node* n = table_.Find(ino);
  if (n == nullptr || ino == kRootIno) {
    table_.ForgetParked(ino, nlookup);
    return;
  }
  n->nlookup -= std::min(n->nlookup, nlookup);
  MaybeEvict(n);
}

int Filesystem::GetAttr(uint64_t ino, struct stat* out) {
  qs::MutexLock lock(&mu_);
  LoadNodesReleasingMu({ino});
  Node* n = nullptr;
  if (int err = GetNode(ino, &n)) return err;
  Stat(n, out);
  return 0;
}

int Filesystem::SetAttr(uint64_t ino, const struct stat& attr, int to_set, struct stat* out) {
  qs::MutexLock lock(&mu_);
  LoadNodesReleasingMu({ino});
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
  qs::MutexLock lock(&mu_);
  LoadNodesReleasingMu({ino});
  Node* n = nullptr;
  if (int err = GetNode(ino, &n)) return err;
  if (!n->inode.is_symlink()) return EINVAL;
  *out = n->inode.symlink;
  return 0;
}

int Filesystem::Create(const Caller& c, uint64_t parent, std::string_view name, uint32_t mode, int flags,
                       Entry* out) {
  qs::MutexLock lock(&mu_);
  LoadNodesReleasingMu({parent});
  if (int err = MakeNode(c, parent, name, S_IFREG | (mode & 07777), 0, {}, out)) return err;
  table_.Find(out->ino)->nopen++;
  if (Writable(flags)) open_writers_++;
  return 0;
}

// ---------------------------------------------------------------------------
// Files

int Filesystem::Open(uint64_t ino, int flags) {
  qs::MutexLock lock(&mu_);
  LoadNodesReleasingMu({ino});
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
      qs::MutexLock lock(&mu_);
      LoadNodesReleasingMu({ino});
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
    qs::MutexLock lock(&mu_);
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
  qs::MutexLock lock(&mu_);
  LoadNodesReleasingMu({ino});
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
  qs::MutexLock lock(&mu_);
  Node* n = table_.Find(ino);
  return n == nullptr ? 0 : FlushNode(n);
}

int Filesystem::Release(uint64_t ino, int flags) {
  qs::MutexLock lock(&mu_);
  if (Writable(flags) && open_writers_ > 0) open_writers_--;
  Node* n = table_.Find(ino);
  if (n == nullptr) return 0;
  if (n->nopen > 0) n->nopen--;
  int err = n->inode.nlink > 0 ? FlushNode(n) : 0;
  MaybeEvict(n);
  return err;
}

int Filesystem::Fsync(uint64_t ino) {
  qs::MutexLock lock(&mu_);
  if (Node* n = table_.Find(ino)) {
    if (int err = FlushNodeReleasingMu(n)) return err;
  }
  qs::MutexLock io(&io_mu_);
  qs::Status s = store_->Sync();
  return s.ok() ? 0 : ErrnoOf(s);
}

int Filesystem::FsyncDir() {
  qs::MutexLock lock(&mu_);
  qs::MutexLock io(&io_mu_);
  qs::Status s = store_->Sync();
  return s.ok() ? 0 : ErrnoOf(s);
}

int Filesystem::OpenDir(uint64_t ino, std::unique_ptr<DirHandle>* out) {
  qs::MutexLock lock(&mu_);
  LoadNodesReleasingMu({ino});
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
  qs::MutexLock lock(&mu_);
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
  qs::MutexLock lock(&mu_);
  LoadNodesReleasingMu({ino});
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
  qs::MutexLock lock(&mu_);
  LoadNodesReleasingMu({ino});
  Node* n = nullptr;
  if (int err = GetNode(ino, &n)) return err;
  auto it = n->inode.xattrs.find(std::string(name));
  if (it == n->inode.xattrs.end()) return ENODATA;
  *out = it->second;
  return 0;
}

int Filesystem::ListXattr(uint64_t ino, std::string* out) {
  qs::MutexLock lock(&mu_);
  LoadNodesReleasingMu({ino});
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
  qs::MutexLock lock(&mu_);
  LoadNodesReleasingMu({ino});
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
