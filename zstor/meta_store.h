// Object metadata records, encrypted with the meta key and dispersed k+m
// over the meta backends (user-mode namespaces) so that any k of them read
// it back (docs/zstor-metadata.md, "Stored form"). Each write carries a
// generation; a read takes the newest generation with k valid shards, so a
// crash between shard writes never yields a mixed record.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "zstor/backend_pool.h"
#include "zstor/config.h"
#include "zstor/erasure_coder.h"
#include "zstor/metadata.h"
#include "zstor/task_pool.h"

namespace zstor {

class MetaStore {
 public:
  static qs::Result<std::unique_ptr<MetaStore>> Create(const MetaConfig& cfg, TaskPool* pool);

  // Writes the record of m.path; fails unless at least k shards landed.
  qs::Status Put(const ObjectMeta& m);
  // NotFound when no backend knows the path; Unavailable when fewer than k
  // shards of any generation can be read.
  qs::Result<ObjectMeta> Get(const std::string& path);
  qs::Status Delete(const std::string& path);
  // Every object record readable now (paths sorted).
  qs::Result<std::vector<ObjectMeta>> List();

  BackendPool& backends() { return *pool_backends_; }

 private:
  MetaStore(const MetaConfig& cfg, TaskPool* pool);
  std::string StorageKey(const std::string& path) const;
  qs::Result<ObjectMeta> GetByKey(const std::string& key);

  MetaConfig cfg_;
  TaskPool* pool_;
  std::unique_ptr<BackendPool> pool_backends_;
  std::unique_ptr<ErasureCoder> coder_;
};

}  // namespace zstor
