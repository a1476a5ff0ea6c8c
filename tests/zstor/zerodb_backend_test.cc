// zstor over backends that are 0-db servers without every zdb command
// (tests/common/refusing_proxy.h stands in for them): what zstor asks of a
// backend beyond GET/SET/DEL degrades to the plain way, and is never taken
// for damage.
#include "tests/common/refusing_proxy.h"
#include "tests/zstor/cluster_fixture.h"

namespace zstor_test {
namespace {

using ZeroDbBackendTest = DaemonTest;

// PROVE (zdb hashes a fragment itself) is a zdb extension. A backend that
// answers "Command not supported" has proven nothing either way: the quick
// scrub leaves its fragments to the full scrub, which downloads them.
TEST_F(ZeroDbBackendTest, QuickScrubDoesNotTakeAMissingProveForDamage) {
  // Every data backend refuses PROVE, as 0-db does.
  std::vector<std::unique_ptr<qs_test::RefusingProxy>> proxies;
  for (int i = 0; i < kData; ++i) {
    KillBackend(i);
    ASSERT_TRUE(zdbs_[i].Start(std::string(QS_BIN_DIR) + "/zdb",
                               {"--data", Dir(i) + "/data", "--index", Dir(i) + "/index", "--socket", Sock(i) + ".real",
                                "--mode", "seq", "--datasize", "4M"},
                               Dir(i) + ".log"));
    ASSERT_TRUE(zdbs_[i].WaitUnix(Sock(i) + ".real")) << "zdb " << i;
    proxies.push_back(std::make_unique<qs_test::RefusingProxy>(Sock(i), Sock(i) + ".real", std::set<std::string>{"PROVE"}));
  }
  std::string data = TextData(400000);
  auto [rc, out] = Cli("store -f " + WriteFile("s.in", data) + " -k /s");
  ASSERT_EQ(rc, 0) << out;
  std::tie(rc, out) = Cli("scrub");
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("scrub: 0 objects found damaged and rebuilt"), std::string::npos) << out;
  int refusals = 0;
  for (auto& p : proxies) refusals += p->refusals();
  EXPECT_GT(refusals, 0);  // the scrub did ask, and got the refusal
  std::string metrics = qs_test::HttpGet(metrics_port_, "/metrics");
  EXPECT_NE(metrics.find("zstor_scrub_objects_total{result=\"damaged\"} 0"), std::string::npos) << metrics.substr(0, 3000);

  // Real damage on such a backend is still found, by the full scrub.
  auto meta = store_->meta().Get("/s");
  ASSERT_TRUE(meta.ok());
  int p = ProcessOf(*meta, 0, 3);
  qs::ZdbAddress addr;
  addr.unix_path = Sock(p) + ".real";
  qs::ZdbClient client(addr);
  auto bytes = client.Get(meta->chunks[0].fragments[3].key);
  ASSERT_TRUE(bytes.ok() && bytes->has_value());
  std::string bad = **bytes;
  bad[7] ^= 0x40;
  ASSERT_TRUE(client.Set(meta->chunks[0].fragments[3].key, bad).ok());
  std::tie(rc, out) = Cli("scrub --full");
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("scrub: 1 objects found damaged and rebuilt"), std::string::npos) << out;
  std::tie(rc, out) = Cli("retrieve -k /s -f x -o " + dir_.path() + "/s.out");
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(zdb_test::ReadRaw(dir_.path() + "/s.out"), data);
}

}  // namespace
}  // namespace zstor_test
