// Filesystem: the POSIX semantics of qsfs over a Store, independent of the
// FUSE wire protocol (fs_ops.cc adapts it). Every public method is
// thread-safe: one mutex serialises them, including the background
// write-back, except that Read fetches stored blocks with the mutex
// released (the mount lease is renewed by a thread of its own, lease.h).
// Methods return 0 or a positive errno.
//
// In memory: a Node per inode the kernel references (lookup count) or has
// open, with the file's dirty data blocks and its loaded block map chunks;
// an LRU cache of directory buckets. Everything else lives in zdb.
#pragma once

#include <sys/stat.h>
#include <sys/statvfs.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "qsfs/dir_bucket.h"
#include "qsfs/fs_metrics.h"
#include "qsfs/inode.h"
#include "qsfs/lease.h"
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
  void SetEntryInvalidator(EntryInvalidator fn);
  // How to make the kernel write back the dirty pages it holds for this
  // mount (a syncfs of the mountpoint); null: never. With writeback_cache
  // the background thread calls it every round while a file is open for
  // writing, so that no write stays in the kernel beyond the round. It is
  // called with no qsfs lock held and must not use the FUSE session (it
  // may run after the session loop ended). Set before Start.
  void SetKernelSync(std::function<void()> fn) { kernel_sync_ = std::move(fn); }
  // Starts the write-back thread (the lease thread runs from Mount on).
  void Start();
  // Flushes everything, frees unlinked inodes, releases the lease.
  qs::Status Shutdown();
  // 0 while a change may be acknowledged, else EIO: the mount lease is
  // overdue or lost (qsfs/lease.h). Thread-safe, takes no lock.
  int WriteGate() { return lease_->Gate(); }

  uint32_t block_size() const { return sb_.block_size; }

  int Lookup(uint64_t parent, std::string_view name, Entry* out);
  void Forget(uint64_t ino, uint64_t nlookup);
  int GetAttr(uint64_t ino, struct stat* out);
  int SetAttr(uint64_t ino, const struct stat& attr, int to_set, struct stat* out);
  int ReadLink(uint64_t ino, std::string* out);
  // mode carries the file type (S_IFREG, S_IFIFO, S_IFCHR, ...).
  int MkNod(const Caller& c, uint64_t parent, std::string_view name, uint32_t mode, uint64_t rdev, Entry* out);
  int MkDir(const Caller& c, uint64_t parent, std::string_view name, uint32_t mode, Entry* out);
  int Symlink(const Caller& c, std::string_view target, uint64_t parent, std::string_view name, Entry* out);
  int Link(uint64_t ino, uint64_t parent, std::string_view name, Entry* out);
  int Unlink(uint64_t parent, std::string_view name);
  int RmDir(uint64_t parent, std::string_view name);
  // flags: RENAME_NOREPLACE, RENAME_EXCHANGE, RENAME_WHITEOUT.
  int Rename(const Caller& c, uint64_t parent, std::string_view name, uint64_t new_parent, std::string_view new_name,
             unsigned flags);

  int Open(uint64_t ino, int flags);
  int Create(const Caller& c, uint64_t parent, std::string_view name, uint32_t mode, int flags, Entry* out);
  int Read(uint64_t ino, size_t size, uint64_t off, std::string* out);
  int Write(uint64_t ino, const char* buf, size_t size, uint64_t off, bool append, size_t* written);
  int Flush(uint64_t ino);
  // flags: those of the open being released (write access is counted).
  int Release(uint64_t ino, int flags);
  int Fsync(uint64_t ino);
  int FsyncDir();
  int Fallocate(uint64_t ino, int mode, uint64_t off, uint64_t len);
  int Lseek(uint64_t ino, uint64_t off, int whence, uint64_t* out);

  int OpenDir(uint64_t ino, std::unique_ptr<DirHandle>* out);
  // Attributes of a readdirplus entry; counts a lookup.
  int LookupEntry(uint64_t ino, Entry* out);

  int StatFs(struct statvfs* out);

  int SetXattr(uint64_t ino, std::string_view name, std::string_view value, int flags);
  int GetXattr(uint64_t ino, std::string_view name, std::string* out);
  int ListXattr(uint64_t ino, std::string* out);  // names, each NUL-terminated
  int RemoveXattr(uint64_t ino, std::string_view name);

 private:
  struct Chunk {
    std::vector<uint64_t> slots;
    bool dirty = false;
  };
  struct Node {
    Inode inode;
    uint64_t nlookup = 0;
    // The name the kernel last looked this inode up by (lookup, create,
    // link, rename), so that it can be asked to drop that entry once the
    // inode is parked (ShedParked). Stale after an unlink elsewhere: asking
    // to drop a name that is gone or points elsewhere is harmless.
    uint64_t name_parent = 0;
    std::string name;
    uint32_t nopen = 0;
    bool inode_dirty = false;                // inode newer in memory than in zdb
    bool freed = false;                      // no name, not open: gone from zdb
    std::map<uint64_t, std::string> dirty;   // block index -> block bytes
    // Blocks an unlocked flush is writing to zdb: read like dirty ones. An
    // operation that drops or rewrites such a block erases its entry, and
    // the flush then discards what it wrote for it.
    std::map<uint64_t, std::shared_ptr<const std::string>> inflight;
    bool flushing = false;  // an unlocked flush of this node runs (one at a time)
    uint32_t pins = 0;      // held by an unlocked flush: not evicted meanwhile
    std::map<uint32_t, Chunk> chunks;        // loaded block map chunks
    std::chrono::steady_clock::time_point dirty_since;
    bool has_dirty() const { return inode_dirty || !dirty.empty() || !inflight.empty(); }
    bool chunks_dirty() const {
      for (const auto& [c, chunk] : chunks)
        if (chunk.dirty) return true;
      return false;
    }
  };
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
  qs::Status LoadOrFormat();
  qs::Status CleanOrphans();
  // After a crash (or with the fsck option), before serving: frees inodes
  // no name reaches and blocks no map references, sets link counts to what
  // the names say (docs/qsfs-format.md, "Crash consistency"). Needs mu_
  // held and nothing else using the namespaces.
  qs::Status Fsck(FsckReport* report);
  void BackgroundLoop();
  int AllocIno(uint64_t* ino);

  // --- nodes (filesystem.cc)
  int GetNode(uint64_t ino, Node** out);
  void MaybeEvict(Node* n);
  void SweepNodes();
  // Keeps a copy of n's inode in forgotten_ when n is clean and about to
  // leave nodes_.
  void Remember(const Node* n);
  Inode NewInode(const Caller& c, const Inode& parent, uint32_t mode);
  int CheckName(std::string_view name) const;
  void Stat(const Node* n, struct stat* st) const;
  // For an inode losing its last name: true when it is still open, in
  // which case *batch records it in the orphan list.
  bool AddOrphan(Node* n, MetaBatch* batch);
  // Deletes the inode, its block map and its data from zdb. The Node stays
  // (marked freed) while the kernel still holds a lookup on it.
  int FreeInode(Node* n);
  // Sends in one ordered pipeline: head, buckets that gained entries (a
  // retarget both gains and loses), buckets that only lost entries, middle,
  // the inodes, split-source buckets,
  // tail (docs/qsfs-format.md, "Crash consistency"). On failure reloads
  // the involved inodes and forgets the cached buckets.
  int ApplyEdits(MetaBatch* head, const std::vector<DirEdit*>& edits, MetaBatch* middle,
                 const std::vector<const Inode*>& inodes, MetaBatch* tail);
  void ReloadAfterFailure(const std::vector<DirEdit*>& edits, const std::vector<const Inode*>& inodes);
  int MakeNode(const Caller& c, uint64_t parent, std::string_view name, uint32_t mode, uint64_t rdev,
               std::string_view symlink, Entry* out);
  int RemoveName(uint64_t parent, std::string_view name, bool dir);
  int RenameLocked(uint64_t parent, std::string_view name, uint64_t new_parent, std::string_view new_name, unsigned flags);
  int IsAncestor(uint64_t maybe_ancestor, uint64_t ino, bool* out);
  int PersistInode(Node* n);
  void TouchAtime(Node* n);  // relatime, after a read

  // --- directories (dir_store.cc)
  int DirBucket(uint64_t dir, const Inode& dir_inode, uint32_t b, DirEdit* edit, std::vector<DirEntry>** out);
  int DirFind(const Inode& dir, std::string_view name, DirEntry* out);
  int DirInsert(Inode* dir, DirEdit* edit, DirEntry e);
  int DirRemove(Inode* dir, DirEdit* edit, std::string_view name);
  int DirRetarget(Inode* dir, DirEdit* edit, std::string_view name, uint64_t ino, uint8_t type);
  int DirList(const Inode& dir, std::vector<DirEntry>* out);
  void DirEmpty(const Inode& dir, MetaBatch* batch);  // DEL of every bucket key
  void CachePut(const std::string& key, std::vector<DirEntry> entries);
  void CacheDrop(const std::string& key);

  // --- file data (block_store.cc)
  int LoadChunk(Node* n, uint32_t c, Chunk** out);
  int BlockContent(Node* n, uint64_t idx, std::string* out);
  // A read in two steps, so zdb is asked without the lock held: PlanRead
  // (locked) sizes *out, copies dirty blocks into it and lists the stored
  // blocks to fetch; the caller fetches them and copies each in with
  // CopyBlockPart. Holes stay zeros.
  struct ReadPlan {
    std::vector<uint64_t> ids;   // zdb data ids to fetch
    std::vector<uint64_t> idxs;  // their block indices
  };
  int PlanRead(Node* n, uint64_t off, size_t size, std::string* out, ReadPlan* plan);
  // Copies the part of block idx (bytes `data`) within [off, end) into out,
  // which holds the bytes from off.
  void CopyBlockPart(uint64_t idx, const std::string& data, uint64_t off, uint64_t end, std::string* out) const;
  int WriteData(Node* n, uint64_t off, const char* buf, size_t size);
  // Writes n's dirty blocks, then its map chunks and inode. With
  // release_lock the lock is released during the data I/O (after waiting
  // for another unlocked flush of n): only for callers that hold nothing a
  // concurrent operation could invalidate (FlushAll, Fsync).
  int FlushNode(Node* n, bool release_lock = false);
  // Flushes dirty nodes (all, or those older than writeback_delay), each
  // with the lock released during its data I/O.
  int FlushAll(bool only_expired);
  int TruncateNode(Node* n, uint64_t new_size);
  int PunchHole(Node* n, uint64_t off, uint64_t len);
  // Clears the slots of blocks [first, end) into *ids.
  int ClearSlots(Node* n, uint64_t first, uint64_t end, std::vector<uint64_t>* ids);
  void DropDirty(Node* n, uint64_t first_block);
  bool BlockHasData(Node* n, uint64_t idx, int* err);

  Options options_;
  std::shared_ptr<Store> store_;
  FsMetrics* metrics_ = nullptr;
  std::function<void()> kernel_sync_;
  uint64_t open_writers_ = 0;  // opens with write access, all files (under mu_)
  Superblock sb_;
  uint64_t next_ino_ = 0;
  uint64_t reserved_until_ = 0;
  std::unique_ptr<MountLease> lease_;  // set by Mount
  bool took_stale_lease_ = false;  // the previous mount did not unmount cleanly

  std::mutex mu_;
  // Serialises use of the store's data-writing connection (DataWrite,
  // DataDelMany, Sync); taken after mu_, and an unlocked flush takes it
  // before releasing mu_, so writes to one block id reach zdb in the order
  // their versions were made.
  std::mutex io_mu_;
  std::condition_variable_any flush_cv_;  // an unlocked flush finished
  std::unordered_map<uint64_t, std::unique_ptr<Node>> nodes_;
  // Clean inodes dropped from nodes_ beyond options_.inode_cache while the
  // kernel holds lookups on them. Never in both maps.
  struct Parked {
    uint64_t lookups = 0;
    uint64_t name_parent = 0;  // Node::name_parent and Node::name; the name
    std::string name;          // is cleared once the kernel was asked to drop it
  };
  std::unordered_map<uint64_t, Parked> parked_;
  // Clean inodes that left nodes_ (the kernel forgot them), most recent
  // first, so a lookup after the kernel dropped its caches needs no zdb
  // round trip. Every change of an inode goes through its Node, and
  // GetNode takes the copy out of here when it makes one, so a copy here is
  // what zdb holds. nodes_ and forgotten_ together stay within inode_cache.
  std::list<Inode> forgotten_lru_;
  std::unordered_map<uint64_t, std::list<Inode>::iterator> forgotten_;
  size_t sweep_at_ = 8192;  // SweepNodes scans when nodes_ reaches this size
  size_t nodes_peak_ = 0;   // largest nodes_ since memory was last trimmed
  std::set<uint64_t> orphans_;
  uint64_t dirty_bytes_ = 0;     // bytes in Node::dirty maps
  uint64_t inflight_bytes_ = 0;  // bytes in Node::inflight maps
  bool flush_requested_ = false;  // the dirty cache is half full: background flushes all
  std::set<uint64_t> dirty_nodes_;

  // Directory bucket cache: key -> entries, LRU order in lru_.
  std::list<std::string> lru_;
  struct Cached {
    std::vector<DirEntry> entries;
    std::list<std::string>::iterator pos;
  };
  std::unordered_map<std::string, Cached> cache_;

  // Asks the kernel to drop entries of parked inodes while there are more
  // than inode_cache of them; called by the background thread with mu_
  // held (released around the notifications).
  void ShedParked(std::unique_lock<std::mutex>* lock);
  std::mutex inval_mu_;  // held while invalidator_ runs; never taken with mu_ held
  EntryInvalidator invalidator_;  // guarded by inval_mu_

  std::thread background_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool shut_down_ = false;
};

}  // namespace qsfs
