#include "zstor/config.h"

#include "common/config.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <set>

namespace zstor {

using qs::Result;
using qs::Status;
using qs::TomlReader;

std::string BackendConfig::Name() const { return address.ToString() + "/" + address.ns; }

namespace {

Result<Config> FromTable(const toml::table& table);

Result<Key> ReadKey(TomlReader& section, const std::string& what) {
  auto algo = section.GetEnumOr("algorithm", "AES", {"AES"});
  if (!algo.ok()) return algo.status();
  auto hex = section.GetString("key");
  if (!hex.ok()) return hex.status();
  auto key = Key::FromHex(*hex);
  if (!key.ok()) return Status::InvalidArgument("config key '" + section.KeyPath("key") + "': " + key.status().message());
  (void)what;
  return key;
}

// [..encryption] old_keys = ["hex", ...]: keys of earlier rotations.
Result<std::vector<Key>> ReadOldKeys(TomlReader& section) {
  auto hexes = section.GetStringArrayOr("old_keys", {});
  if (!hexes.ok()) return hexes.status();
  std::vector<Key> keys;
  for (size_t i = 0; i < hexes->size(); ++i) {
    auto k = Key::FromHex((*hexes)[i]);
    if (!k.ok())
      return Status::InvalidArgument("config key '" + section.KeyPath("old_keys") + "[" + std::to_string(i) +
                                     "]': " + k.status().message());
    keys.push_back(*k);
  }
  return keys;
}

// 0-stor_v2 took the zdb's default namespace for a backend without one.
std::string MissingNamespace(const std::string& key_path, const toml::table& backend) {
  return "missing required config key '" + key_path +
         "': 0-stor_v2 used the zdb's default namespace when none is given; write namespace = \"default\" to "
         "keep that backend" + qs::TomlLocation(backend.source());
}

// What a 0-stor_v2 config (github.com/threefoldtech/0-stor_v2, zstor/src/
// config.rs) holds that has no meaning here, each with what to write
// instead; all of them in one message, so that a 0-stor_v2 config is
// converted in one pass. Keys with the same meaning are read as usual.
Status CheckZeroStorV2Keys(const toml::table& t) {
  std::vector<std::string> found;
  auto note = [&](const toml::node* n, const std::string& what) {
    if (n != nullptr) found.push_back(what + qs::TomlLocation(n->source()));
  };
  note(t.get("root"),
       "config key 'root': 0-stor_v2's virtual root is not supported: an object is named by the absolute path of "
       "its file, or by -k KEY; remove it");
  note(t.get("pid_file"),
       "config key 'pid_file': 0-stor_v2's pid file is not written: systemd tracks the daemon (zstor.service); "
       "remove it");
  note(t.get("zdbfs_mountpoint"),
       "config key 'zdbfs_mountpoint': 0-stor_v2's 0-db-fs statistics are not collected: qsfs serves its own "
       "(its mount option metrics=ADDR:PORT); remove it");
  note(t.get("explorer"),
       "config section 'explorer': 0-stor_v2's grid provisioning is not supported: create the namespaces with "
       "`zstor init` and list them in [[groups]]; remove it");
  const toml::node* algo = t.at_path("compression.algorithm").node();
  if (algo != nullptr && algo->value<std::string>() == "snappy")
    note(algo, "config key 'compression.algorithm': compression algorithm \"snappy\" is not supported: use \"zstd\" "
               "(or remove [compression])");
  const toml::node* mtype = t.at_path("meta.type").node();
  if (mtype != nullptr && mtype->value<std::string>() == "etcd")
    note(mtype, "config key 'meta.type': metadata on etcd is not supported: use type = \"zdb\" with [meta.config] "
                "prefix, [meta.config.encryption] and 4 [[meta.config.backends]] (zdb namespaces in user mode)");
  auto backends = [&](const toml::node* list, const std::string& path) {
    const toml::array* arr = list != nullptr ? list->as_array() : nullptr;
    if (arr == nullptr) return;
    for (size_t i = 0; i < arr->size(); ++i) {
      const toml::table* b = arr->get(i)->as_table();
      if (b != nullptr && !b->contains("namespace"))
        found.push_back(MissingNamespace(path + "[" + std::to_string(i) + "].namespace", *b));
    }
  };
  backends(t.at_path("meta.config.backends").node(), "meta.config.backends");
  if (const toml::array* groups = t["groups"].as_array()) {
    for (size_t g = 0; g < groups->size(); ++g) {
      if (const toml::table* gt = groups->get(g)->as_table())
        backends(gt->get("backends"), "groups[" + std::to_string(g) + "].backends");
    }
  }
  if (found.empty()) return Status::OK();
  std::string msg;
  for (const std::string& f : found) {
    if (!msg.empty()) msg.append("; ");
    msg.append(f);
  }
  return Status::InvalidArgument(msg);
}

Status ReadBackend(TomlReader& r, int group, BackendConfig* b) {
  auto addr = r.GetString("address");
  if (!addr.ok()) return addr.status();
  auto parsed = qs::ParseZdbAddress(*addr);
  if (!parsed.ok())
    return Status::InvalidArgument("config key '" + r.KeyPath("address") + "': " + parsed.status().message());
  b->address = *parsed;
  auto ns = r.GetString("namespace");
  if (!ns.ok()) return ns.status();
  b->address.ns = *ns;
  auto pw = r.GetStringOr("password", "");
  if (!pw.ok()) return pw.status();
  b->address.password = *pw;
  b->group = group;
  auto labels = r.OptionalTable("labels");
  if (!labels.ok()) return labels.status();
  for (const auto& name : labels->Keys()) {
    auto v = labels->GetString(name);
    if (!v.ok()) return v.status();
    b->labels[name] = *v;
  }
  return Status::OK();
}

// Every backend once, and no data backend doubling as a meta backend; the
// redundancy asked for must fit in the parity shards.
Status CheckBackends(const Config& c) {
  std::set<std::string> seen;
  for (const auto* list : {&c.backends, &c.meta.backends}) {
    for (const auto& b : *list) {
      if (!seen.insert(b.Name()).second)
        return Status::InvalidArgument("config: backend " + b.Name() + " is listed twice");
    }
  }
  int m = c.expected_shards - c.minimal_shards;
  if (c.redundant_nodes > m)
    return Status::InvalidArgument("config key 'redundant_nodes' (" + std::to_string(c.redundant_nodes) +
                                   ") exceeds the parity shards (expected_shards - minimal_shards = " +
                                   std::to_string(m) + ")");
  if (c.redundant_groups > 0) {
    // Fragments spread as evenly as the groups allow; the largest groups
    // together must not hold more than the parity left after redundant_nodes.
    std::vector<int> size(static_cast<size_t>(c.group_count), 0), used(size.size(), 0);
    for (const auto& b : c.backends) ++size[static_cast<size_t>(b.group)];
    for (int placed = 0; placed < c.expected_shards;) {
      bool progress = false;
      for (size_t g = 0; g < size.size() && placed < c.expected_shards; ++g) {
        if (used[g] < size[g]) {
          ++used[g];
          ++placed;
          progress = true;
        }
      }
      if (!progress) break;
    }
    std::sort(used.rbegin(), used.rend());
    int lost = 0;
    for (int r = 0; r < c.redundant_groups && r < static_cast<int>(used.size()); ++r) lost += used[static_cast<size_t>(r)];
    if (lost + c.redundant_nodes > m)
      return Status::InvalidArgument("config key 'redundant_groups': losing " + std::to_string(c.redundant_groups) +
                                     " groups costs " + std::to_string(lost) + " of " +
                                     std::to_string(c.expected_shards) + " fragments, more than the " +
                                     std::to_string(m - c.redundant_nodes) + " the parity can spare");
  }
  return Status::OK();
}

Result<Config> FromTable(const toml::table& table) {
  QS_RETURN_IF_ERROR(CheckZeroStorV2Keys(table));
  TomlReader r(table);
  Config c;
#define READ_INT(field, key, def, lo, hi)            \
  {                                                  \
    auto v = r.GetIntOr(key, def, lo, hi);           \
    if (!v.ok()) return v.status();                  \
    c.field = static_cast<int>(*v);                  \
  }
  READ_INT(minimal_shards, "minimal_shards", 16, 1, 255);
  READ_INT(expected_shards, "expected_shards", 20, 1, 255);
  READ_INT(redundant_groups, "redundant_groups", 0, 0, 255);
  READ_INT(redundant_nodes, "redundant_nodes", 0, 0, 255);
  READ_INT(prometheus_port, "prometheus_port", 0, 0, 65535);
#undef READ_INT
  {
    auto v = r.GetStringOr("socket", "");
    if (!v.ok()) return v.status();
    c.socket = *v;
    auto d = r.GetStringOr("zdb_data_dir_path", "");
    if (!d.ok()) return d.status();
    c.zdb_data_dir_path = *d;
    auto ix = r.GetStringOr("zdb_index_dir_path", "");
    if (!ix.ok()) return ix.status();
    c.zdb_index_dir_path = *ix;
    auto q = r.GetStringOr("queue_dir", c.queue_dir);
    if (!q.ok()) return q.status();
    c.queue_dir = *q;
    auto jd = r.GetStringOr("journal_dir", c.journal_dir);
    if (!jd.ok()) return jd.status();
    c.journal_dir = *jd;
    // An integer is MiB, as in 0-stor_v2; a string takes its unit ("64G").
    auto m = r.GetSizeOr("max_zdb_data_dir_size", 0, 0, std::numeric_limits<uint64_t>::max(), uint64_t{1} << 20);
    if (!m.ok()) return m.status();
    c.max_zdb_data_dir_size = *m;
    auto cs = r.GetSizeOr("chunk_size", 16ull << 20, 4096, 256ull << 20);
    if (!cs.ok()) return cs.status();
    c.chunk_size = *cs;
  }
  auto enc = r.Table("encryption");
  if (!enc.ok()) return enc.status();
  auto key = ReadKey(*enc, "encryption");
  if (!key.ok()) return key.status();
  c.key = *key;
  auto old = ReadOldKeys(*enc);
  if (!old.ok()) return old.status();
  c.old_keys = *old;
  auto comp = r.OptionalTable("compression");
  if (!comp.ok()) return comp.status();
  auto algo = comp->GetEnumOr("algorithm", "zstd", {"zstd", "none"});
  if (!algo.ok()) return algo.status();
  // Level 0 (or algorithm "none") stores every chunk raw.
  auto level = comp->GetIntOr("level", 3, 0, 19);
  if (!level.ok()) return level.status();
  c.compression_level = *algo == "none" ? 0 : static_cast<int>(*level);

  auto meta = r.Table("meta");
  if (!meta.ok()) return meta.status();
  auto mtype = meta->GetEnumOr("type", "zdb", {"zdb"});
  if (!mtype.ok()) return mtype.status();
  auto mc = meta->Table("config");
  if (!mc.ok()) return mc.status();
  auto prefix = mc->GetStringOr("prefix", "zstor");
  if (!prefix.ok()) return prefix.status();
  c.meta.prefix = *prefix;
  auto mk = mc->Table("encryption");
  if (!mk.ok()) return mk.status();
  auto mkey = ReadKey(*mk, "meta encryption");
  if (!mkey.ok()) return mkey.status();
  c.meta.key = *mkey;
  auto mold = ReadOldKeys(*mk);
  if (!mold.ok()) return mold.status();
  c.meta.old_keys = *mold;
  auto mmin = mc->GetIntOr("minimal_shards", 2, 1, 255);
  if (!mmin.ok()) return mmin.status();
  auto mexp = mc->GetIntOr("expected_shards", 4, 1, 255);
  if (!mexp.ok()) return mexp.status();
  c.meta.minimal_shards = static_cast<int>(*mmin);
  c.meta.expected_shards = static_cast<int>(*mexp);
  auto mquorum = mc->GetIntOr("write_quorum", 0, 0, 255);
  if (!mquorum.ok()) return mquorum.status();
  c.meta.write_quorum = static_cast<int>(*mquorum);
  auto mbs = mc->TableArray("backends");
  if (!mbs.ok()) return mbs.status();
  for (auto& br : *mbs) {
    BackendConfig b;
    QS_RETURN_IF_ERROR(ReadBackend(br, -1, &b));
    c.meta.backends.push_back(std::move(b));
  }
  auto groups = r.TableArray("groups");
  if (!groups.ok()) return groups.status();
  int g = 0;
  for (auto& gr : *groups) {
    auto bs = gr.TableArray("backends");
    if (!bs.ok()) return bs.status();
    for (auto& br : *bs) {
      BackendConfig b;
      QS_RETURN_IF_ERROR(ReadBackend(br, g, &b));
      c.backends.push_back(std::move(b));
    }
    ++g;
  }
  c.group_count = g;
  auto mon = r.OptionalTable("monitor");
  if (!mon.ok()) return mon.status();
  struct {
    const char* key;
    int* field;
    int lo, hi;
  } mon_keys[] = {
      {"health_interval", &c.monitor.health_interval, 1, 3600},
      {"repair_interval", &c.monitor.repair_interval, 1, 86400},
      {"repair_delay", &c.monitor.repair_delay, 0, 86400 * 30},
      {"repair_objects_per_round", &c.monitor.repair_objects_per_round, 1, 1000000},
      {"scrub_interval", &c.monitor.scrub_interval, 1, 86400 * 365},
      {"full_scrub_interval", &c.monitor.full_scrub_interval, 1, 86400 * 365},
      {"sweep_interval", &c.monitor.sweep_interval, 0, 86400 * 365},
      // At least 10 request deadlines: a fragment that old was acknowledged
      // (and named by its store's intent) before a sweep starts.
      {"sweep_min_age", &c.monitor.sweep_min_age, 300, 86400 * 365},
  };
  for (auto& mk : mon_keys) {
    auto v = mon->GetIntOr(mk.key, *mk.field, mk.lo, mk.hi);
    if (!v.ok()) return v.status();
    *mk.field = static_cast<int>(*v);
  }
  auto pols = r.OptionalTableArray("policies");
  if (!pols.ok()) return pols.status();
  for (auto& pr : *pols) {
    PlacementPolicy p;
    auto pp = pr.GetString("path_prefix");
    if (!pp.ok()) return pp.status();
    p.path_prefix = *pp;
    auto labels = pr.Table("labels");
    if (!labels.ok()) return labels.status();
    for (const auto& name : labels->Keys()) {
      auto v = labels->GetString(name);
      if (!v.ok()) return v.status();
      p.labels[name] = *v;
    }
    c.policies.push_back(std::move(p));
  }
  // Unknown keys first: a misspelled key must not surface as a complaint
  // about the default that replaced it.
  QS_RETURN_IF_ERROR(r.CheckNoUnknownKeys());
  if (c.expected_shards < c.minimal_shards)
    return Status::InvalidArgument("config key 'expected_shards' (" + std::to_string(c.expected_shards) +
                                   ") must be at least 'minimal_shards' (" + std::to_string(c.minimal_shards) + ")");
  if (c.meta.expected_shards < c.meta.minimal_shards)
    return Status::InvalidArgument("config key 'meta.config.expected_shards' must be at least 'meta.config.minimal_shards'");
  if (static_cast<int>(c.meta.backends.size()) < c.meta.expected_shards)
    return Status::InvalidArgument("config key 'meta.config.backends': " + std::to_string(c.meta.backends.size()) +
                                   " backends for " + std::to_string(c.meta.expected_shards) +
                                   " metadata shards (meta.config.expected_shards)");
  {
    int k = c.meta.minimal_shards, n = c.meta.expected_shards;
    if (c.meta.write_quorum == 0) c.meta.write_quorum = DefaultWriteQuorum(k, n);
    int w = c.meta.write_quorum, least = std::min(n, 2 * k - 1);
    if (w < least || w > n)
      return Status::InvalidArgument(
          "config key 'meta.config.write_quorum' (" + std::to_string(w) + ") must be between " +
          std::to_string(least) + " and " + std::to_string(n) +
          " (min(expected_shards, 2 * minimal_shards - 1) .. expected_shards): with fewer, a failed record write "
          "can leave neither the old nor the new record readable (docs/zstor-metadata.md, \"Quorum\")");
  }


  if (static_cast<int>(c.backends.size()) < c.expected_shards)
    return Status::InvalidArgument("config key 'groups': " + std::to_string(c.backends.size()) + " backends for " +
                                   std::to_string(c.expected_shards) +
                                   " shards (expected_shards); every fragment needs a distinct backend");
  if (c.redundant_groups >= c.group_count && c.redundant_groups > 0)
    return Status::InvalidArgument("config key 'redundant_groups' (" + std::to_string(c.redundant_groups) +
                                   ") must be smaller than the number of groups (" + std::to_string(c.group_count) + ")");
  QS_RETURN_IF_ERROR(CheckBackends(c));
  return c;
}

// The keys decrypt every object: a file holding one must not be readable by
// every user. Its group may read it (the daemon runs as a member).
Status CheckKeysPrivate(const toml::table& table, const std::string& path, uint32_t mode) {
  if ((mode & S_IROTH) == 0) return Status::OK();
  bool holds_keys = false;
  for (const char* key : {"encryption.key", "encryption.old_keys", "meta.config.encryption.key",
                          "meta.config.encryption.old_keys"})
    holds_keys = holds_keys || table.at_path(key).node() != nullptr;
  if (!holds_keys) return Status::OK();
  char octal[8];
  std::snprintf(octal, sizeof(octal), "%04o", static_cast<unsigned>(mode & 07777));
  return Status::PermissionDenied(path + " holds encryption keys and is readable by every user (mode " + octal +
                                  "); run: chmod 600 " + path);
}

}  // namespace

Result<Config> ParseConfig(std::string_view text, std::string_view source_name) {
  auto table = qs::ParseToml(text, source_name);
  if (!table.ok()) return table.status();
  return FromTable(*table);
}

Result<Config> LoadConfig(const std::string& path) {
  uint32_t mode = 0;
  auto table = qs::LoadTomlFile(path, &mode);
  if (!table.ok()) return table.status();
  QS_RETURN_IF_ERROR(CheckKeysPrivate(*table, path, mode));
  return FromTable(*table);
}

int DefaultWriteQuorum(int k, int n) { return std::min(n, std::max(2 * k - 1, n / 2 + 1)); }

}  // namespace zstor
