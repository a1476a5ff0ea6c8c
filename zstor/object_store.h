// The zstor pipeline over whole objects: store a local file as dispersed
// fragments plus a metadata record, retrieve it byte for byte, check and
// rebuild its redundancy, list and delete. Streams in chunks: memory is a
// few chunks, whatever the object size. Thread-safe: calls on the same
// object path serialise (Store, Rebuild and Delete exclusive; Retrieve,
// Check and Verify shared, zstor/object_locks.h), calls on different paths
// run in parallel; fragments of a chunk travel in parallel. Retrieve's
// backend reads and decodes go ahead of queued store work (TaskPool's
// urgent lane): a reader is waiting for them.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/mutex.h"
#include "common/status.h"
#include "common/thread_annotations.h"
#include "zstor/backend_pool.h"
#include "zstor/chunk_codec.h"
#include "zstor/config.h"
#include "zstor/fragment_fetch.h"
#include "zstor/meta_store.h"
#include "zstor/object_locks.h"
#include "zstor/store_journal.h"
#include "zstor/task_pool.h"

namespace zstor {

struct CheckReport {
  std::string path;
  uint64_t size = 0;
  size_t chunks = 0;
  size_t fragments = 0;        // k + m per chunk, summed
  size_t fragments_ok = 0;
  size_t min_chunk_ok = 0;     // healthy fragments of the weakest chunk
  int k = 0, m = 0;
  bool readable() const { return min_chunk_ok >= static_cast<size_t>(k); }
  bool complete() const { return fragments_ok == fragments; }
};

// Called with (bytes done, bytes total) as a long operation advances.
using Progress = std::function<void(uint64_t, uint64_t)>;

class ObjectStore {
 public:
  static qs::Result<std::unique_ptr<ObjectStore>> Create(const Config& cfg);
  ~ObjectStore();

  // Stores the file at local_path under object path `path` (replacing any
  // previous object there and freeing its fragments).
  // *stored (optional) receives the new object's metadata record.
  qs::Status Store(const std::string& local_path, const std::string& path, const Progress& progress = nullptr,
                   ObjectMeta* stored = nullptr);
  // OK when the record at path is the one with object_id and every one of
  // its fragments, but at most `tolerate` per chunk, is on its backend at
  // its recorded length (zdb LENGTH; no download). Corruption/Unavailable
  // otherwise.
  qs::Status Verify(const std::string& path, const std::string& object_id, size_t tolerate = 0);
  // Writes the object to out_path through a temporary file + rename.
  qs::Status Retrieve(const std::string& path, const std::string& out_path, const Progress& progress = nullptr);
  qs::Result<CheckReport> Check(const std::string& path);
  // Re-creates missing or corrupt fragments on backends chosen by the rules
  // of a store (zstor/placement.h) and updates the metadata. Returns how
  // many fragments were rebuilt; Unavailable when some could not be placed
  // within the rules (those stay missing; the ones placed are recorded).
  qs::Result<size_t> Rebuild(const std::string& path);
  qs::Status Delete(const std::string& path);
  // See MetaStore::List; `zstor list` is strict, background work is not.
  qs::Result<std::vector<ObjectMeta>> List(bool strict = false) { return meta_->List(strict); }
  // Deletes the fragments of stores that died mid-way (their intents in
  // journal_dir); see StoreJournal::Reclaim.
  StoreJournal::ReclaimStats ReclaimOrphans();

  // Keeps Store and Rebuild from starting while it lives and waits for
  // those running to finish: between them, fragments on the backends that
  // neither an intent nor a record names yet (a rebuild's new fragments
  // before its record write) cannot exist. The fragment sweep holds it
  // while it marks. Reads and deletes go on.
  class SCOPED_CAPABILITY WritesPaused {
   public:
    explicit WritesPaused(ObjectStore* store) ACQUIRE(store->writes_) : mu_(&store->writes_) { mu_->Lock(); }
    ~WritesPaused() RELEASE() { mu_->Unlock(); }
    WritesPaused(const WritesPaused&) = delete;
    WritesPaused& operator=(const WritesPaused&) = delete;

   private:
    qs::SharedMutex* mu_;
  };

  ObjectLocks& locks() { return locks_; }
  BackendPool& backends() { return *backends_; }
  MetaStore& meta() { return *meta_; }
  const Config& config() const { return cfg_; }

 private:
  explicit ObjectStore(const Config& cfg);
  // Chooses expected_shards backends for a new object at path (see
  // zstor/placement.h), none of them in exclude.
  qs::Result<std::vector<size_t>> Place(const std::string& path, const std::vector<size_t>& exclude);
  qs::Status StoreAttempt(const std::string& local_path, const std::string& path, const std::vector<size_t>& placement,
                          const Progress& progress, ObjectMeta* meta, std::vector<size_t>* failed,
                          std::unique_ptr<StoreJournal>* journal);
  // Fetches fragments of chunk i; fills shards/present, reading parity only
  // when data fragments are missing. all=true fetches every fragment.
  void FetchChunk(const ObjectMeta& m, size_t i, bool all, std::vector<std::string>* shards,
                  std::vector<bool>* present);
  // Starts those reads; m must outlive the fetch's Wait. verify false:
  // fragments are not checked against their checksums (see Retrieve);
  // urgent: the reads go ahead of queued store work.
  std::shared_ptr<FragmentFetch> StartFetch(const ObjectMeta& m, size_t i, bool all, bool verify = true,
                                            bool urgent = false);
  Backend* BackendFor(const ObjectMeta& m, uint16_t index);
  // Pool index of backend `index` of m's table, or -1 when not configured.
  int PoolIndexFor(const ObjectMeta& m, uint16_t index) const;
  std::vector<Key> Keys() const;  // the current key, then old_keys
  void DeleteFragments(const ObjectMeta& m);

  Config cfg_;
  ObjectLocks locks_;
  // Shared by every Store and Rebuild, exclusive in WritesPaused.
  qs::SharedMutex writes_;
  std::unique_ptr<BackendPool> backends_;
  std::unique_ptr<MetaStore> meta_;
  std::unique_ptr<ErasureCoder> coder_;
  std::unique_ptr<ChunkCodec> codec_;
  // Declared last, so destroyed first: their threads finish queued tasks
  // (late hedged reads among them) while the backends still exist.
  std::unique_ptr<TaskPool> pool_;        // backend I/O: many threads, mostly waiting
  size_t codec_threads_ = 2;
  std::unique_ptr<TaskPool> codec_pool_;  // encode/decode: one thread per core
};

}  // namespace zstor
