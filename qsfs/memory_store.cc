#include "qsfs/memory_store.h"

#include <vector>

namespace qsfs {

void MemoryStore::FailWritesAfter(int64_t n) {
  qs::MutexLock lock(&mu_);
  writes_left_ = n;
}

void MemoryStore::FailReads(bool fail) {
  qs::MutexLock lock(&mu_);
  fail_reads_ = fail;
}

uint64_t MemoryStore::writes() {
  qs::MutexLock lock(&mu_);
  return writes_;
}

void MemoryStore::HoldMetaReads(bool hold) {
  qs::MutexLock lock(&mu_);
  hold_reads_ = hold;
  if (!hold) released_.SignalAll();
}

size_t MemoryStore::waiting_reads() {
  qs::MutexLock lock(&mu_);
  return waiting_reads_;
}

uint64_t MemoryStore::reads_of(const std::string& key) {
  qs::MutexLock lock(&mu_);
  auto it = reads_.find(key);
  return it == reads_.end() ? 0 : it->second;
}

std::map<std::string, std::string> MemoryStore::meta() {
  qs::MutexLock lock(&mu_);
  return meta_;
}

std::map<uint64_t, std::string> MemoryStore::data() {
  qs::MutexLock lock(&mu_);
  return data_;
}

qs::Status MemoryStore::TakeWrite() {
  if (writes_left_ == 0) return qs::Status::IOError("memory store: injected write failure");
  if (writes_left_ > 0) writes_left_--;
  writes_++;
  return qs::Status::OK();
}

qs::Status MemoryStore::CheckRead() const {
  if (fail_reads_) return qs::Status::IOError("memory store: injected read failure");
  return qs::Status::OK();
}

qs::Result<std::optional<std::string>> MemoryStore::MetaGet(const std::string& key) {
  qs::MutexLock lock(&mu_);
  QS_RETURN_IF_ERROR(CheckRead());
  reads_[key]++;
  auto it = meta_.find(key);
  if (it == meta_.end()) return std::optional<std::string>();
  return std::optional<std::string>(it->second);
}

qs::Result<std::optional<std::string>> MemoryStore::MetaRead(const std::string& key) {
  auto got = MetaGet(key);  // read first: held, it is a reply on its way
  qs::MutexLock lock(&mu_);
  waiting_reads_++;
  while (hold_reads_) released_.Wait(&mu_);
  waiting_reads_--;
  return got;
}

qs::Result<std::vector<std::optional<std::string>>> MemoryStore::MetaGetMany(const std::vector<std::string>& keys) {
  qs::MutexLock lock(&mu_);
  QS_RETURN_IF_ERROR(CheckRead());
  std::vector<std::optional<std::string>> out;
  for (const std::string& key : keys) {
    auto it = meta_.find(key);
    out.push_back(it == meta_.end() ? std::nullopt : std::optional<std::string>(it->second));
  }
  return out;
}

qs::Status MemoryStore::MetaSet(const std::string& key, std::string_view value) {
  qs::MutexLock lock(&mu_);
  QS_RETURN_IF_ERROR(TakeWrite());
  meta_[key] = std::string(value);
  return qs::Status::OK();
}

qs::Status MemoryStore::MetaDel(const std::string& key) {
  qs::MutexLock lock(&mu_);
  QS_RETURN_IF_ERROR(TakeWrite());
  meta_.erase(key);
  return qs::Status::OK();
}

qs::Status MemoryStore::Apply(const MetaBatch& batch) {
  qs::MutexLock lock(&mu_);
  for (const MetaBatch::Op& op : batch.ops()) {
    QS_RETURN_IF_ERROR(TakeWrite());
    if (op.del) meta_.erase(op.key);
    else meta_[op.key] = op.value;
  }
  return qs::Status::OK();
}

std::vector<std::optional<uint64_t>> MemoryStore::DataWrite(const std::vector<BlockWrite>& writes,
                                                            qs::Status* failed) {
  qs::MutexLock lock(&mu_);
  std::vector<std::optional<uint64_t>> ids(writes.size());
  for (size_t i = 0; i < writes.size(); i++) {
    qs::Status s = TakeWrite();
    if (!s.ok()) {
      *failed = s;
      return ids;
    }
    uint64_t id = writes[i].id.has_value() ? *writes[i].id : next_id_++;
    data_[id] = std::string(writes[i].data);
    ids[i] = id;
  }
  return ids;
}

qs::Result<std::vector<std::optional<std::string>>> MemoryStore::DataGetMany(const std::vector<uint64_t>& ids) {
  qs::MutexLock lock(&mu_);
  QS_RETURN_IF_ERROR(CheckRead());
  std::vector<std::optional<std::string>> out;
  for (uint64_t id : ids) {
    auto it = data_.find(id);
    out.push_back(it == data_.end() ? std::nullopt : std::optional<std::string>(it->second));
  }
  return out;
}

qs::Status MemoryStore::DataDelMany(const std::vector<uint64_t>& ids) {
  qs::MutexLock lock(&mu_);
  for (uint64_t id : ids) {
    QS_RETURN_IF_ERROR(TakeWrite());
    data_.erase(id);
  }
  return qs::Status::OK();
}

qs::Status MemoryStore::MetaScan(const std::function<void(const std::string& key)>& fn) {
  std::vector<std::string> keys;
  {
    qs::MutexLock lock(&mu_);
    QS_RETURN_IF_ERROR(CheckRead());
    for (const auto& [key, value] : meta_) keys.push_back(key);
  }
  for (const std::string& key : keys) fn(key);
  return qs::Status::OK();
}

qs::Status MemoryStore::DataScan(const std::function<void(uint64_t id)>& fn) {
  std::vector<uint64_t> ids;
  {
    qs::MutexLock lock(&mu_);
    QS_RETURN_IF_ERROR(CheckRead());
    for (const auto& [id, value] : data_) ids.push_back(id);
  }
  for (uint64_t id : ids) fn(id);
  return qs::Status::OK();
}

qs::Status MemoryStore::Fence(uint64_t token) {
  qs::MutexLock lock(&mu_);
  fence_ = std::max(fence_, token);
  return qs::Status::OK();
}

qs::Result<uint64_t> MemoryStore::CurrentFence() {
  qs::MutexLock lock(&mu_);
  return fence_;
}

qs::Result<std::optional<std::string>> MemoryStore::LeaseGet() {
  qs::MutexLock lock(&mu_);
  return lease_;
}

qs::Status MemoryStore::LeaseSet(std::string_view record) {
  qs::MutexLock lock(&mu_);
  lease_ = std::string(record);
  return qs::Status::OK();
}

qs::Status MemoryStore::LeaseDel() {
  qs::MutexLock lock(&mu_);
  lease_.reset();
  return qs::Status::OK();
}

qs::Status MemoryStore::Sync() {
  qs::MutexLock lock(&mu_);
  if (writes_left_ == 0) return qs::Status::IOError("memory store: injected write failure");
  return qs::Status::OK();
}

qs::Result<SpaceInfo> MemoryStore::Space() {
  qs::MutexLock lock(&mu_);
  QS_RETURN_IF_ERROR(CheckRead());
  SpaceInfo s;
  for (const auto& [key, value] : meta_) s.data_used += value.size();
  for (const auto& [id, value] : data_) s.data_used += value.size();
  s.disk_free = uint64_t{1} << 40;
  s.entries = meta_.size();
  return s;
}

}  // namespace qsfs
