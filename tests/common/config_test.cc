#include "common/config.h"

#include <unistd.h>

#include <cstdio>
#include <string>

#include <gtest/gtest.h>

namespace qs {
namespace {

toml::table Parse(std::string_view text) {
  Result<toml::table> r = ParseToml(text, "test.toml");
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(r).value() : toml::table{};
}

bool Contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST(ConfigTest, SyntaxErrorNamesFileLineAndColumn) {
  Result<toml::table> r = ParseToml("a = 1\nb = = 2\n", "zdb.toml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
  EXPECT_TRUE(Contains(r.status().message(), "zdb.toml:2:")) << r.status().message();
}

TEST(ConfigTest, LoadTomlFile) {
  char dir[] = "/tmp/config_test_XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  std::string good = std::string(dir) + "/good.toml";
  std::string bad = std::string(dir) + "/bad.toml";
  FILE* f = fopen(good.c_str(), "w");
  fputs("[server]\nport = 9900\n", f);
  fclose(f);
  f = fopen(bad.c_str(), "w");
  fputs("[server]\nport = \n", f);
  fclose(f);

  Result<toml::table> r = LoadTomlFile(good);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  TomlReader reader(r.value());
  auto server = reader.Table("server");
  ASSERT_TRUE(server.ok());
  EXPECT_EQ(server->GetInt("port", 1, 65535).value(), 9900);
  EXPECT_TRUE(reader.CheckNoUnknownKeys().ok());

  r = LoadTomlFile(bad);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
  EXPECT_TRUE(Contains(r.status().message(), bad + ":2:")) << r.status().message();

  r = LoadTomlFile(std::string(dir) + "/missing.toml");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsNotFound()) << r.status().ToString();

  unlink(good.c_str());
  unlink(bad.c_str());
  rmdir(dir);
}

TEST(ConfigTest, TypedKeysAndDefaults) {
  toml::table t = Parse(R"(
name = "zdb1"
port = 9900
verbose = true
ratio = 0.5
whole = 2
tags = ["a", "b"]
)");
  TomlReader r(t);
  EXPECT_EQ(r.GetString("name").value(), "zdb1");
  EXPECT_EQ(r.GetInt("port", 1, 65535).value(), 9900);
  EXPECT_TRUE(r.GetBool("verbose").value());
  EXPECT_DOUBLE_EQ(r.GetDouble("ratio").value(), 0.5);
  EXPECT_DOUBLE_EQ(r.GetDouble("whole").value(), 2.0);
  EXPECT_EQ(r.GetStringArray("tags").value(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(r.GetStringOr("missing_s", "dflt").value(), "dflt");
  EXPECT_EQ(r.GetIntOr("missing_i", 7).value(), 7);
  EXPECT_FALSE(r.GetBoolOr("missing_b", false).value());
  EXPECT_EQ(r.GetSizeOr("missing_size", 123).value(), 123u);
  EXPECT_TRUE(r.GetStringArrayOr("missing_arr").value().empty());
  EXPECT_TRUE(r.CheckNoUnknownKeys().ok());

  Result<std::string> missing = r.GetString("nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(), "missing required config key 'nope'");
}

TEST(ConfigTest, TypeAndRangeErrors) {
  toml::table t = Parse("port = \"9900\"\nthreads = 0\nflag = 1\n");
  TomlReader r(t);
  Result<int64_t> port = r.GetInt("port");
  ASSERT_FALSE(port.ok());
  EXPECT_TRUE(Contains(port.status().message(), "config key 'port': expected an integer, got a string"))
      << port.status().message();
  EXPECT_TRUE(Contains(port.status().message(), "test.toml:1:")) << port.status().message();

  Result<int64_t> threads = r.GetIntOr("threads", 4, 1, 64);
  ASSERT_FALSE(threads.ok());
  EXPECT_TRUE(Contains(threads.status().message(), "'threads': value 0 out of range [1, 64]"))
      << threads.status().message();

  Result<bool> flag = r.GetBool("flag");
  ASSERT_FALSE(flag.ok());
  EXPECT_TRUE(Contains(flag.status().message(), "expected a boolean")) << flag.status().message();
  // Keys read with a wrong type are still "known".
  EXPECT_TRUE(r.CheckNoUnknownKeys().ok());
}

TEST(ConfigTest, Sizes) {
  EXPECT_EQ(ParseSize("4096").value(), 4096u);
  EXPECT_EQ(ParseSize("64M").value(), 64u << 20);
  EXPECT_EQ(ParseSize("1G").value(), 1u << 30);
  EXPECT_EQ(ParseSize("1g").value(), 1u << 30);
  EXPECT_EQ(ParseSize("512KiB").value(), 512u << 10);
  EXPECT_EQ(ParseSize("2 TB").value(), 2ull << 40);
  EXPECT_EQ(ParseSize("10B").value(), 10u);
  EXPECT_FALSE(ParseSize("").ok());
  EXPECT_FALSE(ParseSize("M").ok());
  EXPECT_FALSE(ParseSize("12X").ok());
  EXPECT_FALSE(ParseSize("1.5G").ok());
  EXPECT_FALSE(ParseSize("-1").ok());
  EXPECT_FALSE(ParseSize("99999999999999999999").ok());
  EXPECT_FALSE(ParseSize("16777216T").ok());  // 2^64 overflows

  toml::table t = Parse("a = \"64M\"\nb = 1048576\nc = \"lots\"\nd = -5\ne = \"1G\"\n");
  TomlReader r(t);
  EXPECT_EQ(r.GetSize("a").value(), 64u << 20);
  EXPECT_EQ(r.GetSize("b").value(), 1u << 20);
  Result<uint64_t> c = r.GetSize("c");
  ASSERT_FALSE(c.ok());
  EXPECT_TRUE(Contains(c.status().message(), "config key 'c': invalid size 'lots'")) << c.status().message();
  EXPECT_FALSE(r.GetSize("d").ok());
  Result<uint64_t> e = r.GetSize("e", 0, 512u << 20);
  ASSERT_FALSE(e.ok());
  EXPECT_TRUE(Contains(e.status().message(), "out of range")) << e.status().message();
}

TEST(ConfigTest, Enums) {
  toml::table t = Parse("fsync = \"everysec\"\nmode = \"sometimes\"\n");
  TomlReader r(t);
  EXPECT_EQ(r.GetEnum("fsync", {"always", "everysec", "never"}).value(), "everysec");
  Result<std::string> mode = r.GetEnum("mode", {"always", "everysec", "never"});
  ASSERT_FALSE(mode.ok());
  EXPECT_TRUE(Contains(mode.status().message(),
                       "config key 'mode': expected one of always|everysec|never, got 'sometimes'"))
      << mode.status().message();
  EXPECT_EQ(r.GetEnumOr("other", "user", {"user", "seq"}).value(), "user");
}

TEST(ConfigTest, UnknownKeys) {
  toml::table t = Parse(R"(
port = 9900
prot = 9901
[foo]
bar = 1
baz = 2
[unused]
x = 1
)");
  TomlReader r(t);
  ASSERT_TRUE(r.GetInt("port").ok());
  auto foo = r.Table("foo");
  ASSERT_TRUE(foo.ok());
  ASSERT_TRUE(foo->GetInt("baz").ok());
  Status s = r.CheckNoUnknownKeys();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_TRUE(Contains(s.message(), "unknown config key 'foo.bar'")) << s.message();
  EXPECT_TRUE(Contains(s.message(), "unknown config key 'prot'")) << s.message();
  EXPECT_TRUE(Contains(s.message(), "unknown config key 'unused'")) << s.message();
  EXPECT_FALSE(Contains(s.message(), "'port'")) << s.message();
  EXPECT_FALSE(Contains(s.message(), "unused.x")) << s.message();
  // A child reader checks only its own subtree.
  Status child = foo->CheckNoUnknownKeys();
  ASSERT_FALSE(child.ok());
  EXPECT_TRUE(Contains(child.message(), "unknown config key 'foo.bar'"));
  EXPECT_FALSE(Contains(child.message(), "prot"));
}

TEST(ConfigTest, NestedTablesAndArrays) {
  toml::table t = Parse(R"(
[metrics]
bind = ":9100"

[[groups]]
name = "g0"
[[groups.backends]]
address = "10.0.0.1:9900"
[[groups.backends]]
address = "10.0.0.2:9900"
typo = 1

[[groups]]
name = "g1"
[[groups.backends]]
address = 42
)");
  TomlReader r(t);
  auto metrics = r.OptionalTable("metrics");
  ASSERT_TRUE(metrics.ok());
  EXPECT_EQ(metrics->GetStringOr("bind", "").value(), ":9100");
  auto absent = r.OptionalTable("logging");
  ASSERT_TRUE(absent.ok());
  EXPECT_EQ(absent->GetStringOr("file", "x").value(), "x");
  EXPECT_EQ(absent->KeyPath("file"), "logging.file");
  auto none = r.OptionalTableArray("nothing");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  EXPECT_FALSE(r.Table("absent").ok());

  auto groups = r.TableArray("groups");
  ASSERT_TRUE(groups.ok()) << groups.status().ToString();
  ASSERT_EQ(groups->size(), 2u);
  EXPECT_EQ((*groups)[0].GetString("name").value(), "g0");
  EXPECT_EQ((*groups)[1].prefix(), "groups[1]");
  auto b0 = (*groups)[0].TableArray("backends");
  ASSERT_TRUE(b0.ok());
  ASSERT_EQ(b0->size(), 2u);
  EXPECT_EQ((*b0)[1].GetString("address").value(), "10.0.0.2:9900");
  EXPECT_EQ((*b0)[0].GetString("address").value(), "10.0.0.1:9900");
  EXPECT_EQ((*groups)[1].GetString("name").value(), "g1");
  auto b1 = (*groups)[1].TableArray("backends");
  ASSERT_TRUE(b1.ok());
  Result<std::string> addr = (*b1)[0].GetString("address");
  ASSERT_FALSE(addr.ok());
  EXPECT_TRUE(Contains(addr.status().message(),
                       "config key 'groups[1].backends[0].address': expected a string"))
      << addr.status().message();

  Status s = r.CheckNoUnknownKeys();
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(Contains(s.message(), "unknown config key 'groups[0].backends[1].typo'")) << s.message();

  // Table expected but got a scalar, and array elements of the wrong type.
  toml::table t2 = Parse("section = 1\nlist = [1, 2]\nnames = [\"a\", 3]\n");
  TomlReader r2(t2);
  auto sec = r2.Table("section");
  ASSERT_FALSE(sec.ok());
  EXPECT_TRUE(Contains(sec.status().message(), "config key 'section': expected a table"));
  auto list = r2.TableArray("list");
  ASSERT_FALSE(list.ok());
  EXPECT_TRUE(Contains(list.status().message(), "config key 'list[0]': expected a table"))
      << list.status().message();
  auto names = r2.GetStringArray("names");
  ASSERT_FALSE(names.ok());
  EXPECT_TRUE(Contains(names.status().message(), "config key 'names[1]': expected a string"))
      << names.status().message();
}

}  // namespace
}  // namespace qs
