// zstor configuration: the shipped example files load, and bad configs are
// refused with a message naming the offending key.
#include "zstor/config.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "tests/common/run_command.h"
#include "tests/zdb/test_util.h"

namespace zstor {
namespace {

// Passes when text contains part; shows the whole text otherwise.
::testing::AssertionResult Contains(const std::string& text, std::string_view part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "'" << text << "' does not contain '" << part << "'";
}

const char kKey[] = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
const char kMetaKey[] = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";

// A small valid config: k=2, k+m=4, 2 groups of 2 backends, 2 meta backends.
// Each test changes one thing and expects a precise complaint.
std::string BaseConfig() {
  return std::string(
             "minimal_shards = 2\n"
             "expected_shards = 4\n"
             "redundant_groups = 1\n"
             "chunk_size = \"1M\"\n"
             "[encryption]\n"
             "algorithm = \"AES\"\n"
             "key = \"") +
         kKey +
         "\"\n"
         "[compression]\n"
         "algorithm = \"zstd\"\n"
         "level = 5\n"
         "[meta]\n"
         "type = \"zdb\"\n"
         "[meta.config]\n"
         "prefix = \"t\"\n"
         "minimal_shards = 1\n"
         "expected_shards = 2\n"
         "[meta.config.encryption]\n"
         "key = \"" +
         kMetaKey +
         "\"\n"
         "[[meta.config.backends]]\n"
         "address = \"127.0.0.1:9921\"\n"
         "namespace = \"meta\"\n"
         "[[meta.config.backends]]\n"
         "address = \"127.0.0.1:9922\"\n"
         "namespace = \"meta\"\n"
         "[[groups]]\n"
         "[[groups.backends]]\n"
         "address = \"127.0.0.1:9901\"\n"
         "namespace = \"data\"\n"
         "[[groups.backends]]\n"
         "address = \"127.0.0.1:9902\"\n"
         "namespace = \"data\"\n"
         "labels = { country = \"BE\" }\n"
         "[[groups]]\n"
         "[[groups.backends]]\n"
         "address = \"127.0.0.1:9903\"\n"
         "namespace = \"data\"\n"
         "[[groups.backends]]\n"
         "address = \"127.0.0.1:9904\"\n"
         "namespace = \"data\"\n";
}

// BaseConfig with the one occurrence of `from` replaced by `to`.
std::string With(std::string_view from, std::string_view to) {
  std::string text = BaseConfig();
  size_t pos = text.find(from);
  EXPECT_NE(pos, std::string::npos) << "test bug: '" << from << "' is not in the base config";
  if (pos == std::string::npos) return text;
  EXPECT_EQ(text.find(from, pos + 1), std::string::npos) << "test bug: '" << from << "' is ambiguous";
  text.replace(pos, from.size(), to);
  return text;
}

// The error message of parsing text, which must fail.
std::string ErrorOf(const std::string& text) {
  auto c = ParseConfig(text, "test.toml");
  EXPECT_FALSE(c.ok()) << "config was accepted:\n" << text;
  if (c.ok()) return "";
  EXPECT_EQ(c.status().code(), qs::Status::Code::kInvalidArgument) << c.status().ToString();
  return c.status().message();
}

std::string Source(std::string_view rel) { return std::string(QS_SOURCE_DIR) + "/" + std::string(rel); }

// Loads a copy of the example config at `rel`, private as an installed
// config must be (a checkout leaves the examples readable by everyone).
qs::Result<Config> LoadExample(std::string_view rel) {
  zdb_test::TempDir dir;
  std::string copy = dir.path() + "/" + std::string(std::filesystem::path(rel).filename());
  std::filesystem::copy_file(Source(rel), copy);
  std::filesystem::permissions(copy, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  return LoadConfig(copy);
}

TEST(ZstorConfigTest, BaseConfigIsValid) {
  auto c = ParseConfig(BaseConfig(), "test.toml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->minimal_shards, 2);
  EXPECT_EQ(c->expected_shards, 4);
  EXPECT_EQ(c->parity_shards(), 2);
  EXPECT_EQ(c->group_count, 2);
  ASSERT_EQ(c->backends.size(), 4u);
  EXPECT_EQ(c->backends[2].group, 1);
  EXPECT_EQ(c->backends[1].labels.at("country"), "BE");
  EXPECT_EQ(c->chunk_size, 1u << 20);
  EXPECT_EQ(c->compression_level, 5);
  EXPECT_EQ(c->key.ToHex(), kKey);
  EXPECT_EQ(c->meta.key.ToHex(), kMetaKey);
  EXPECT_EQ(c->meta.backends.size(), 2u);
  EXPECT_EQ(c->meta.backends[0].group, -1);
}

TEST(ZstorConfigTest, ProductionExampleLoads) {
  auto c = LoadExample("config/zstor.toml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->minimal_shards, 10);
  EXPECT_EQ(c->expected_shards, 16);
  EXPECT_EQ(c->redundant_groups, 1);
  EXPECT_EQ(c->redundant_nodes, 2);
  EXPECT_EQ(c->socket, "/run/zstor/zstor.sock");
  EXPECT_EQ(c->prometheus_port, 9100);
  EXPECT_EQ(c->zdb_data_dir_path, "/var/lib/zdb/data");
  EXPECT_EQ(c->max_zdb_data_dir_size, 64ull << 30);
  EXPECT_EQ(c->chunk_size, 16ull << 20);
  EXPECT_EQ(c->compression_level, 3);
  EXPECT_EQ(c->group_count, 4);
  ASSERT_EQ(c->backends.size(), 20u);
  for (size_t i = 0; i < c->backends.size(); ++i) {
    const BackendConfig& b = c->backends[i];
    EXPECT_EQ(b.group, static_cast<int>(i / 5)) << i;
    EXPECT_EQ(b.address.port, 9900) << i;
    EXPECT_EQ(b.address.ns, "zstor-data") << i;
    EXPECT_FALSE(b.address.password.empty()) << i;
    EXPECT_EQ(b.labels.count("country"), 1u) << i;
    EXPECT_EQ(b.labels.at("region"), "eu") << i;
  }
  EXPECT_EQ(c->backends[0].address.host, "2001:db8::1");
  EXPECT_EQ(c->backends[0].Name(), "[2001:db8::1]:9900/zstor-data");
  EXPECT_EQ(c->backends[0].labels.at("country"), "BE");
  EXPECT_EQ(c->backends[15].labels.at("country"), "DE");
  EXPECT_EQ(c->meta.prefix, "zstor");
  EXPECT_EQ(c->meta.minimal_shards, 2);
  EXPECT_EQ(c->meta.expected_shards, 4);
  ASSERT_EQ(c->meta.backends.size(), 4u);
  EXPECT_EQ(c->meta.backends[0].address.ns, "zstor-meta");
  EXPECT_EQ(c->monitor.health_interval, 5);
  EXPECT_EQ(c->monitor.repair_interval, 30);
  EXPECT_EQ(c->monitor.repair_delay, 300);
  EXPECT_EQ(c->monitor.repair_objects_per_round, 100);
  EXPECT_EQ(c->monitor.scrub_interval, 3600);
  EXPECT_EQ(c->monitor.full_scrub_interval, 604800);
  ASSERT_EQ(c->policies.size(), 1u);
  EXPECT_EQ(c->policies[0].path_prefix, "/eu/");
  EXPECT_EQ(c->policies[0].labels.at("region"), "eu");
  // The example keys are placeholders, distinct for data and metadata.
  EXPECT_NE(c->key.ToHex(), c->meta.key.ToHex());
}

TEST(ZstorConfigTest, LocalExampleLoads) {
  auto c = LoadExample("config/zstor-local.toml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->group_count, 4);
  ASSERT_EQ(c->backends.size(), 20u);
  for (size_t i = 0; i < c->backends.size(); ++i) {
    const BackendConfig& b = c->backends[i];
    EXPECT_EQ(b.group, static_cast<int>(i / 5)) << i;
    EXPECT_EQ(b.address.host, "127.0.0.1") << i;
    EXPECT_EQ(b.address.port, 9901 + static_cast<int>(i)) << i;
    EXPECT_EQ(b.address.ns, "default") << i;
  }
  ASSERT_EQ(c->meta.backends.size(), 4u);
  for (size_t i = 0; i < c->meta.backends.size(); ++i) {
    EXPECT_EQ(c->meta.backends[i].address.ToString(), "127.0.0.1:" + std::to_string(9921 + i));
    EXPECT_EQ(c->meta.backends[i].address.ns, "default");
  }
  EXPECT_EQ(c->minimal_shards, 10);
  EXPECT_EQ(c->expected_shards, 16);
  EXPECT_EQ(c->chunk_size, 1u << 20);
  EXPECT_EQ(c->meta.prefix, "zstor-local");
  EXPECT_EQ(c->socket, "");
  EXPECT_EQ(c->monitor.health_interval, 2);
  EXPECT_EQ(c->monitor.repair_delay, 30);
  ASSERT_EQ(c->policies.size(), 1u);
}

// 0-stor_v2 counts max_zdb_data_dir_size in MiB: a bare integer keeps that
// meaning (a 0-stor_v2 config means the same here); a string takes a unit.
TEST(ZstorConfigTest, MaxZdbDataDirSizeIntegerIsMiBAs0StorV2) {
  auto c = ParseConfig(With("redundant_groups = 1\n", "redundant_groups = 1\nmax_zdb_data_dir_size = 2048\n"),
                       "test.toml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->max_zdb_data_dir_size, 2048ull << 20);
  c = ParseConfig(With("redundant_groups = 1\n", "redundant_groups = 1\nmax_zdb_data_dir_size = \"3G\"\n"),
                  "test.toml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->max_zdb_data_dir_size, 3ull << 30);
  std::string msg = ErrorOf(With("redundant_groups = 1\n", "redundant_groups = 1\nmax_zdb_data_dir_size = -1\n"));
  EXPECT_TRUE(Contains(msg, "max_zdb_data_dir_size")) << msg;
}

TEST(ZstorConfigTest, UnknownTopLevelKey) {
  std::string msg = ErrorOf(With("redundant_groups = 1\n", "redundant_groups = 1\nredundant_group = 1\n"));
  EXPECT_TRUE(Contains(msg, "unknown config key 'redundant_group' (at test.toml:4:1)"));
}

TEST(ZstorConfigTest, UnknownKeyInBackend) {
  std::string msg = ErrorOf(With("address = \"127.0.0.1:9903\"\n", "address = \"127.0.0.1:9903\"\nweight = 2\n"));
  EXPECT_TRUE(Contains(msg, "unknown config key 'groups[1].backends[0].weight'"));
}

TEST(ZstorConfigTest, UnknownKeyInMetaBackend) {
  std::string msg = ErrorOf(With("namespace = \"meta\"\n[[meta.config.backends]]",
                                 "namespace = \"meta\"\npasword = \"x\"\n[[meta.config.backends]]"));
  EXPECT_TRUE(Contains(msg, "unknown config key 'meta.config.backends[0].pasword'"));
}

TEST(ZstorConfigTest, KeyOfWrongLength) {
  EXPECT_EQ(ErrorOf(With(kKey, std::string(kKey).substr(1))),
            "config key 'encryption.key': encryption key must be 64 hex digits (32 bytes), got 63 characters");
}

TEST(ZstorConfigTest, KeyWithNonHexDigit) {
  std::string bad = kMetaKey;
  bad[5] = 'g';
  std::string msg = ErrorOf(With(kMetaKey, bad));
  EXPECT_EQ(msg, "config key 'meta.config.encryption.key': encryption key has a non-hex character at position 5");
  EXPECT_FALSE(Contains(msg, bad));  // the secret is not echoed
}

TEST(ZstorConfigTest, FewerBackendsThanExpectedShards) {
  EXPECT_EQ(ErrorOf(With("expected_shards = 4\n", "expected_shards = 5\n")),
            "config key 'groups': 4 backends for 5 shards (expected_shards); every fragment needs a distinct backend");
}

TEST(ZstorConfigTest, ExpectedShardsBelowMinimalShards) {
  EXPECT_EQ(ErrorOf(With("minimal_shards = 2\n", "minimal_shards = 5\n")),
            "config key 'expected_shards' (4) must be at least 'minimal_shards' (5)");
}

TEST(ZstorConfigTest, MoreThan255Shards) {
  std::string text = With("minimal_shards = 2\nexpected_shards = 4\n", "minimal_shards = 200\nexpected_shards = 256\n");
  EXPECT_EQ(ErrorOf(text), "config key 'expected_shards': value 256 out of range [1, 255] (at test.toml:2:19)");
}

TEST(ZstorConfigTest, MissingEncryptionSection) {
  std::string text = With("[encryption]\nalgorithm = \"AES\"\nkey = \"" + std::string(kKey) + "\"\n", "");
  EXPECT_EQ(ErrorOf(text), "missing required config key 'encryption'");
}

TEST(ZstorConfigTest, FewerMetaBackendsThanMetaExpectedShards) {
  EXPECT_EQ(ErrorOf(With("expected_shards = 2\n", "expected_shards = 3\n")),
            "config key 'meta.config.backends': 2 backends for 3 metadata shards (meta.config.expected_shards)");
}

TEST(ZstorConfigTest, MetaExpectedShardsBelowMetaMinimalShards) {
  EXPECT_EQ(ErrorOf(With("minimal_shards = 1\n", "minimal_shards = 3\n")),
            "config key 'meta.config.expected_shards' must be at least 'meta.config.minimal_shards'");
}

TEST(ZstorConfigTest, BadPort) {
  EXPECT_EQ(ErrorOf(With("127.0.0.1:9902", "127.0.0.1:99020")),
            "config key 'groups[0].backends[1].address': invalid zdb address '127.0.0.1:99020': "
            "port must be a number in 1..65535");
}

TEST(ZstorConfigTest, BadBracketedAddress) {
  EXPECT_EQ(ErrorOf(With("127.0.0.1:9922", "[2001:db8::1:9922")),
            "config key 'meta.config.backends[1].address': invalid zdb address '[2001:db8::1:9922': missing ']'");
}

TEST(ZstorConfigTest, EmptyAddress) {
  EXPECT_EQ(ErrorOf(With("127.0.0.1:9904", "")),
            "config key 'groups[1].backends[1].address': invalid zdb address '': empty host");
}

TEST(ZstorConfigTest, RedundantGroupsNotBelowGroupCount) {
  EXPECT_EQ(ErrorOf(With("redundant_groups = 1\n", "redundant_groups = 2\n")),
            "config key 'redundant_groups' (2) must be smaller than the number of groups (2)");
}

TEST(ZstorConfigTest, BadCompressionAlgorithm) {
  EXPECT_EQ(ErrorOf(With("algorithm = \"zstd\"\n", "algorithm = \"lz4\"\n")),
            "config key 'compression.algorithm': expected one of zstd|none, got 'lz4' (at test.toml:9:13)");
}

TEST(ZstorConfigTest, CompressionCanBeTurnedOff) {
  auto c = ParseConfig(With("level = 5\n", "level = 0\n"), "test.toml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->compression_level, 0);
  c = ParseConfig(With("algorithm = \"zstd\"\n", "algorithm = \"none\"\n"), "test.toml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->compression_level, 0);
  EXPECT_EQ(ErrorOf(With("level = 5\n", "level = 20\n")),
            "config key 'compression.level': value 20 out of range [0, 19] (at test.toml:10:9)");
}

TEST(ZstorConfigTest, OldKeysAreReadAndChecked) {
  std::string two = std::string(64, 'a'), three = std::string(64, 'b');
  auto c = ParseConfig(With("[compression]\n", "old_keys = [\"" + two + "\", \"" + three + "\"]\n[compression]\n"),
                       "test.toml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_EQ(c->old_keys.size(), 2u);
  EXPECT_EQ(c->old_keys[1].ToHex(), three);
  EXPECT_EQ(ErrorOf(With("[compression]\n", "old_keys = [\"" + two + "\", \"abc\"]\n[compression]\n")),
            "config key 'encryption.old_keys[1]': encryption key must be 64 hex digits (32 bytes), got 3 characters");
}

TEST(ZstorConfigTest, CompressionIsOptional) {
  auto c = ParseConfig(With("[compression]\nalgorithm = \"zstd\"\nlevel = 5\n", ""), "test.toml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->compression_level, 3);  // the default
}

TEST(ZstorConfigTest, MonitorDefaultsAndRange) {
  auto c = ParseConfig(BaseConfig(), "test.toml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->monitor.health_interval, 5);
  EXPECT_EQ(c->monitor.repair_delay, 60);
  EXPECT_EQ(c->monitor.full_scrub_interval, 86400);
  EXPECT_EQ(ErrorOf(BaseConfig() + "[monitor]\nhealth_interval = 0\n"),
            "config key 'monitor.health_interval': value 0 out of range [1, 3600] (at test.toml:41:19)");
  EXPECT_TRUE(Contains(ErrorOf(BaseConfig() + "[monitor]\nscrub_intervall = 60\n"),
                       "unknown config key 'monitor.scrub_intervall'"));
}

TEST(ZstorConfigTest, MissingBackendNamespace) {
  EXPECT_EQ(ErrorOf(With("address = \"127.0.0.1:9903\"\nnamespace = \"data\"\n", "address = \"127.0.0.1:9903\"\n")),
            "missing required config key 'groups[1].backends[0].namespace': 0-stor_v2 used the zdb's default "
            "namespace when none is given; write namespace = \"default\" to keep that backend (at test.toml:34:1)");
}

}  // namespace
}  // namespace zstor

namespace zstor {
namespace {

TEST(ZstorConfigTest, MisspelledKeyIsNamedNotItsDefault) {
  // minimal_shards falls back to 16 > expected_shards; the typo is the news.
  std::string err = ErrorOf(With("minimal_shards = 2\n", "minimal_shard = 2\n"));
  EXPECT_NE(err.find("unknown config key 'minimal_shard'"), std::string::npos) << err;
}

TEST(ZstorConfigTest, BackendListedTwice) {
  EXPECT_EQ(ErrorOf(With("127.0.0.1:9904", "127.0.0.1:9903")),
            "config: backend 127.0.0.1:9903/data is listed twice");
}

TEST(ZstorConfigTest, RedundantNodesBeyondParity) {
  EXPECT_EQ(ErrorOf(With("redundant_groups = 1\n", "redundant_groups = 0\nredundant_nodes = 3\n")),
            "config key 'redundant_nodes' (3) exceeds the parity shards (expected_shards - minimal_shards = 2)");
}

TEST(ZstorConfigTest, RedundancyThatCannotFit) {
  // 2 groups of 2 hold 2 fragments each; losing a group costs 2, plus one
  // node is 3 > m = 2.
  EXPECT_EQ(ErrorOf(With("redundant_groups = 1\n", "redundant_groups = 1\nredundant_nodes = 1\n")),
            "config key 'redundant_groups': losing 1 groups costs 2 of 4 fragments, more than the 1 the parity can spare");
}

TEST(ZstorConfigTest, UnbracketedIpv6IsRefused) {
  std::string err = ErrorOf(With("127.0.0.1:9901", "2001:db8::1:9900"));
  EXPECT_NE(err.find("an IPv6 address needs brackets, e.g. [2001:db8::1]:9900"), std::string::npos) << err;
}

}  // namespace
}  // namespace zstor

namespace zstor {
namespace {

// Writes text to path with exactly `mode` (the umask does not apply).
void WriteWithMode(const std::string& path, const std::string& text, mode_t mode) {
  {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << text;
  }
  ASSERT_EQ(chmod(path.c_str(), mode), 0) << path;
}

std::string ReadableByAll(const std::string& path, const char* mode) {
  return path + " holds encryption keys and is readable by every user (mode " + mode + "); run: chmod 600 " + path;
}

// The config holds the keys of every object: a copy readable by every user
// of the machine is refused, with the command that fixes it. The daemon's
// group may read it.
TEST(ZstorConfigTest, KeysReadableByEveryUserAreRefused) {
  zdb_test::TempDir dir;
  const std::string path = dir.path() + "/zstor.toml";
  for (mode_t mode : {0600, 0640, 0400, 0660}) {
    WriteWithMode(path, BaseConfig(), mode);
    auto c = LoadConfig(path);
    EXPECT_TRUE(c.ok()) << std::oct << mode << ": " << c.status().ToString();
  }
  struct {
    mode_t mode;
    const char* shown;
  } refused[] = {{0644, "0644"}, {0604, "0604"}, {0666, "0666"}, {0444, "0444"}};
  for (const auto& r : refused) {
    WriteWithMode(path, BaseConfig(), r.mode);
    auto c = LoadConfig(path);
    ASSERT_FALSE(c.ok()) << r.shown;
    EXPECT_EQ(c.status().code(), qs::Status::Code::kPermissionDenied);
    EXPECT_EQ(c.status().message(), ReadableByAll(path, r.shown));
  }
  // ParseConfig reads text, not a file: nothing to check.
  EXPECT_TRUE(ParseConfig(BaseConfig(), path).ok());
}

// Through a symlink the target's mode counts (the link's own is 0777).
TEST(ZstorConfigTest, SymlinkedKeysReadableByEveryUserAreRefused) {
  zdb_test::TempDir dir;
  const std::string target = dir.path() + "/real.toml", link = dir.path() + "/zstor.toml";
  ASSERT_EQ(symlink(target.c_str(), link.c_str()), 0);
  WriteWithMode(target, BaseConfig(), 0600);
  auto c = LoadConfig(link);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_EQ(chmod(target.c_str(), 0644), 0);
  c = LoadConfig(link);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), ReadableByAll(link, "0644"));
}

// Every command that loads the config refuses it, zstor-hook too (the
// staging zdb's hook, config from $ZSTOR_CONFIG), with exit status 2.
TEST(ZstorConfigTest, CommandsRefuseKeysReadableByEveryUser) {
  zdb_test::TempDir dir;
  const std::string path = dir.path() + "/zstor.toml";
  // Backends on sockets that do not exist: nothing is reached if the check
  // is missing, and every command ends on its own.
  std::string text = BaseConfig();
  for (size_t at; (at = text.find("127.0.0.1:")) != std::string::npos;)
    text.replace(at, 10, "unix:" + dir.path() + "/none-");
  WriteWithMode(path, text, 0644);
  const std::string bin = QS_BIN_DIR;
  const std::string want = "zstor: " + ReadableByAll(path, "0644") + "\n";
  for (const char* command : {"list", "status", "monitor", "check -f /etc/hostname", "hook ready zdb"}) {
    auto [rc, out] = qs_test::RunCommand("timeout 60 " + bin + "/zstor -c " + path + " " + command);
    EXPECT_EQ(rc, 2) << command << ": " << out;
    EXPECT_EQ(out, want) << command;
  }
  auto [rc, out] = qs_test::RunCommand("ZSTOR_CONFIG=" + path + " timeout 60 " + bin + "/zstor-hook ready zdb");
  EXPECT_EQ(rc, 2) << out;
  EXPECT_EQ(out, want);
}

}  // namespace
}  // namespace zstor

// 0-stor_v2 (github.com/threefoldtech/0-stor_v2) configs, in the shapes its
// README, its own tests and the grid's deployment tools write: each either
// loads with the same meaning or is refused with every change to make.
namespace zstor {
namespace {

std::string Repeat(const std::string& block, int n, const std::string& var) {
  std::string out;
  for (int i = 0; i < n; ++i) {
    std::string b = block;
    for (size_t at; (at = b.find(var)) != std::string::npos;) b.replace(at, var.size(), std::to_string(i));
    out += b;
  }
  return out;
}

// The shape of 0-stor_v2's README example: a virtual root, snappy, and
// backends without a namespace (0-stor_v2 takes the zdb's default one).
std::string ZeroStorV2ReadmeShape() {
  return "minimal_shards = 2\n"
         "expected_shards = 4\n"
         "redundant_groups = 1\n"
         "redundant_nodes = 0\n"
         "root = \"/srv/objects\"\n"
         "socket = \"/run/zstor-v2.sock\"\n"
         "prometheus_port = 9100\n"
         "zdb_data_dir_path = \"/srv/zdb/data\"\n"
         "max_zdb_data_dir_size = 25600\n"
         "\n"
         "[encryption]\n"
         "algorithm = \"AES\"\n"
         "key = \"" + std::string(kKey) + "\"\n"
         "\n"
         "[compression]\n"
         "algorithm = \"snappy\"\n"
         "\n"
         "[meta]\n"
         "type = \"zdb\"\n"
         "\n"
         "[meta.config]\n"
         "prefix = \"objects\"\n"
         "\n"
         "[meta.config.encryption]\n"
         "algorithm = \"AES\"\n"
         "key = \"" + std::string(kMetaKey) + "\"\n" +
         Repeat("\n[[meta.config.backends]]\naddress = \"[2001:db8:0:1::M]:9900\"\nnamespace = \"meta\"\n"
                "password = \"meta-secret\"\n", 4, "M") +
         "\n[[groups]]\n"
         "[[groups.backends]]\n"
         "address = \"[2001:db8:0:2::1]:9900\"\n"
         "\n"
         "[[groups.backends]]\n"
         "address = \"[2001:db8:0:2::2]:9900\"\n"
         "namespace = \"data\"\n"
         "\n"
         "[[groups]]\n"
         "[[groups.backends]]\n"
         "address = \"[2001:db8:0:3::1]:9900\"\n"
         "\n"
         "[[groups.backends]]\n"
         "address = \"[2001:db8:0:3::2]:9900\"\n"
         "namespace = \"data\"\n"
         "password = \"data-secret\"\n";
}

// Every change is named at once, each with what to write instead.
TEST(ZstorConfigTest, ZeroStorV2ReadmeShapeNamesEveryChange) {
  EXPECT_EQ(ErrorOf(ZeroStorV2ReadmeShape()),
            "config key 'root': 0-stor_v2's virtual root is not supported: an object is named by the absolute path "
            "of its file, or by -k KEY; remove it (at test.toml:5:8); "
            "config key 'compression.algorithm': compression algorithm \"snappy\" is not supported: use \"zstd\" "
            "(or remove [compression]) (at test.toml:16:13); "
            "missing required config key 'groups[0].backends[0].namespace': 0-stor_v2 used the zdb's default "
            "namespace when none is given; write namespace = \"default\" to keep that backend (at test.toml:49:1); "
            "missing required config key 'groups[1].backends[0].namespace': 0-stor_v2 used the zdb's default "
            "namespace when none is given; write namespace = \"default\" to keep that backend (at test.toml:57:1)");
}

// With the changes the message asks for, the same config loads, and every
// key it kept means what it meant in 0-stor_v2.
TEST(ZstorConfigTest, ZeroStorV2ReadmeShapeLoadsOnceChangedAsTold) {
  std::string text = ZeroStorV2ReadmeShape();
  auto replace = [&](const std::string& from, const std::string& to) {
    size_t at = text.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    text.replace(at, from.size(), to);
  };
  replace("root = \"/srv/objects\"\n", "");
  replace("algorithm = \"snappy\"", "algorithm = \"zstd\"");
  replace("address = \"[2001:db8:0:2::1]:9900\"\n", "address = \"[2001:db8:0:2::1]:9900\"\nnamespace = \"default\"\n");
  replace("address = \"[2001:db8:0:3::1]:9900\"\n", "address = \"[2001:db8:0:3::1]:9900\"\nnamespace = \"default\"\n");
  auto c = ParseConfig(text, "test.toml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->minimal_shards, 2);
  EXPECT_EQ(c->expected_shards, 4);
  EXPECT_EQ(c->redundant_groups, 1);
  EXPECT_EQ(c->redundant_nodes, 0);
  EXPECT_EQ(c->socket, "/run/zstor-v2.sock");
  EXPECT_EQ(c->prometheus_port, 9100);
  EXPECT_EQ(c->zdb_data_dir_path, "/srv/zdb/data");
  EXPECT_EQ(c->max_zdb_data_dir_size, 25600ull << 20);  // MiB, as in 0-stor_v2
  EXPECT_EQ(c->key.ToHex(), kKey);
  EXPECT_EQ(c->meta.key.ToHex(), kMetaKey);
  EXPECT_EQ(c->meta.prefix, "objects");
  // 0-stor_v2 disperses metadata 2 + 2 over exactly 4 backends: the defaults.
  EXPECT_EQ(c->meta.minimal_shards, 2);
  EXPECT_EQ(c->meta.expected_shards, 4);
  ASSERT_EQ(c->meta.backends.size(), 4u);
  EXPECT_EQ(c->meta.backends[3].Name(), "[2001:db8:0:1::3]:9900/meta");
  EXPECT_EQ(c->meta.backends[3].address.password, "meta-secret");
  EXPECT_EQ(c->group_count, 2);
  ASSERT_EQ(c->backends.size(), 4u);
  EXPECT_EQ(c->backends[0].Name(), "[2001:db8:0:2::1]:9900/default");
  EXPECT_EQ(c->backends[0].address.password, "");  // none given: none sent
  EXPECT_EQ(c->backends[3].group, 1);
  EXPECT_EQ(c->backends[3].address.password, "data-secret");
}

// The shape the grid's deployment tools (zos qsfs, quantum-storage) write:
// root "/", a 0-db-fs mount for statistics, snappy, the same key twice,
// every backend with namespace and password.
std::string ZeroStorV2GridShape() {
  return "minimal_shards = 2\n"
         "expected_shards = 4\n"
         "redundant_groups = 0\n"
         "redundant_nodes = 0\n"
         "root = \"/\"\n"
         "zdbfs_mountpoint = \"/mnt/qsfs\"\n"
         "socket = \"/var/run/zstor.sock\"\n"
         "prometheus_port = 9200\n"
         "zdb_data_dir_path = \"/data/data/zdbfs-data/\"\n"
         "max_zdb_data_dir_size = 2560\n"
         "\n"
         "[compression]\n"
         "algorithm = \"snappy\"\n"
         "\n"
         "[meta]\n"
         "type = \"zdb\"\n"
         "\n"
         "[meta.config]\n"
         "prefix = \"zstor-meta\"\n"
         "\n"
         "[encryption]\n"
         "algorithm = \"AES\"\n"
         "key = \"" + std::string(kKey) + "\"\n"
         "\n"
         "[meta.config.encryption]\n"
         "algorithm = \"AES\"\n"
         "key = \"" + std::string(kKey) + "\"\n" +
         Repeat("\n[[meta.config.backends]]\naddress = \"[2001:db8:1::M]:9900\"\nnamespace = \"meta-M\"\n"
                "password = \"pw\"\n", 4, "M") +
         "\n[[groups]]\n" +
         Repeat("[[groups.backends]]\naddress = \"[2001:db8:2::D]:9900\"\nnamespace = \"data-D\"\npassword = \"pw\"\n\n",
                4, "D");
}

TEST(ZstorConfigTest, ZeroStorV2GridShapeNamesEveryChange) {
  EXPECT_EQ(ErrorOf(ZeroStorV2GridShape()),
            "config key 'root': 0-stor_v2's virtual root is not supported: an object is named by the absolute path "
            "of its file, or by -k KEY; remove it (at test.toml:5:8); "
            "config key 'zdbfs_mountpoint': 0-stor_v2's 0-db-fs statistics are not collected: qsfs serves its own "
            "(its mount option metrics=ADDR:PORT); remove it (at test.toml:6:20); "
            "config key 'compression.algorithm': compression algorithm \"snappy\" is not supported: use \"zstd\" "
            "(or remove [compression]) (at test.toml:13:13)");
  std::string text = ZeroStorV2GridShape();
  for (const char* line : {"root = \"/\"\n", "zdbfs_mountpoint = \"/mnt/qsfs\"\n", "[compression]\n",
                           "algorithm = \"snappy\"\n"})
    text.erase(text.find(line), std::string(line).size());
  auto c = ParseConfig(text, "test.toml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->max_zdb_data_dir_size, 2560ull << 20);
  EXPECT_EQ(c->zdb_data_dir_path, "/data/data/zdbfs-data/");
  EXPECT_EQ(c->socket, "/var/run/zstor.sock");
  EXPECT_EQ(c->prometheus_port, 9200);
  EXPECT_EQ(c->compression_level, 3);  // zstd, the default
  EXPECT_EQ(c->meta.prefix, "zstor-meta");
  EXPECT_EQ(c->key.ToHex(), c->meta.key.ToHex());
  ASSERT_EQ(c->backends.size(), 4u);
  EXPECT_EQ(c->backends[2].Name(), "[2001:db8:2::2]:9900/data-2");
  EXPECT_EQ(c->backends[2].address.password, "pw");
}

// The keys 0-stor_v2's own tests set (pid_file), its earlier grid
// provisioning ([explorer]) and its earlier etcd metadata store.
TEST(ZstorConfigTest, ZeroStorV2DaemonAndProvisioningKeysAreNamed) {
  EXPECT_EQ(ErrorOf(With("redundant_groups = 1\n", "redundant_groups = 1\npid_file = \"/tmp/zstor.pid\"\n")),
            "config key 'pid_file': 0-stor_v2's pid file is not written: systemd tracks the daemon (zstor.service); "
            "remove it (at test.toml:4:12)");
  EXPECT_EQ(ErrorOf(BaseConfig() + "[explorer]\nnetwork = \"Main\"\nidentity_id = 25\n"),
            "config section 'explorer': 0-stor_v2's grid provisioning is not supported: create the namespaces with "
            "`zstor init` and list them in [[groups]]; remove it (at test.toml:40:1)");
  EXPECT_EQ(ErrorOf(With("type = \"zdb\"\n", "type = \"etcd\"\n")),
            "config key 'meta.type': metadata on etcd is not supported: use type = \"zdb\" with [meta.config] prefix, "
            "[meta.config.encryption] and 4 [[meta.config.backends]] (zdb namespaces in user mode) (at test.toml:12:8)");
}

// zdb_index_dir_path (0-stor_v2 late 2021: the staging zdb's index
// directory) loads; other unknown keys stay unknown.
TEST(ZstorConfigTest, ZeroStorV2IndexDirLoads) {
  auto c = ParseConfig(With("redundant_groups = 1\n", "redundant_groups = 1\nzdb_index_dir_path = \"/srv/zdb/index\"\n"),
                       "test.toml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->zdb_index_dir_path, "/srv/zdb/index");
  EXPECT_EQ(ErrorOf(With("redundant_groups = 1\n", "redundant_groups = 1\nidentifier = \"node-1\"\n")),
            "unknown config key 'identifier' (at test.toml:4:1)");
}

}  // namespace
}  // namespace zstor
