#include "zstor/object_store.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <ctime>
#include <deque>
#include <thread>

#include "zstor/buffer_pool.h"
#include "zstor/output_file.h"
#include "zstor/placement.h"

namespace zstor {

using qs::Result;
using qs::Status;

namespace {

// Reads up to n bytes into p (fewer only at end of file); *got the count.
Status ReadFull(int fd, char* p, size_t n, size_t* got) {
  *got = 0;
  while (*got < n) {
    ssize_t r = read(fd, p + *got, n - *got);
    if (r < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(errno, "read");
    }
    if (r == 0) break;
    *got += static_cast<size_t>(r);
  }
  return Status::OK();
}

constexpr size_t kPipelineDepth = 3;   // encoded chunks whose fragments are being written
constexpr size_t kRetrieveWindow = 4;  // chunks being read or decoded ahead of the output
// How long the data fragments of a chunk may take before parity is read too.
constexpr std::chrono::milliseconds kHedgeDelay{250};

}  // namespace

ObjectStore::ObjectStore(const Config& cfg) : cfg_(cfg) {}
ObjectStore::~ObjectStore() = default;

Result<std::unique_ptr<ObjectStore>> ObjectStore::Create(const Config& cfg) {
  std::unique_ptr<ObjectStore> s(new ObjectStore(cfg));
  size_t threads = std::max<size_t>(8, cfg.backends.size() + cfg.meta.backends.size());
  s->pool_ = std::make_unique<TaskPool>(threads);
  s->codec_threads_ = std::max<size_t>(2, std::thread::hardware_concurrency());
  s->codec_pool_ = std::make_unique<TaskPool>(s->codec_threads_);
  s->backends_ = std::make_unique<BackendPool>(cfg.backends, std::chrono::milliseconds(3000), MaxDataReply(cfg));
  auto meta = MetaStore::Create(cfg.meta, s->pool_.get(), MaxMetaReply());
  if (!meta.ok()) return meta.status();
  s->meta_ = std::move(meta.value());
  auto coder = ErasureCoder::Create(cfg.minimal_shards, cfg.parity_shards());
  if (!coder.ok()) return coder.status();
  s->coder_ = std::move(coder.value());
  s->codec_ = std::make_unique<ChunkCodec>(s->coder_.get(), s->Keys(), cfg.compression_level);
  return s;
}

std::vector<Key> ObjectStore::Keys() const {
  std::vector<Key> keys = {cfg_.key};
  keys.insert(keys.end(), cfg_.old_keys.begin(), cfg_.old_keys.end());
  return keys;
}

Result<std::vector<size_t>> ObjectStore::Place(const std::string& path, const std::vector<size_t>& exclude) {
  PlacementRequest request;
  request.path = path;
  request.parity = cfg_.parity_shards();
  request.avoid = exclude;
  request.count = static_cast<size_t>(cfg_.expected_shards);
  std::vector<size_t> chosen;
  QS_RETURN_IF_ERROR(ChoosePlacement(cfg_, *backends_, request, &chosen));
  return chosen;
}

Status ObjectStore::StoreAttempt(const std::string& local_path, const std::string& path,
                                 const std::vector<size_t>& placement, const Progress& progress, ObjectMeta* meta,
                                 std::vector<size_t>* failed, std::unique_ptr<StoreJournal>* journal) {
  int fd = open(local_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno(errno, "open " + local_path);
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return Status::InvalidArgument(local_path + " is not a regular file");
  }
  meta->object_id = RandomBytes(16);
  meta->path = path;
  meta->size = static_cast<uint64_t>(st.st_size);
  meta->k = static_cast<uint8_t>(cfg_.minimal_shards);
  meta->m = static_cast<uint8_t>(cfg_.parity_shards());
  meta->chunk_size = static_cast<uint32_t>(cfg_.chunk_size);
  meta->compression_level = static_cast<uint8_t>(cfg_.compression_level);
  meta->created = static_cast<uint64_t>(std::time(nullptr));
  meta->backends.clear();
  for (size_t b : placement) {
    const auto& a = backends_->at(b).config().address;
    meta->backends.push_back(BackendRef{a.ToString(), a.ns});
  }
  meta->chunks.clear();
  // The intent is durable before the first fragment is written (see
  // zstor/store_journal.h); without a journal directory there is none.
  StoreJournal* intent = nullptr;
  if (!cfg_.journal_dir.empty()) {
    auto j = StoreJournal::Begin(cfg_.journal_dir, path, meta->object_id);
    if (!j.ok()) {
      close(fd);
      return j.status().WithContext("store journal (config key 'journal_dir')");
    }
    *journal = std::move(j.value());
    intent = journal->get();
  }

  // Three stages overlap: this thread reads the file (and folds the chunks'
  // hash-list entries into the object checksum in order); the
  // codec pool encodes up to codec_depth chunks at once; the I/O pool
  // writes the fragments of up to kPipelineDepth encoded chunks. Chunks
  // leave each stage in order, so the metadata lists them in order.
  struct Encoded {
    Status status;
    ChunkMeta meta;
    std::shared_ptr<std::string> shards;  // ChunkCodec::EncodeInto's buffer, from BufferPool
    size_t plain_size = 0;
    std::string entry;  // the chunk's hash-list entry: ChunkCodec::ListEntry
  };
  struct InFlight {
    size_t chunk;
    size_t plain_size;
    std::vector<std::future<Result<std::string>>> writes;
  };
  const size_t codec_depth = codec_threads_ + 1;
  Sha256Hasher hasher;  // over the chunks' hash-list entries: see ObjectMeta::checksum
  std::deque<std::future<Encoded>> encoding;
  std::deque<InFlight> inflight;
  Status error;
  uint64_t read = 0, done = 0;
  auto drain_one = [&]() {
    InFlight f = std::move(inflight.front());
    inflight.pop_front();
    for (size_t j = 0; j < f.writes.size(); ++j) {
      auto r = f.writes[j].get();
      if (r.ok()) {
        meta->chunks[f.chunk].fragments[j].key = *r;
      } else {
        if (error.ok()) error = Status::Unavailable(backends_->at(placement[j]).name() + ": " + r.status().message());
        if (std::find(failed->begin(), failed->end(), placement[j]) == failed->end()) failed->push_back(placement[j]);
      }
    }
    if (intent != nullptr) intent->Sync();  // the chunk's fragment keys are durable
    done += f.plain_size;
    if (progress && error.ok()) progress(done, meta->size);
  };
  auto write_one = [&]() {
    Encoded e = encoding.front().get();
    encoding.pop_front();
    if (!e.status.ok()) {
      if (error.ok()) error = e.status;
      return;
    }
    if (!error.ok()) return;  // an earlier chunk failed: write nothing more
    hasher.Update(e.entry);
    for (size_t j = 0; j < e.meta.fragments.size(); ++j) e.meta.fragments[j].backend = static_cast<uint16_t>(j);
    meta->chunks.push_back(std::move(e.meta));
    InFlight f{meta->chunks.size() - 1, e.plain_size, {}};
    const ChunkMeta& cm = meta->chunks.back();
    for (size_t j = 0; j < cm.fragments.size(); ++j) {
      Backend* b = &backends_->at(placement[j]);
      // Each write holds the chunk's buffer; the last one hands it back.
      f.writes.push_back(pool_->Submit(
          [b, intent, buf = e.shards, shard = ChunkCodec::Shard(*e.shards, cm, j)]() -> Result<std::string> {
            if (!b->healthy()) return Status::Unavailable(b->name() + " is down");
            auto r = b->Set("", shard);
            if (r.ok() && intent != nullptr)
              intent->Fragment(b->config().address.ToString(), b->config().address.ns, *r);
            return r;
          }));
    }
    inflight.push_back(std::move(f));
    while (inflight.size() >= kPipelineDepth) drain_one();
  };
  for (uint32_t index = 0; error.ok(); ++index) {
    // Pooled buffers keep their full size (a short last chunk only uses a
    // prefix), so no chunk pays for zero-filling a buffer grown again.
    std::shared_ptr<std::string> buf = BufferPool::Get(cfg_.chunk_size);
    size_t got = 0;
    Status s = ReadFull(fd, buf->data(), cfg_.chunk_size, &got);
    if (!s.ok()) {
      error = s;
      break;
    }
    if (got == 0 && index > 0) break;
    read += got;
    const bool last = got < cfg_.chunk_size;
    encoding.push_back(codec_pool_->Submit([this, id = meta->object_id, index, buf = std::move(buf), got]() mutable {
      Encoded e;
      const std::string_view plain(buf->data(), got);
      e.plain_size = got;
      e.shards = BufferPool::Get(codec_->MaxEncodedSize(cfg_.chunk_size));
      e.status = codec_->EncodeInto(id, index, plain, &e.meta, e.shards.get());
      if (e.status.ok())
        e.entry = ChunkCodec::ListEntry(e.meta, [&](size_t i) { return ChunkCodec::Shard(*e.shards, e.meta, i); }, plain);
      buf.reset();  // back to the pool before the writes start
      return e;
    }));
    while (encoding.size() >= codec_depth) write_one();
    if (last) break;
  }
  // Every queued task finishes before its captures go away.
  while (!encoding.empty()) write_one();
  while (!inflight.empty()) drain_one();
  close(fd);
  if (!error.ok()) return error;
  if (read != meta->size || done != meta->size) return Status::IOError(local_path + " changed size while being stored");
  meta->checksum = hasher.Finish();
  return Status::OK();
}

Status ObjectStore::Store(const std::string& local_path, const std::string& path, const Progress& progress,
                          ObjectMeta* stored) {
  ObjectLocks::Hold hold(&locks_, path, ObjectLocks::Mode::kExclusive);
  qs::ReaderLock writing(&writes_);
  auto previous = meta_->Get(path);
  // Without the read quorum the record write cannot reach its quorum
  // either, and the previous version would be unknown: fail before writing.
  if (!previous.ok() && previous.status().code() == Status::Code::kUnavailable) return previous.status();
  std::vector<size_t> exclude;
  Status last;
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto placement = Place(path, exclude);
    if (!placement.ok()) return placement.status();
    ObjectMeta meta;
    std::vector<size_t> failed;
    std::unique_ptr<StoreJournal> journal;
    Status s = StoreAttempt(local_path, path, *placement, progress, &meta, &failed, &journal);
    if (s.ok()) {
      int landed = 0;
      if (journal) journal->RecordWrite();
      s = meta_->Put(meta, &landed);
      if (!s.ok()) {
        // Short of the quorum. With fewer than k shards the new record can
        // never be read: free what was written. With k or more it may be
        // read later (it is the newest generation), so its fragments stay;
        // neither version's fragments are freed. The intent stays for the
        // journal's reclaim to settle.
        if (landed < meta_->k()) {
          if (journal) journal->RecordAbandoned();
          DeleteFragments(meta);
        }
        return s;
      }
      if (previous.ok()) DeleteFragments(*previous);
      if (journal) journal->Finish();
      if (stored != nullptr) *stored = std::move(meta);
      return Status::OK();
    }
    // Freed now where reachable; the intent stays (closed, so unlocked) and
    // the journal's reclaim deletes whatever this missed.
    DeleteFragments(meta);
    if (failed.empty()) return s;  // not a backend problem (e.g. unreadable file)
    spdlog::warn("store of {} failed on {} backends ({}); retrying elsewhere", path, failed.size(), s.message());
    exclude.insert(exclude.end(), failed.begin(), failed.end());
    last = s;
  }
  return last;
}

int ObjectStore::PoolIndexFor(const ObjectMeta& m, uint16_t index) const {
  if (index >= m.backends.size()) return -1;
  return backends_->Find(m.backends[index].address, m.backends[index].ns);
}

Backend* ObjectStore::BackendFor(const ObjectMeta& m, uint16_t index) {
  int i = PoolIndexFor(m, index);
  return i < 0 ? nullptr : &backends_->at(static_cast<size_t>(i));
}

std::shared_ptr<FragmentFetch> ObjectStore::StartFetch(const ObjectMeta& m, size_t i, bool all, bool verify,
                                                       bool urgent) {
  return FragmentFetch::Start(
      pool_.get(), m.chunks[i], m.k, all, [this, &m](uint16_t backend) { return BackendFor(m, backend); }, verify,
      urgent);
}

void ObjectStore::FetchChunk(const ObjectMeta& m, size_t i, bool all, std::vector<std::string>* shards,
                             std::vector<bool>* present) {
  StartFetch(m, i, all)->Wait(kHedgeDelay, shards, present);
}

Status ObjectStore::Retrieve(const std::string& path, const std::string& out_path, const Progress& progress) {
  ObjectLocks::Hold hold(&locks_, path, ObjectLocks::Mode::kShared);
  auto meta = meta_->Get(path);
  if (!meta.ok()) return meta.status().IsNotFound() ? Status::NotFound("no object stored at " + path) : meta.status();
  auto coder = ErasureCoder::Create(meta->k, meta->m);
  if (!coder.ok()) return coder.status();
  ChunkCodec codec(coder->get(), Keys(), meta->compression_level);
  std::string tmp = out_path + ".zstor-tmp";
  OutputFile out;
  QS_RETURN_IF_ERROR(out.Open(tmp, meta->chunk_size));

  // Reads of the next kRetrieveWindow chunks are in flight while the codec
  // pool decodes and writes (at the chunk's offset) earlier ones; this
  // thread only combines the chunks' hash-list entries in order. A chunk is first
  // decoded from the first k fragments as they come, unverified: its
  // AES-GCM tag authenticates the sealed bytes, so a fragment that rotted
  // makes the open fail rather than return wrong bytes. Only then are all
  // fragments fetched and checked one by one, and the good ones decoded.
  const ObjectMeta& m = *meta;
  auto decode = [&, this](size_t i, std::shared_ptr<FragmentFetch> fetch) {
    return codec_pool_->SubmitUrgent([this, &m, &codec, &path, &out, i, fetch = std::move(fetch)]() -> Result<std::string> {
      std::vector<std::string> shards;
      std::vector<bool> present;
      fetch->Wait(kHedgeDelay, &shards, &present);
      const uint64_t offset = static_cast<uint64_t>(i) * m.chunk_size;
      const ChunkMeta& c = m.chunks[i];
      if (offset > m.size || c.plain_size != std::min<uint64_t>(m.chunk_size, m.size - offset))
        return Status::Corruption("chunk " + std::to_string(i) + " of " + path + " has " +
                                  std::to_string(c.plain_size) + " bytes, which does not fit the object's size");
      // Decoded straight into the buffer the output file writes from.
      char* plain = OutputFile::Scratch(c.plain_size);
      if (plain == nullptr) return Status::IOError("out of memory for chunk " + std::to_string(i) + " of " + path);
      Status s = codec.DecodeInto(m.object_id, static_cast<uint32_t>(i), c, &shards, present, plain);
      if (s.IsCorruption()) {
        spdlog::warn("chunk {} of {} does not authenticate from its first fragments ({}); reading and checking all",
                     i, path, s.message());
        StartFetch(m, i, true, true, /*urgent=*/true)->Wait(kHedgeDelay, &shards, &present);
        s = codec.DecodeInto(m.object_id, static_cast<uint32_t>(i), c, &shards, present, plain);
      }
      if (s.code() == Status::Code::kUnavailable)
        return Status::Unavailable("chunk " + std::to_string(i) + " of " + path + " cannot be rebuilt: " + s.message());
      if (!s.ok()) return s;
      std::string entry = ChunkCodec::ListEntry(
          c, [&](size_t j) { return std::string_view(shards[j]); }, std::string_view(plain, c.plain_size));
      QS_RETURN_IF_ERROR(out.WriteScratch(c.plain_size, offset));
      return entry;
    });
  };
  std::deque<std::future<Result<std::string>>> window;
  size_t next = 0;
  Sha256Hasher hasher;  // over the chunks' hash-list entries: see ObjectMeta::checksum
  uint64_t done = 0;
  Status error;
  while (error.ok() && (next < m.chunks.size() || !window.empty())) {
    while (next < m.chunks.size() && window.size() < kRetrieveWindow) {
      window.push_back(decode(next, StartFetch(m, next, false, false, /*urgent=*/true)));
      ++next;
    }
    auto entry = window.front().get();
    window.pop_front();
    if (!entry.ok()) {
      error = entry.status();
      break;
    }
    hasher.Update(*entry);
    done = std::min<uint64_t>(m.size, (next - window.size()) * static_cast<uint64_t>(m.chunk_size));
    if (progress) progress(done, m.size);
  }
  for (auto& f : window) f.wait();  // tasks reference m, codec and out
  if (error.ok() && hasher.Finish() != m.checksum)
    error = Status::Corruption("object " + path + " does not match its checksum");
  if (error.ok()) error = out.Finish(m.size);
  out.Close();
  if (!error.ok()) {
    unlink(tmp.c_str());
    return error;
  }
  if (rename(tmp.c_str(), out_path.c_str()) != 0) {
    Status s = Status::FromErrno(errno, "rename to " + out_path);
    unlink(tmp.c_str());
    return s;
  }
  return Status::OK();
}

Result<CheckReport> ObjectStore::Check(const std::string& path) {
  ObjectLocks::Hold hold(&locks_, path, ObjectLocks::Mode::kShared);
  auto meta = meta_->Get(path);
  if (!meta.ok()) return meta.status().IsNotFound() ? Status::NotFound("no object stored at " + path) : meta.status();
  CheckReport r;
  r.path = path;
  r.size = meta->size;
  r.chunks = meta->chunks.size();
  r.k = meta->k;
  r.m = meta->m;
  r.min_chunk_ok = meta->k + meta->m;
  std::vector<std::string> shards;
  std::vector<bool> present;
  for (size_t i = 0; i < meta->chunks.size(); ++i) {
    FetchChunk(*meta, i, true, &shards, &present);
    size_t ok = static_cast<size_t>(std::count(present.begin(), present.end(), true));
    r.fragments += present.size();
    r.fragments_ok += ok;
    r.min_chunk_ok = std::min(r.min_chunk_ok, ok);
  }
  return r;
}

Result<size_t> ObjectStore::Rebuild(const std::string& path) {
  ObjectLocks::Hold hold(&locks_, path, ObjectLocks::Mode::kExclusive);
  qs::ReaderLock writing(&writes_);
  auto meta_r = meta_->Get(path);
  if (!meta_r.ok()) return meta_r.status().IsNotFound() ? Status::NotFound("no object stored at " + path) : meta_r.status();
  ObjectMeta meta = std::move(meta_r.value());
  auto coder = ErasureCoder::Create(meta.k, meta.m);
  if (!coder.ok()) return coder.status();
  size_t rebuilt = 0, left_missing = 0;
  Status shortfall;  // why fragments were left missing (the first chunk that had to)
  std::vector<std::pair<uint16_t, std::string>> stale;  // fragments to free afterwards
  std::vector<std::string> shards;
  std::vector<bool> present;
  for (size_t i = 0; i < meta.chunks.size(); ++i) {
    FetchChunk(meta, i, true, &shards, &present);
    size_t ok = static_cast<size_t>(std::count(present.begin(), present.end(), true));
    if (ok == present.size()) continue;
    QS_RETURN_IF_ERROR((*coder)->Reconstruct(&shards, present));
    // New homes follow the rules of a store (zstor/placement.h), counting
    // the chunk's healthy fragments where they are.
    PlacementRequest request;
    request.path = path;
    request.parity = meta.m;
    std::vector<size_t> missing;  // fragment indices, in order
    for (size_t j = 0; j < present.size(); ++j) {
      int b = PoolIndexFor(meta, meta.chunks[i].fragments[j].backend);
      if (!present[j]) missing.push_back(j);
      else if (b >= 0) request.holding.push_back(static_cast<size_t>(b));
    }
    size_t placed = 0;
    Status why, write_error;
    while (placed < missing.size()) {
      request.count = missing.size() - placed;
      std::vector<size_t> chosen;
      why = ChoosePlacement(cfg_, *backends_, request, &chosen);
      if (chosen.empty()) break;
      for (size_t cand : chosen) {
        const size_t j = missing[placed];
        Backend& b = backends_->at(cand);
        auto key = b.Set("", shards[j]);
        if (!key.ok()) {
          write_error = Status::Unavailable(b.name() + ": " + key.status().message());
          request.avoid.push_back(cand);  // the next choice goes elsewhere
          continue;
        }
        // Record the backend in the object's table (add it if new).
        const BackendRef home{b.config().address.ToString(), b.config().address.ns};
        uint16_t ref = 0;
        while (ref < meta.backends.size() &&
               !(meta.backends[ref].address == home.address && meta.backends[ref].ns == home.ns))
          ++ref;
        if (ref == meta.backends.size()) meta.backends.push_back(home);
        auto& frag = meta.chunks[i].fragments[j];
        stale.emplace_back(frag.backend, frag.key);
        frag.backend = ref;
        frag.key = *key;
        request.holding.push_back(cand);
        ++placed;
        ++rebuilt;
      }
    }
    if (placed < missing.size()) {
      // Never placed against the rules: the fragment stays missing, the
      // object stays degraded and the next repair round tries again.
      left_missing += missing.size() - placed;
      if (shortfall.ok()) {
        std::string reason = why.message();
        if (!write_error.ok()) reason += "; last write error: " + write_error.message();
        shortfall = Status::Unavailable("chunk " + std::to_string(i) + ": " + std::to_string(missing.size() - placed) +
                                        " of " + std::to_string(missing.size()) +
                                        " missing fragments not placed: " + reason);
      }
    }
  }
  if (rebuilt > 0) {
    QS_RETURN_IF_ERROR(meta_->Put(meta));
    // Free the replaced fragments where still reachable (the backend table
    // only grows, so their indices stay valid).
    for (auto& [backend, key] : stale) {
      Backend* b = BackendFor(meta, backend);
      if (b != nullptr && b->healthy()) b->Del(key);
    }
  }
  if (!shortfall.ok()) {
    spdlog::warn("rebuild of {}: {} fragments rebuilt, {} left missing", path, rebuilt, left_missing);
    return Status::Unavailable(path + ": " + std::to_string(left_missing) + " fragments left missing (" +
                               std::to_string(rebuilt) + " rebuilt); " + shortfall.message());
  }
  return rebuilt;
}

Status ObjectStore::Verify(const std::string& path, const std::string& object_id, size_t tolerate) {
  ObjectLocks::Hold hold(&locks_, path, ObjectLocks::Mode::kShared);
  auto meta = meta_->Get(path);
  if (!meta.ok()) return meta.status();
  if (meta->object_id != object_id) return Status::Corruption("the record of " + path + " was replaced meanwhile");
  struct ChunkChecks {
    std::vector<std::future<Status>> lengths;
    Status unconfigured;  // a fragment on a backend no longer configured
    size_t bad = 0;
  };
  std::vector<ChunkChecks> checks(meta->chunks.size());
  for (size_t i = 0; i < meta->chunks.size(); ++i) {
    const ChunkMeta& c = meta->chunks[i];
    for (size_t j = 0; j < c.fragments.size(); ++j) {
      Backend* b = BackendFor(*meta, c.fragments[j].backend);
      if (b == nullptr) {
        if (checks[i].bad++ == 0)
          checks[i].unconfigured = Status::Unavailable("fragment " + std::to_string(j) + " of " + path + ": backend not configured");
        continue;
      }
      std::string key = c.fragments[j].key;
      int64_t want = c.shard_size;
      checks[i].lengths.push_back(pool_->Submit([b, key, want, i, j]() -> Status {
        auto r = b->Command({"LENGTH", key});
        if (!r.ok()) return r.status();
        if (!r->is_integer() || r->integer != want)
          return Status::Corruption(b->name() + ": fragment " + std::to_string(j) + " of chunk " + std::to_string(i) +
                                    (r->is_integer() ? " has the wrong length" : " is missing"));
        return Status::OK();
      }));
    }
  }
  Status first;
  for (auto& chunk : checks) {
    Status chunk_first = chunk.unconfigured;
    for (auto& f : chunk.lengths) {
      Status s = f.get();
      if (!s.ok() && chunk.bad++ == 0) chunk_first = s;
    }
    if (chunk.bad > tolerate && first.ok()) first = chunk_first;
  }
  return first;
}

StoreJournal::ReclaimStats ObjectStore::ReclaimOrphans() {
  if (cfg_.journal_dir.empty()) return {};
  return StoreJournal::Reclaim(cfg_.journal_dir, this);
}

void ObjectStore::DeleteFragments(const ObjectMeta& m) {
  std::vector<std::future<Status>> dels;
  for (const auto& c : m.chunks) {
    for (const auto& f : c.fragments) {
      if (f.key.empty()) continue;
      Backend* b = BackendFor(m, f.backend);
      if (b == nullptr || !b->healthy()) continue;
      std::string key = f.key;
      dels.push_back(pool_->Submit([b, key]() { return b->Del(key); }));
    }
  }
  for (auto& f : dels) f.get();
}

Status ObjectStore::Delete(const std::string& path) {
  ObjectLocks::Hold hold(&locks_, path, ObjectLocks::Mode::kExclusive);
  auto meta = meta_->Get(path);
  if (!meta.ok()) return meta.status().IsNotFound() ? Status::NotFound("no object stored at " + path) : meta.status();
  QS_RETURN_IF_ERROR(meta_->Delete(path));  // the object is gone once its record is
  DeleteFragments(*meta);
  return Status::OK();
}

}  // namespace zstor
