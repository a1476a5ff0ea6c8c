// FENCE (docs/zdb-protocol.md): fencing tokens on a real zdb process. A
// higher token takes a namespace over, an older one is refused with the
// exact error, the holder's other sessions join, the fence survives a
// restart, and namespaces that never saw FENCE behave as before.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/coding.h"
#include "common/crc32c.h"
#include "common/zdb_client.h"
#include "tests/common/daemon_process.h"
#include "tests/zdb/test_util.h"
#include "zdb/namespace.h"

namespace {

class FenceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sock_ = dir_.path() + "/zdb.sock";
    Start();
    auto admin = Client("");
    Ok(admin, {"NSNEW", "ns"});
    Ok(admin, {"NSNEW", "other"});
  }
  void Start() {
    ASSERT_TRUE(zdb_.Start(std::string(QS_BIN_DIR) + "/zdb",
                           {"--data", dir_.path() + "/data", "--index", dir_.path() + "/index", "--socket", sock_},
                           dir_.path() + "/zdb.log"));
    ASSERT_TRUE(zdb_.WaitUnix(sock_)) << zdb_test::ReadRaw(dir_.path() + "/zdb.log");
  }
  void Restart() {
    ASSERT_EQ(zdb_.Stop(), 0);
    Start();
  }
  std::unique_ptr<qs::ZdbClient> Client(const std::string& ns) {
    qs::ZdbAddress a;
    a.unix_path = sock_;
    a.ns = ns;
    auto c = std::make_unique<qs::ZdbClient>(a);
    EXPECT_TRUE(c->Connect().ok());
    return c;
  }
  static std::string Reply(std::unique_ptr<qs::ZdbClient>& c, const std::vector<std::string_view>& argv) {
    auto r = c->Command(argv);
    if (!r.ok()) return "transport: " + r.status().ToString();
    if (r->is_error()) return "-" + r->str;
    if (r->is_status()) return "+" + r->str;
    if (r->is_nil()) return "(nil)";
    return r->str;
  }
  // +OK, or for SET the key it stored under.
  static void Ok(std::unique_ptr<qs::ZdbClient>& c, const std::vector<std::string_view>& argv) {
    EXPECT_EQ(Reply(c, argv), argv[0] == "SET" ? std::string(argv[1]) : std::string("+OK")) << argv[0];
  }
  std::string Fence(const std::string& ns) {
    auto admin = Client("");
    std::string info = Reply(admin, {"NSINFO", ns});
    size_t at = info.find("\nfence: ");
    if (at == std::string::npos) return "<no fence line>";
    return info.substr(at + 8, info.find('\n', at + 1) - at - 8);
  }

  zdb_test::TempDir dir_;
  std::string sock_;
  qs_test::DaemonProcess zdb_;
};

TEST_F(FenceTest, HigherTokenTakesOverAndOlderIsRefused) {
  auto a = Client("ns");
  auto a2 = Client("ns");  // the holder's second connection
  auto b = Client("ns");
  EXPECT_EQ(Fence("ns"), "0");
  Ok(a, {"FENCE", "100"});
  EXPECT_EQ(Fence("ns"), "100");
  Ok(a, {"SET", "k", "from a"});
  EXPECT_EQ(Reply(a2, {"SET", "k", "no token"}),
            "-Fenced: this session holds no token and the namespace's fence is 100 (send FENCE first)");
  Ok(a2, {"FENCE", "100"});  // joins
  Ok(a2, {"SET", "k2", "from a2"});
  EXPECT_EQ(Reply(b, {"GET", "k"}), "from a");  // reads are not fenced

  Ok(b, {"FENCE", "200"});  // takes over
  EXPECT_EQ(Fence("ns"), "200");
  Ok(b, {"SET", "k", "from b"});
  EXPECT_EQ(Reply(a, {"SET", "k", "late"}), "-Fenced: this session's token 100 is older than the namespace's fence 200");
  EXPECT_EQ(Reply(a2, {"DEL", "k2"}), "-Fenced: this session's token 100 is older than the namespace's fence 200");
  EXPECT_EQ(Reply(a2, {"FLUSH"}), "-Fenced: this session's token 100 is older than the namespace's fence 200");
  EXPECT_EQ(Reply(a2, {"SETX", "k", "late"}), "-Fenced: this session's token 100 is older than the namespace's fence 200");
  EXPECT_EQ(Reply(a, {"FENCE", "100"}), "-Fenced: token 100 is older than the namespace's fence 200");
  EXPECT_EQ(Reply(a, {"FENCE", "199"}), "-Fenced: token 199 is older than the namespace's fence 200");
  EXPECT_EQ(Reply(a, {"GET", "k"}), "from b");
  EXPECT_EQ(Reply(a, {"GET", "k2"}), "from a2");

  // A session's token belongs to the namespace it was given on.
  auto o = Client("other");
  Ok(o, {"SET", "x", "unfenced namespace"});
  Ok(b, {"SELECT", "other"});
  Ok(b, {"SET", "x", "still unfenced"});
  Ok(b, {"SELECT", "ns"});
  Ok(b, {"SET", "k", "b again"});  // back in ns: its token there is still the fence

  EXPECT_EQ(Reply(a, {"FENCE", "0"}), "-Invalid token (expected a decimal number from 1 to 18446744073709551615)");
  EXPECT_EQ(Reply(a, {"FENCE", "-5"}), "-Invalid token (expected a decimal number from 1 to 18446744073709551615)");
  EXPECT_EQ(Reply(a, {"FENCE", "18446744073709551616"}),
            "-Invalid token (expected a decimal number from 1 to 18446744073709551615)");
  EXPECT_EQ(Reply(a, {"FENCE", "12x"}), "-Invalid token (expected a decimal number from 1 to 18446744073709551615)");
  EXPECT_EQ(Reply(a, {"FENCE"}), "-Unexpected arguments");
  Ok(a, {"FENCE", "18446744073709551615"});
  EXPECT_EQ(Fence("ns"), "18446744073709551615");
}

TEST_F(FenceTest, FenceSurvivesRestartAndNeedsWriteAccess) {
  auto a = Client("ns");
  Ok(a, {"FENCE", "7"});
  Ok(a, {"SET", "k", "v"});
  Restart();
  EXPECT_EQ(Fence("ns"), "7");
  auto late = Client("ns");
  EXPECT_EQ(Reply(late, {"SET", "k", "w"}),
            "-Fenced: this session holds no token and the namespace's fence is 7 (send FENCE first)");
  EXPECT_EQ(Reply(late, {"FENCE", "6"}), "-Fenced: token 6 is older than the namespace's fence 7");
  Ok(late, {"FENCE", "7"});
  Ok(late, {"SET", "k", "w"});
  EXPECT_EQ(Reply(late, {"GET", "k"}), "w");

  // A locked namespace takes no FENCE either.
  auto admin = Client("");
  Ok(admin, {"NSSET", "ns", "lock", "1"});
  EXPECT_EQ(Reply(late, {"FENCE", "8"}), "-Namespace is temporarily locked (read-only)");
  EXPECT_EQ(Fence("ns"), "7");
}

TEST_F(FenceTest, UnfencedNamespaceIsUnchanged) {
  auto a = Client("ns");
  auto b = Client("ns");
  Ok(a, {"SET", "k", "a"});
  Ok(b, {"SET", "k", "b"});
  Ok(b, {"DEL", "k"});
  EXPECT_EQ(Reply(a, {"GET", "k"}), "(nil)");
  Restart();
  EXPECT_EQ(Fence("ns"), "0");
}

// The descriptor: a fence of 0 is not stored (the 0-db-era layout, which
// older descriptors have); a non-zero fence is 8 bytes after the password.
TEST(FenceDescriptor, OldLayoutReadsAsZeroAndFenceRoundTrips) {
  zdb::NamespaceSettings s;
  s.password = "pw";
  std::string plain = zdb::EncodeSettings("ns", s);
  EXPECT_EQ(plain.size(), 30u + 2 + 2);
  std::string name;
  zdb::NamespaceSettings got;
  got.fence = 99;
  ASSERT_TRUE(zdb::DecodeSettings(plain, &name, &got).ok());
  EXPECT_EQ(got.fence, 0u);
  s.fence = 0x0123456789abcdefULL;
  std::string fenced = zdb::EncodeSettings("ns", s);
  EXPECT_EQ(fenced.size(), plain.size() + 8);
  ASSERT_TRUE(zdb::DecodeSettings(fenced, &name, &got).ok());
  EXPECT_EQ(got.fence, 0x0123456789abcdefULL);
  EXPECT_EQ(got.password, "pw");
  EXPECT_EQ(name, "ns");
  // Any other length after the password is refused.
  std::string odd = fenced.substr(0, fenced.size() - 4) + "x";
  qs::PutFixed32(&odd, qs::Crc32c(odd));
  EXPECT_FALSE(zdb::DecodeSettings(odd, &name, &got).ok());
}

}  // namespace
