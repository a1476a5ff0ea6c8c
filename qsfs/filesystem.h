// Filesystem: the POSIX semantics of qsfs over a Store, independent of the
// FUSE wire protocol (fs_ops.cc adapts it). Every public method is
// thread-safe: one mutex (mu_) serialises them, including the background
// write-back, except that Read fetches stored blocks, an operation's first
// inodes are read (LoadNodeReleasingMu) and write-back sends data blocks
// with the mutex released (the mount lease is renewed by a thread of its
// own, lease.h).
// Methods return 0 or a positive errno.
//
// In memory: the NodeTable (node_table.h: a Node per inode the kernel
// references or has open, with the file's dirty data blocks and loaded
// block map chunks; parked and remembered inodes) and the DirCache
// (dir_cache.h, directory buckets). Everything else lives in the Store.
// The operations live by topic: nodes.cc (inodes loaded and evicted),
// names.cc (create, link, unlink, rename),
// dir_store.cc (directory buckets), block_store.cc (file data and
// write-back), fsck.cc (the mount-time check), this class's .cc the rest.
#pragma once

#include <sys/stat.h>
#include <sys/statvfs.h>

#include <chrono>
#include <functional>
#include <initializer_list>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/mutex.h"
#include "common/status.h"
#include "common/thread_annotations.h"
#include "qsfs/dir_bucket.h"
#include "qsfs/dir_cache.h"
#include "qsfs/fs_metrics.h"
#include "qsfs/inode.h"
#include "qsfs/lease.h"
#include "qsfs/node_table.h"
#include "qsfs/options.h"
#include "qsfs/store.h"
#include "qsfs/superblock.h"

namespace qsfs {

struct Caller {
  uint32_t uid = 0;
  uint32_t gid = 0;
};

struct Entry {
  uint64_t ino = 0;
  struct stat attr {};
};

// A snapshot of a directory taken at opendir (and at a rewind to offset
// 0): readdir offsets are indices into it, so they stay valid whatever
// happens to the directory meanwhile.
struct DirHandle {
  std::vector<DirEntry> entries;  // ".", ".." first
  bool started = false;           // a readdir at offset 0 after this retakes it
};

// What the mount-time consistency check found and repaired (fsck.cc).
struct FsckReport {
  uint64_t inodes = 0;             // inode records read
  uint64_t blocks = 0;             // data blocks in qsfs-data
  uint64_t inodes_freed = 0;       // no name reached them
  uint64_t link_counts_fixed = 0;  // set to what the names say
  uint64_t blocks_freed = 0;       // no live block map referenced them
  uint64_t unreadable_buckets = 0;  // directory buckets that did not decode
  double seconds = 0;
};

class Filesystem {
 public:
  // Opens the store, takes the mount lease, loads or formats the
  // superblock, frees orphans left by a crash.
  static qs::Result<std::unique_ptr<Filesystem>> Mount(const Options& options);
  // The same over a given store (a MemoryStore in tests); the store's
  // contents stay when the Filesystem goes, so they can be mounted again.
  static qs::Result<std::unique_ptr<Filesystem>> Mount(const Options& options, std::shared_ptr<Store> store);
  ~Filesystem();

  // Metrics to feed (null: off); call before Start. Not owned.
  void SetMetrics(FsMetrics* metrics);
  // How to make the kernel drop a directory entry (FUSE's
  // notify_inval_entry); null: never. Beyond inode_cache parked inodes,
  // the background thread asks the kernel to drop entries of parked inodes
  // found in the directory cache, so that it forgets them and the parked
  // table stays bounded. Set before Start; clear (null) before the session
  // it uses goes away: it waits for a notification in progress.
  using EntryInvalidator = std::function<void(uint64_t parent, const std::string& name)>;
  void SetEntryInvalidator(EntryInvalidator fn) EXCLUDES(inval_mu_);
  // How to make the kernel write back the dirty pages it holds for this
  // mount (a syncfs of the mountpoint); null: never. With writeback_cache
  // the background thread calls it every round while a file is open for
  // writing, so that no write stays in the kernel beyond the round. It is
  // called with no qsfs lock held and must not use the FUSE session (it
  // may run after the session loop ended). Set before Start.
  void SetKernelSync(std::function<void()> fn) { kernel_sync_ = std::move(fn); }
  // Starts the write-back thread (the lease thread runs from Mount on).
  void Start() EXCLUDES(mu_);
  // Flushes everything, frees unlinked inodes, releases the lease.
  qs::Status Shutdown() EXCLUDES(mu_);
  // 0 while a change may be acknowledged, else EIO: the mount lease is
  // overdue or lost (qsfs/lease.h). Thread-safe, takes no lock.
  int WriteGate() { return lease_->Gate(); }

  uint32_t block_size() const { return block_size_; }

  int Lookup(uint64_t parent, std::string_view name, Entry* out) EXCLUDES(mu_);
  void Forget(uint64_t ino, uint64_t nlookup) EXCLUDES(mu_);
  int GetAttr(uint64_t ino, struct stat* out) EXCLUDES(mu_);
  int SetAttr(uint64_t ino, const struct stat& attr, int to_set, struct stat* out) EXCLUDES(mu_);
  int ReadLink(uint64_t ino, std::string* out) EXCLUDES(mu_);
  // mode carries the file type (S_IFREG, S_IFIFO, S_IFCHR, ...).
  int MkNod(const Caller& c, uint64_t parent, std::string_view name, uint32_t mode, uint64_t rdev, Entry* out) EXCLUDES(mu_);
  int MkDir(const Caller& c, uint64_t parent, std::string_view name, uint32_t mode, Entry* out) EXCLUDES(mu_);
  int Symlink(const Caller& c, std::string_view target, uint64_t parent, std::string_view name, Entry* out) EXCLUDES(mu_);
  int Link(uint64_t ino, uint64_t parent, std::string_view name, Entry* out) EXCLUDES(mu_);
  int Unlink(uint64_t parent, std::string_view name) EXCLUDES(mu_);
  int RmDir(uint64_t parent, std::string_view name) EXCLUDES(mu_);
  // flags: RENAME_NOREPLACE, RENAME_EXCHANGE, RENAME_WHITEOUT.
  int Rename(const Caller& c, uint64_t parent, std::string_view name, uint64_t new_parent, std::string_view new_name,
             unsigned flags) EXCLUDES(mu_);

  int Open(uint64_t ino, int flags) EXCLUDES(mu_);
  int Create(const Caller& c, uint64_t parent, std::string_view name, uint32_t mode, int flags, Entry* out) EXCLUDES(mu_);
  int Read(uint64_t ino, size_t size, uint64_t off, std::string* out) EXCLUDES(mu_);
  int Write(uint64_t ino, const char* buf, size_t size, uint64_t off, bool append, size_t* written) EXCLUDES(mu_);
  int Flush(uint64_t ino) EXCLUDES(mu_);
  // flags: those of the open being released (write access is counted).
  int Release(uint64_t ino, int flags) EXCLUDES(mu_);
  int Fsync(uint64_t ino) EXCLUDES(mu_);
  int FsyncDir() EXCLUDES(mu_);
  int Fallocate(uint64_t ino, int mode, uint64_t off, uint64_t len) EXCLUDES(mu_);
  int Lseek(uint64_t ino, uint64_t off, int whence, uint64_t* out) EXCLUDES(mu_);

  int OpenDir(uint64_t ino, std::unique_ptr<DirHandle>* out) EXCLUDES(mu_);
  // Attributes of a readdirplus entry; counts a lookup.
  int LookupEntry(uint64_t ino, Entry* out) EXCLUDES(mu_);

  int StatFs(struct statvfs* out) EXCLUDES(mu_);

  int SetXattr(uint64_t ino, std::string_view name, std::string_view value, int flags) EXCLUDES(mu_);
  int GetXattr(uint64_t ino, std::string_view name, std::string* out) EXCLUDES(mu_);
  int ListXattr(uint64_t ino, std::string* out) EXCLUDES(mu_);  // names, each NUL-terminated
  int RemoveXattr(uint64_t ino, std::string_view name) EXCLUDES(mu_);

 private:
  // Pending changes to the buckets of one directory, applied to the cache
  // only once zdb has them.
  struct DirEdit {
    uint64_t dir = 0;
    struct Bucket {
      std::vector<DirEntry> entries;
      bool gains = false;         // an entry came or changed target
      bool loses = false;         // an entry left or changed target
      bool split_source = false;  // entries moved out by a split
    };
    std::map<uint32_t, Bucket> buckets;
  };

  explicit Filesystem(const Options& options, std::shared_ptr<Store> store);

  // --- lifecycle (filesystem.cc)
  qs::Status LoadOrFormat() REQUIRES(mu_);
  qs::Status CleanOrphans() REQUIRES(mu_);
  // After a crash (or with the fsck option), before serving: frees inodes
  // no name reaches and blocks no map references, sets link counts to what
  // the names say (docs/qsfs-format.md, "Crash consistency"). Needs mu_
  // held and nothing else using the namespaces.
  qs::Status Fsck(FsckReport* report) REQUIRES(mu_);
  void BackgroundLoop() EXCLUDES(mu_);
  int AllocIno(uint64_t* ino) REQUIRES(mu_);

  // --- nodes (nodes.cc; NewInode to PersistInode in filesystem.cc)
  // ino's Node, made from a remembered copy or the store's record when not
  // in memory (a store read with mu_ held; see LoadNodeReleasingMu).
  int GetNode(uint64_t ino, Node** out) REQUIRES(mu_);
  // Makes ino's Node present, reading its record with mu_ released when no
  // copy is in memory (store_->MetaRead); *released says whether it did.
  // Releases mu_: call only where the operation holds no pointer into the
  // tables (at its start, or before it looks again). The rule that keeps a
  // read outside the lock from installing a stale inode: every change of
  // an inode goes through its Node, so the store's record can only change
  // while a Node is installed; the reading thread holds ino's latch
  // (loading_), another thread missing ino waits for that read instead of
  // making its own, and a Node installed meanwhile (GetNode under mu_)
  // marks the latch superseded: the read is then dropped. Errors as GetNode.
  int LoadNodeReleasingMu(uint64_t ino, bool* released) REQUIRES(mu_);
  // LoadNodeReleasingMu for each, errors left to the operation's GetNode.
  void LoadNodesReleasingMu(std::initializer_list<uint64_t> inos) REQUIRES(mu_);
  // Adds a Node to the table; supersedes a latched read of its inode.
  Node* InstallNode(std::unique_ptr<Node> node) REQUIRES(mu_);
  void MaybeEvict(Node* n) REQUIRES(mu_);
  void SweepNodes() REQUIRES(mu_);
  Inode NewInode(const Caller& c, const Inode& parent, uint32_t mode);
  int CheckName(std::string_view name) const;
  void Stat(const Node* n, struct stat* st) const REQUIRES(mu_);
  // For an inode losing its last name: true when it is still open, in
  // which case *batch records it in the orphan list.
  bool AddOrphan(Node* n, MetaBatch* batch) REQUIRES(mu_);
  // Deletes the inode, its block map and its data from zdb. The Node stays
  // (marked freed) while the kernel still holds a lookup on it.
  int FreeInode(Node* n) REQUIRES(mu_);
  // Sends in one ordered pipeline: head, buckets that gained entries (a
  // retarget both gains and loses), buckets that only lost entries, middle,
  // the inodes, split-source buckets,
  // tail (docs/qsfs-format.md, "Crash consistency"). On failure reloads
  // the involved inodes and forgets the cached buckets.
  int ApplyEdits(MetaBatch* head, const std::vector<DirEdit*>& edits, MetaBatch* middle,
                 const std::vector<const Inode*>& inodes, MetaBatch* tail) REQUIRES(mu_);
  void ReloadAfterFailure(const std::vector<DirEdit*>& edits, const std::vector<const Inode*>& inodes) REQUIRES(mu_);
  int MakeNode(const Caller& c, uint64_t parent, std::string_view name, uint32_t mode, uint64_t rdev,
               std::string_view symlink, Entry* out) REQUIRES(mu_);
  int RemoveName(uint64_t parent, std::string_view name, bool dir) REQUIRES(mu_);
  int RenameLocked(uint64_t parent, std::string_view name, uint64_t new_parent, std::string_view new_name, unsigned flags) REQUIRES(mu_);
  int IsAncestor(uint64_t maybe_ancestor, uint64_t ino, bool* out) REQUIRES(mu_);
  int PersistInode(Node* n) REQUIRES(mu_);
  void TouchAtime(Node* n) REQUIRES(mu_);  // relatime, after a read

  // --- directories (dir_store.cc)
  int DirBucket(uint64_t dir, const Inode& dir_inode, uint32_t b, DirEdit* edit, std::vector<DirEntry>** out) REQUIRES(mu_);
  int DirFind(const Inode& dir, std::string_view name, DirEntry* out) REQUIRES(mu_);
  int DirInsert(Inode* dir, DirEdit* edit, DirEntry e) REQUIRES(mu_);
  int DirRemove(Inode* dir, DirEdit* edit, std::string_view name) REQUIRES(mu_);
  int DirRetarget(Inode* dir, DirEdit* edit, std::string_view name, uint64_t ino, uint8_t type) REQUIRES(mu_);
  int DirList(const Inode& dir, std::vector<DirEntry>* out) REQUIRES(mu_);
  void DirEmpty(const Inode& dir, MetaBatch* batch) REQUIRES(mu_);  // DEL of every bucket key

  // --- file data (block_store.cc)
  int LoadChunk(Node* n, uint32_t c, Chunk** out) REQUIRES(mu_);
  int BlockContent(Node* n, uint64_t idx, std::string* out) REQUIRES(mu_);
  // A read in two steps, so zdb is asked without the lock held: PlanRead
  // (locked) sizes *out, copies dirty blocks into it and lists the stored
  // blocks to fetch; the caller fetches them and copies each in with
  // CopyBlockPart. Holes stay zeros.
  struct ReadPlan {
    std::vector<uint64_t> ids;   // zdb data ids to fetch
    std::vector<uint64_t> idxs;  // their block indices
  };
  int PlanRead(Node* n, uint64_t off, size_t size, std::string* out, ReadPlan* plan) REQUIRES(mu_);
  // Copies the part of block idx (bytes `data`) within [off, end) into out,
  // which holds the bytes from off.
  void CopyBlockPart(uint64_t idx, const std::string& data, uint64_t off, uint64_t end, std::string* out) const REQUIRES(mu_);
  // The dirty cache cannot take `more` bytes now.
  bool CacheOver(size_t more) const REQUIRES(mu_);
  int WriteData(Node* n, uint64_t off, const char* buf, size_t size) REQUIRES(mu_);
  // Writing a file back takes three steps, so that the code that releases
  // mu_ around the data write is the caller's own: BeginFlush (mu_ held)
  // turns n's dirty blocks into in-flight versions and lists their writes;
  // WriteFlush sends them (io_mu_ held); EndFlush (mu_ held) maps the
  // written blocks, then writes the map chunks and the inode.
  struct FlushJob {
    bool clean = false;  // nothing to write: the other fields are empty
    struct Pending {
      uint64_t idx;
      std::optional<uint64_t> old_id;  // updated in place when set
      std::shared_ptr<const std::string> data;
    };
    std::vector<Pending> pending;
    std::vector<Store::BlockWrite> writes;  // views into pending[].data
    std::vector<std::optional<uint64_t>> ids;
    qs::Status failed;
  };
  int BeginFlush(Node* n, FlushJob* job) REQUIRES(mu_);
  void WriteFlush(FlushJob* job) REQUIRES(io_mu_);
  // released: called by FlushNodeReleasingMu (mu_ may have been released
  // during WriteFlush).
  int EndFlush(Node* n, FlushJob* job, bool released) REQUIRES(mu_);
  // The three steps with mu_ held throughout.
  int FlushNode(Node* n) REQUIRES(mu_);
  // The three steps with mu_ released during the data write, after waiting
  // for another such flush of n (n is pinned meanwhile). Only for callers
  // that hold nothing a concurrent operation could invalidate: FlushAll
  // and Fsync.
  int FlushNodeReleasingMu(Node* n) REQUIRES(mu_);
  // Flushes dirty nodes (all, or those older than writeback_delay), each
  // with FlushNodeReleasingMu: callers hold no pointer into the node table
  // across it but to nodes that are open (WriteData's).
  int FlushAll(bool only_expired) REQUIRES(mu_);
  int TruncateNode(Node* n, uint64_t new_size) REQUIRES(mu_);
  int PunchHole(Node* n, uint64_t off, uint64_t len) REQUIRES(mu_);
  // Clears the slots of blocks [first, end) into *ids.
  int ClearSlots(Node* n, uint64_t first, uint64_t end, std::vector<uint64_t>* ids) REQUIRES(mu_);
  void DropDirty(Node* n, uint64_t first_block) REQUIRES(mu_);
  bool BlockHasData(Node* n, uint64_t idx, int* err) REQUIRES(mu_);

  // Set before the Filesystem is shared (Mount, Set*, Start), read only after.
  const Options options_;
  const std::shared_ptr<Store> store_;
  FsMetrics* metrics_ = nullptr;
  std::function<void()> kernel_sync_;
  std::unique_ptr<MountLease> lease_;  // set by Mount
  bool took_stale_lease_ = false;      // the previous mount did not unmount cleanly
  uint32_t block_size_ = 0;            // sb_.block_size, fixed at mount

  // Lock order: mu_, then io_mu_; inval_mu_ never with mu_ held.
  qs::Mutex mu_;
  // Serialises use of the store's data-writing connection (DataWrite,
  // DataDelMany, Sync); taken after mu_, and FlushNodeReleasingMu takes it
  // before releasing mu_, so writes to one block id reach zdb in the order
  // their versions were made.
  qs::Mutex io_mu_ ACQUIRED_AFTER(mu_);
  qs::CondVar flush_cv_;  // a flush that released mu_ finished
  uint64_t open_writers_ GUARDED_BY(mu_) = 0;  // opens with write access, all files
  Superblock sb_ GUARDED_BY(mu_);
  uint64_t next_ino_ GUARDED_BY(mu_) = 0;
  uint64_t reserved_until_ GUARDED_BY(mu_) = 0;
  NodeTable table_ GUARDED_BY(mu_);
  // Inodes whose record a thread reads with mu_ released (the latch of
  // LoadNodeReleasingMu) -> superseded: a Node was installed meanwhile.
  std::unordered_map<uint64_t, bool> loading_ GUARDED_BY(mu_);
  qs::CondVar loaded_cv_;  // a latched read finished
  size_t sweep_at_ GUARDED_BY(mu_) = 8192;  // SweepNodes scans when the table reaches this size
  size_t nodes_peak_ GUARDED_BY(mu_) = 0;   // largest table since memory was last trimmed
  std::set<uint64_t> orphans_ GUARDED_BY(mu_);
  uint64_t dirty_bytes_ GUARDED_BY(mu_) = 0;     // bytes in Node::dirty maps
  uint64_t inflight_bytes_ GUARDED_BY(mu_) = 0;  // bytes in Node::inflight maps
  bool flush_requested_ GUARDED_BY(mu_) = false;  // the dirty cache is half full: background flushes all
  std::set<uint64_t> dirty_nodes_ GUARDED_BY(mu_);

  DirCache dir_cache_ GUARDED_BY(mu_);

  // Parked inodes while there are more than inode_cache of them: up to a
  // round's worth of (parent, name) entries to ask the kernel to drop,
  // each asked for once. The background thread asks (InvalidateEntries)
  // with mu_ released: the kernel takes the directory's lock.
  std::vector<std::pair<uint64_t, std::string>> ParkedEntriesToDrop() REQUIRES(mu_);
  void InvalidateEntries(const std::vector<std::pair<uint64_t, std::string>>& entries) EXCLUDES(mu_, inval_mu_);
  qs::Mutex inval_mu_;  // held while invalidator_ runs
  EntryInvalidator invalidator_ GUARDED_BY(inval_mu_);

  std::thread background_;
  qs::CondVar wake_;
  bool stopping_ GUARDED_BY(mu_) = false;
  bool shut_down_ GUARDED_BY(mu_) = false;
};

}  // namespace qsfs
