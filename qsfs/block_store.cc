// File data: fixed-size blocks in the sequential qsfs-data namespace, a
// block map per file in qsfs-meta (docs/qsfs-format.md, "File data").
// Writes go to dirty blocks in memory; FlushNode writes the blocks first,
// then the map chunks that reference them, then the inode. A rewritten
// block is updated in place (SET on its id), so overwriting part of a file
// appends only the blocks touched.
#include <fcntl.h>
#include <linux/falloc.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>

#include <spdlog/spdlog.h>

#include "qsfs/block_map.h"
#include "qsfs/filesystem.h"
#include "qsfs/keys.h"

namespace qsfs {

int Filesystem::LoadChunk(Node* n, uint32_t c, Chunk** out) {
  auto it = n->chunks.find(c);
  if (it != n->chunks.end()) {
    *out = &it->second;
    return 0;
  }
  Chunk chunk;
  auto got = store_->MetaGet(BlockMapKey(n->inode.ino, c));
  if (!got.ok()) return ErrnoOf(got.status());
  if (got->has_value()) {
    auto slots = DecodeBlockMapChunk(**got);
    if (!slots.ok()) {
      spdlog::error("inode {} block map chunk {}: {}", n->inode.ino, c, slots.status().ToString());
      return EIO;
    }
    chunk.slots = std::move(*slots);
  } else {
    chunk.slots.assign(kBlocksPerChunk, 0);
  }
  *out = &n->chunks.emplace(c, std::move(chunk)).first->second;
  return 0;
}

int Filesystem::BlockContent(Node* n, uint64_t idx, std::string* out) {
  auto d = n->dirty.find(idx);
  if (d != n->dirty.end()) {
    *out = d->second;
    return 0;
  }
  auto f = n->inflight.find(idx);
  if (f != n->inflight.end()) {
    *out = *f->second;
    return 0;
  }
  Chunk* c = nullptr;
  if (int err = LoadChunk(n, static_cast<uint32_t>(idx / kBlocksPerChunk), &c)) return err;
  uint64_t slot = c->slots[idx % kBlocksPerChunk];
  out->clear();
  if (slot == 0) return 0;
  auto got = store_->DataGetMany({slot - 1});
  if (!got.ok()) return ErrnoOf(got.status());
  if (!(*got)[0]) {
    spdlog::error("inode {} block {}: data id {} is missing in zdb", n->inode.ino, idx, slot - 1);
    return EIO;
  }
  *out = std::move(*(*got)[0]);
  return 0;
}

int Filesystem::PlanRead(Node* n, uint64_t off, size_t size, std::string* out, ReadPlan* plan) {
  out->clear();
  plan->ids.clear();
  plan->idxs.clear();
  uint64_t fsize = n->inode.size;
  if (off >= fsize || size == 0) return 0;
  uint64_t end = std::min<uint64_t>(fsize, off + size);
  const uint64_t bs = sb_.block_size;
  out->assign(end - off, '\0');
  for (uint64_t idx = off / bs; idx <= (end - 1) / bs; idx++) {
    auto d = n->dirty.find(idx);
    if (d != n->dirty.end()) {
      CopyBlockPart(idx, d->second, off, end, out);
      continue;
    }
    auto f = n->inflight.find(idx);
    if (f != n->inflight.end()) {
      CopyBlockPart(idx, *f->second, off, end, out);
      continue;
    }
    Chunk* c = nullptr;
    if (int err = LoadChunk(n, static_cast<uint32_t>(idx / kBlocksPerChunk), &c)) return err;
    uint64_t slot = c->slots[idx % kBlocksPerChunk];
    if (slot == 0) continue;  // a hole: zeros
    plan->ids.push_back(slot - 1);
    plan->idxs.push_back(idx);
  }
  return 0;
}

void Filesystem::CopyBlockPart(uint64_t idx, const std::string& data, uint64_t off, uint64_t end, std::string* out) const {
  const uint64_t bs = sb_.block_size;
  uint64_t bstart = idx * bs;
  uint64_t from = std::max(off, bstart);
  uint64_t to = std::min(end, bstart + bs);
  if (from - bstart < data.size()) {
    size_t len = std::min<uint64_t>(to - from, data.size() - (from - bstart));
    std::memcpy(out->data() + (from - off), data.data() + (from - bstart), len);
  }
}

bool Filesystem::CacheOver(size_t more) const {
  return dirty_bytes_ + inflight_bytes_ + more > options_.dirty_cache_bytes;
}

int Filesystem::WriteData(Node* n, uint64_t off, const char* buf, size_t size) {
  if (size == 0) return 0;
  if (CacheOver(size)) {
    // The cache is full: let running flushes drain it, then flush the rest here.
    while (inflight_bytes_ > 0 && CacheOver(size)) flush_cv_.Wait(&mu_);
    if (CacheOver(size)) {
      int err = FlushAll(false);
      if (err != 0 && CacheOver(size)) return err;
    }
  }
  const uint64_t bs = sb_.block_size;
  uint64_t end = off + size;
  for (uint64_t idx = off / bs; idx * bs < end; idx++) {
    uint64_t bstart = idx * bs;
    uint64_t from = std::max(off, bstart) - bstart;
    uint64_t to = std::min(end, bstart + bs) - bstart;
    const char* src = buf + (bstart + from - off);
    auto d = n->dirty.find(idx);
    if (d == n->dirty.end()) {
      std::string content;
      // A block overwritten from its start to past the file's end needs no
      // read, and takes the bytes as they are (no zero fill first).
      bool covers = from == 0 && (to == bs || bstart + to >= n->inode.size);
      if (covers) {
        n->dirty.emplace(idx, std::string(src, to));
        dirty_bytes_ += to;
        continue;
      }
      if (int err = BlockContent(n, idx, &content)) return err;
      d = n->dirty.emplace(idx, std::move(content)).first;
      dirty_bytes_ += d->second.size();
    }
    std::string& data = d->second;
    if (data.size() < to) {
      dirty_bytes_ += to - data.size();
      data.resize(to, '\0');
    }
    std::memcpy(data.data() + from, src, to - from);
  }
  n->inode.size = std::max(n->inode.size, end);
  n->inode.mtime = n->inode.ctime = Now();
  if (!dirty_nodes_.count(n->inode.ino)) n->dirty_since = std::chrono::steady_clock::now();
  n->inode_dirty = true;
  dirty_nodes_.insert(n->inode.ino);
  // Half full: the background thread writes back while writers go on.
  if (!flush_requested_ && dirty_bytes_ >= options_.dirty_cache_bytes / 2) {
    flush_requested_ = true;
    wake_.SignalAll();
  }
  return 0;
}

int Filesystem::BeginFlush(Node* n, FlushJob* job) {
  bool chunks_dirty = false;
  for (const auto& [c, chunk] : n->chunks) chunks_dirty |= chunk.dirty;
  if (!n->has_dirty() && !chunks_dirty) {
    dirty_nodes_.erase(n->inode.ino);
    job->clean = true;
    return 0;
  }
  if (n->dirty.empty()) return 0;
  // The dirty blocks become in-flight versions: reads see them, and a
  // write, truncate or free meanwhile supersedes them (erases the entry).
  for (const auto& [idx, data] : n->dirty) {
    Chunk* c = nullptr;
    if (int err = LoadChunk(n, static_cast<uint32_t>(idx / kBlocksPerChunk), &c)) {
      job->pending.clear();
      return err;
    }
    uint64_t slot = c->slots[idx % kBlocksPerChunk];
    job->pending.push_back(
        FlushJob::Pending{idx, slot != 0 ? std::optional<uint64_t>(slot - 1) : std::nullopt, nullptr});
  }
  size_t i = 0;
  for (auto& [idx, data] : n->dirty) {
    FlushJob::Pending& p = job->pending[i++];
    dirty_bytes_ -= data.size();
    inflight_bytes_ += data.size();
    p.data = std::make_shared<const std::string>(std::move(data));
    n->inflight[idx] = p.data;
    job->writes.push_back(Store::BlockWrite{p.old_id, *p.data});
  }
  n->dirty.clear();
  return 0;
}

void Filesystem::WriteFlush(FlushJob* job) { job->ids = store_->DataWrite(job->writes, &job->failed); }

int Filesystem::EndFlush(Node* n, FlushJob* job, bool released) {
  int result = 0;
  std::vector<uint64_t> discarded;  // new ids written for blocks dropped meanwhile
  if (!job->pending.empty()) {
    job->ids.resize(job->pending.size());  // writes not tried are not written
    for (size_t k = 0; k < job->pending.size(); k++) {
      const FlushJob::Pending& p = job->pending[k];
      const std::optional<uint64_t>& id = job->ids[k];
      inflight_bytes_ -= p.data->size();
      auto f = n->inflight.find(p.idx);
      bool current = f != n->inflight.end() && f->second == p.data;
      if (current) n->inflight.erase(f);
      if (!id) {  // not written: back to dirty unless superseded
        if (current && !n->freed && !n->dirty.count(p.idx)) {
          n->dirty.emplace(p.idx, *p.data);
          dirty_bytes_ += p.data->size();
        }
        continue;
      }
      if (!current || n->freed) {
        if (!p.old_id) discarded.push_back(*id);
        continue;
      }
      Chunk* c = nullptr;
      if (int err = LoadChunk(n, static_cast<uint32_t>(p.idx / kBlocksPerChunk), &c)) {
        if (!p.old_id) discarded.push_back(*id);
        if (result == 0) result = err;
        continue;
      }
      uint64_t& slot = c->slots[p.idx % kBlocksPerChunk];
      if (slot != *id + 1) {
        if (slot == 0) n->inode.blocks++;
        else if (!p.old_id || slot != *p.old_id + 1) discarded.push_back(slot - 1);  // replaced meanwhile
        slot = *id + 1;
        c->dirty = true;
        n->inode_dirty = true;
      }
    }
    if (released) {
      n->flushing = false;
      flush_cv_.SignalAll();
    }
    if (!job->failed.ok()) {
      spdlog::warn("writing data of inode {}: {}", n->inode.ino, job->failed.ToString());
      result = ErrnoOf(job->failed);
    }
  }
  if (!discarded.empty()) {
    qs::MutexLock io(&io_mu_);
    qs::Status s = store_->DataDelMany(discarded);
    if (!s.ok()) spdlog::warn("freeing {} superseded blocks of inode {}: {}", discarded.size(), n->inode.ino, s.ToString());
  }
  if (n->freed) {
    // FreeInode left a pinned node to us; our caller does not use it again.
    if (released && n->nlookup == 0 && n->nopen == 0 && n->pins == 0) table_.Erase(n->inode.ino);
    return result;
  }
  // Map chunks, then the inode (size, blocks, times).
  MetaBatch batch;
  for (auto& [c, chunk] : n->chunks) {
    if (!chunk.dirty) continue;
    bool empty = std::all_of(chunk.slots.begin(), chunk.slots.end(), [](uint64_t s) { return s == 0; });
    if (empty) batch.Del(BlockMapKey(n->inode.ino, c));
    else batch.Set(BlockMapKey(n->inode.ino, c), EncodeBlockMapChunk(chunk.slots));
  }
  batch.Set(InodeKey(n->inode.ino), EncodeInode(n->inode));
  qs::Status s = store_->Apply(batch);
  if (!s.ok()) {
    spdlog::warn("writing metadata of inode {}: {}", n->inode.ino, s.ToString());
    return result != 0 ? result : ErrnoOf(s);
  }
  for (auto& [c, chunk] : n->chunks) chunk.dirty = false;
  n->inode_dirty = !n->dirty.empty();
  if (!n->has_dirty()) dirty_nodes_.erase(n->inode.ino);
  return result;
}

int Filesystem::FlushNode(Node* n) {
  FlushJob job;
  if (int err = BeginFlush(n, &job)) return err;
  if (job.clean) return 0;
  if (!job.writes.empty()) {
    qs::MutexLock io(&io_mu_);
    WriteFlush(&job);
  }
  return EndFlush(n, &job, /*released=*/false);
}

int Filesystem::FlushNodeReleasingMu(Node* n) {
  while (n->flushing) flush_cv_.Wait(&mu_);
  FlushJob job;
  if (int err = BeginFlush(n, &job)) return err;
  if (job.clean) return 0;
  if (!job.writes.empty()) {
    n->flushing = true;
    n->pins++;
    // io_mu_ before mu_ goes: writes to one block id reach zdb in the
    // order their versions were made.
    io_mu_.Lock();
    mu_.Unlock();
    WriteFlush(&job);
    io_mu_.Unlock();
    mu_.Lock();
    n->pins--;
  }
  return EndFlush(n, &job, /*released=*/true);
}

int Filesystem::FlushAll(bool only_expired) {
  auto now = std::chrono::steady_clock::now();
  auto delay = std::chrono::duration<double>(options_.writeback_delay_seconds);
  std::vector<std::pair<std::chrono::steady_clock::time_point, uint64_t>> order;
  for (uint64_t ino : dirty_nodes_) {
    Node* n = table_.Find(ino);
    if (n == nullptr) continue;
    if (only_expired && now - n->dirty_since < delay) continue;
    order.emplace_back(n->dirty_since, ino);
  }
  std::sort(order.begin(), order.end());
  int first_err = 0;
  for (const auto& [since, ino] : order) {
    Node* n = table_.Find(ino);
    if (n == nullptr) continue;
    int err = FlushNodeReleasingMu(n);
    if (err != 0 && first_err == 0) first_err = err;
  }
  return first_err;
}

void Filesystem::DropDirty(Node* n, uint64_t first_block) {
  for (auto it = n->dirty.lower_bound(first_block); it != n->dirty.end();) {
    dirty_bytes_ -= it->second.size();
    it = n->dirty.erase(it);
  }
  // In-flight versions are superseded: their flush discards what it wrote.
  n->inflight.erase(n->inflight.lower_bound(first_block), n->inflight.end());
}

int Filesystem::ClearSlots(Node* n, uint64_t first, uint64_t end, std::vector<uint64_t>* ids) {
  uint64_t idx = first;
  while (idx < end) {
    uint32_t ci = static_cast<uint32_t>(idx / kBlocksPerChunk);
    Chunk* c = nullptr;
    if (int err = LoadChunk(n, ci, &c)) return err;
    uint64_t chunk_end = std::min<uint64_t>(end, (uint64_t{ci} + 1) * kBlocksPerChunk);
    for (; idx < chunk_end; idx++) {
      uint64_t& slot = c->slots[idx % kBlocksPerChunk];
      if (slot == 0) continue;
      ids->push_back(slot - 1);
      slot = 0;
      c->dirty = true;
      if (n->inode.blocks > 0) n->inode.blocks--;
    }
    // Chunks wholly past the end are not kept in memory once cleared.
  }
  return 0;
}

int Filesystem::TruncateNode(Node* n, uint64_t new_size) {
  const uint64_t bs = sb_.block_size;
  uint64_t old = n->inode.size;
  std::vector<uint64_t> freed;
  if (new_size < old) {
    uint64_t first_gone = (new_size + bs - 1) / bs;
    DropDirty(n, first_gone);
    if (int err = ClearSlots(n, first_gone, (old + bs - 1) / bs, &freed)) return err;
    if (new_size % bs != 0) {
      // The block that now ends the file keeps only bytes below the new
      // size, so a later extension reads zeros there.
      uint64_t idx = new_size / bs;
      std::string content;
      if (int err = BlockContent(n, idx, &content)) return err;
      if (content.size() > new_size % bs) {
        auto d = n->dirty.find(idx);
        if (d != n->dirty.end()) {
          dirty_bytes_ -= d->second.size() - new_size % bs;
          d->second.resize(new_size % bs);
        } else {
          content.resize(new_size % bs);
          dirty_bytes_ += content.size();
          n->dirty.emplace(idx, std::move(content));
        }
      }
    }
  }
  n->inode.size = new_size;
  n->inode_dirty = true;
  dirty_nodes_.insert(n->inode.ino);
  if (int err = FlushNode(n)) return err;
  if (!freed.empty()) {
    qs::MutexLock io(&io_mu_);
    qs::Status s = store_->DataDelMany(freed);
    if (!s.ok()) spdlog::warn("freeing {} blocks of inode {}: {}", freed.size(), n->inode.ino, s.ToString());
  }
  return 0;
}

int Filesystem::PunchHole(Node* n, uint64_t off, uint64_t len) {
  const uint64_t bs = sb_.block_size;
  uint64_t end = std::min(n->inode.size, off + len);
  if (off >= end) return 0;
  std::vector<uint64_t> freed;
  uint64_t idx = off / bs;
  for (; idx * bs < end; idx++) {
    uint64_t bstart = idx * bs;
    uint64_t from = std::max(off, bstart) - bstart;
    uint64_t to = std::min(end, bstart + bs) - bstart;
    if (from == 0 && (to == bs || bstart + to >= n->inode.size)) {
      auto d = n->dirty.find(idx);
      if (d != n->dirty.end()) {
        dirty_bytes_ -= d->second.size();
        n->dirty.erase(d);
      }
      n->inflight.erase(idx);
      if (int err = ClearSlots(n, idx, idx + 1, &freed)) return err;
      continue;
    }
    std::string content;
    if (int err = BlockContent(n, idx, &content)) return err;
    if (from >= content.size()) continue;
    size_t zero_to = std::min<uint64_t>(to, content.size());
    std::memset(content.data() + from, 0, zero_to - from);
    auto d = n->dirty.find(idx);
    if (d != n->dirty.end()) {
      d->second = std::move(content);
    } else {
      dirty_bytes_ += content.size();
      n->dirty.emplace(idx, std::move(content));
    }
  }
  n->inode.mtime = n->inode.ctime = Now();
  n->inode_dirty = true;
  dirty_nodes_.insert(n->inode.ino);
  if (int err = FlushNode(n)) return err;
  if (!freed.empty()) {
    qs::MutexLock io(&io_mu_);
    qs::Status s = store_->DataDelMany(freed);
    if (!s.ok()) spdlog::warn("freeing {} blocks of inode {}: {}", freed.size(), n->inode.ino, s.ToString());
  }
  return 0;
}

bool Filesystem::BlockHasData(Node* n, uint64_t idx, int* err) {
  if (n->dirty.count(idx) || n->inflight.count(idx)) return true;
  Chunk* c = nullptr;
  *err = LoadChunk(n, static_cast<uint32_t>(idx / kBlocksPerChunk), &c);
  if (*err != 0) return false;
  return c->slots[idx % kBlocksPerChunk] != 0;
}

int Filesystem::Fallocate(uint64_t ino, int mode, uint64_t off, uint64_t len) {
  qs::MutexLock lock(&mu_);
  LoadNodesReleasingMu({ino});
  Node* n = nullptr;
  if (int err = GetNode(ino, &n)) return err;
  if (!n->inode.is_reg()) return n->inode.is_dir() ? EISDIR : ENODEV;
  if (off + len > (uint64_t{1} << 44) || off + len < off) return EFBIG;
  if (mode == 0 || mode == FALLOC_FL_KEEP_SIZE) {
    // Space is not reserved in zdb: blocks are written when data comes.
    if (mode == 0 && off + len > n->inode.size) {
      n->inode.size = off + len;
      n->inode.ctime = Now();
      return PersistInode(n);
    }
    return 0;
  }
  if (mode == (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)) return PunchHole(n, off, len);
  return EOPNOTSUPP;
}

int Filesystem::Lseek(uint64_t ino, uint64_t off, int whence, uint64_t* out) {
  qs::MutexLock lock(&mu_);
  LoadNodesReleasingMu({ino});
  Node* n = nullptr;
  if (int err = GetNode(ino, &n)) return err;
  uint64_t size = n->inode.size;
  if (whence != SEEK_DATA && whence != SEEK_HOLE) return EINVAL;
  if (off >= size) return ENXIO;
  const uint64_t bs = sb_.block_size;
  for (uint64_t idx = off / bs; idx * bs < size; idx++) {
    int err = 0;
    bool data = BlockHasData(n, idx, &err);
    if (err != 0) return err;
    if (data == (whence == SEEK_DATA)) {
      *out = std::max(off, idx * bs);
      return 0;
    }
  }
  if (whence == SEEK_DATA) return ENXIO;
  *out = size;
  return 0;
}

}  // namespace qsfs
