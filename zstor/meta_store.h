// Object metadata records, encrypted with the meta key and dispersed k+m
// over the meta backends (user-mode namespaces) so that any k of them read
// it back (docs/zstor-metadata.md, "Stored form"). Each write carries a
// generation; a read takes the newest generation with k valid shards, so a
// crash between shard writes never yields a mixed record.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
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
  // max_reply_bytes: see MaxMetaReply.
  static qs::Result<std::unique_ptr<MetaStore>> Create(const MetaConfig& cfg, TaskPool* pool, size_t max_reply_bytes);

  // Writes the record of m.path under a new generation; acknowledged (OK)
  // only when write_quorum backends took their shard. *landed (optional):
  // how many did, also on failure: with k or more the new record may still
  // be read later, so what it points to must not be freed.
  qs::Status Put(const ObjectMeta& m, int* landed = nullptr);
  // The newest generation among the answers of at least read_quorum()
  // backends: never older than an acknowledged Put. NotFound when no
  // acknowledged record can exist; Unavailable when too few backends
  // answer or the newest generation seen cannot be decoded and may have
  // been acknowledged (never a fall-back to an older one).
  qs::Result<ObjectMeta> Get(const std::string& path);
  qs::Status Delete(const std::string& path);
  // Every object record readable now (paths sorted). strict: fail when any
  // record under the prefix cannot be read (e.g. a wrong meta key), rather
  // than leave it out with a warning.
  qs::Result<std::vector<ObjectMeta>> List(bool strict = false);
  // Every generation of path's record that decodes from the shards the
  // meta backends hold, newest first: what any reader could still be given
  // (an older one when a newer one does not decode from its answers).
  // Unavailable unless every backend written answers; Corruption when a
  // generation decodes but cannot be decrypted.
  qs::Result<std::vector<ObjectMeta>> Generations(const std::string& path);

  BackendPool& backends() { return *pool_backends_; }
  int write_quorum() const { return cfg_.write_quorum; }
  int k() const { return coder_->k(); }
  int read_quorum() const;

 private:
  MetaStore(const MetaConfig& cfg, TaskPool* pool);
  std::string StorageKey(const std::string& path) const;
  // One shard value (docs/zstor-metadata.md, "Shard value").
  struct ParsedShard {
    uint8_t k, m, index;
    uint64_t generation;
    uint32_t payload_len;
    std::string bytes;
  };
  using ShardsByGeneration = std::map<uint64_t, std::vector<ParsedShard>, std::greater<uint64_t>>;
  static bool ParseShard(const std::string& v, ParsedShard* p);
  int ReadShards(const std::string& key, ShardsByGeneration* by_generation);  // returns the answers
  bool DecodeGeneration(const std::vector<ParsedShard>& shards, std::string* payload) const;
  qs::Result<ObjectMeta> OpenGeneration(const std::string& key, uint64_t gen, const std::string& payload) const;
  qs::Result<ObjectMeta> GetByKey(const std::string& key);
  size_t shard_count() const;  // backends written: min(k + m, configured)

  MetaConfig cfg_;
  TaskPool* pool_;
  std::unique_ptr<BackendPool> pool_backends_;
  std::unique_ptr<ErasureCoder> coder_;
};

}  // namespace zstor
