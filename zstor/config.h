// zstor configuration (TOML). Key names follow 0-stor_v2 where the meaning
// is the same; every key is documented in config/zstor.toml. Load() fails
// with a message naming the offending key.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/zdb_client.h"
#include "zstor/crypto.h"

namespace zstor {

struct BackendConfig {
  qs::ZdbAddress address;  // host:port or unix:/path, plus namespace and password
  std::map<std::string, std::string> labels;  // e.g. country = "BE"
  int group = 0;           // index of its [[groups]] entry (-1 for meta backends)
  std::string Name() const;  // "address/namespace", stable identity in metadata
};

struct MetaConfig {
  std::string prefix = "zstor";  // key prefix in the meta namespaces
  Key key;                      // encrypts metadata records
  std::vector<Key> old_keys;    // still accepted when reading (rotation)
  int minimal_shards = 2;       // meta records are dispersed k+m over the meta backends
  int expected_shards = 4;
  // Meta backends a record write must reach before it is acknowledged
  // (docs/zstor-metadata.md, "Quorum"); a read needs answers from
  // expected_shards - write_quorum + 1. 0 in the file: DefaultWriteQuorum.
  int write_quorum = 0;
  std::vector<BackendConfig> backends;
};

// max(2k - 1, n/2 + 1), at most n, with k = minimal_shards, n = expected_shards.
int DefaultWriteQuorum(int k, int n);

// Restricts objects whose path starts with `path_prefix` to backends whose
// labels match every entry of `labels` (geographic control).
struct PlacementPolicy {
  std::string path_prefix;
  std::map<std::string, std::string> labels;
};

// The daemon's background work (zstor monitor), in seconds.
struct MonitorConfig {
  int health_interval = 5;       // PING every backend
  int repair_interval = 30;      // look for objects with fragments on dead backends
  int repair_delay = 60;         // a backend down this long counts as dead
  int repair_objects_per_round = 100;  // repair rate limit
  int scrub_interval = 3600;     // PROVE challenges (no download)
  int full_scrub_interval = 86400;  // download and verify every fragment
  int sweep_interval = 86400;    // fragment sweep (zstor/fragment_sweep.h); 0: off
  int sweep_min_age = 3600;      // the sweep keeps unreferenced fragments younger than this
};

struct Config {
  int minimal_shards = 16;   // k: fragments needed to rebuild an object
  int expected_shards = 20;  // k + m: fragments written
  int redundant_groups = 0;  // whole groups that may vanish with data still readable
  int redundant_nodes = 0;   // backends that may vanish, in addition
  std::string socket;        // daemon's Unix socket (empty: CLI runs in-process)
  int prometheus_port = 0;   // 0: no /metrics
  std::string zdb_data_dir_path;     // staging zdb's data dir (eviction)
  std::string zdb_index_dir_path;    // staging zdb's index dir (namespace descriptors)
  std::string queue_dir = "/var/lib/zstor/queue";  // durable staging job queue
  std::string journal_dir = "/var/lib/zstor/journal";  // intents of stores in flight; empty: none
  uint64_t max_zdb_data_dir_size = 0;  // bytes, 0: no eviction
  Key key;                   // [encryption] key: encrypts new chunks
  std::vector<Key> old_keys; // [encryption] old_keys: still decrypt old chunks
  int compression_level = 3; // [compression] level (algorithm is zstd)
  uint64_t chunk_size = 16ull << 20;  // bytes of plaintext per chunk
  std::vector<BackendConfig> backends;  // every data backend, in [[groups]] order
  int group_count = 0;
  MetaConfig meta;
  std::vector<PlacementPolicy> policies;
  MonitorConfig monitor;

  int parity_shards() const { return expected_shards - minimal_shards; }
};

qs::Result<Config> LoadConfig(const std::string& path);
qs::Result<Config> ParseConfig(std::string_view toml_text, std::string_view source_name);

}  // namespace zstor
