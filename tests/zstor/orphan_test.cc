// Fragments of stores that died (kill -9 of the daemon, or of an in-process
// CLI) are reclaimed from the store journal: the backends go back to what
// the committed objects account for.
#include "tests/zstor/cluster_fixture.h"
#include "zstor/store_journal.h"

namespace zstor_test {
namespace {

// Entries and data bytes on every data backend (NSINFO).
struct Usage {
  long long entries = 0, bytes = 0;
};

template <typename Fixture>
Usage DataUsage(Fixture* t) {
  Usage u;
  for (int i = 0; i < kData; ++i) {
    zstor::Backend& b = t->PoolBackendOf(i);
    b.MarkUp();
    EXPECT_TRUE(b.RefreshSpace()) << i;
    u.entries += b.entries();
    u.bytes += b.used_bytes();
  }
  return u;
}

// Waits for the first fragments of a store to land (progress, not time).
template <typename Fixture>
void WaitForFragments(Fixture* t, long long above) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  for (;;) {
    long long n = 0;
    for (int b = 0; b < kData; ++b) n += t->Dbsize(b);
    if (n > above || std::chrono::steady_clock::now() > deadline) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

// Intents left in the journal directory.
size_t Intents(const std::string& dir) {
  size_t n = 0;
  if (!std::filesystem::exists(dir)) return 0;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    n += e.path().extension() == ".intent";
  return n;
}

// Until the journal holds no intent, for as long as the backends' entries
// keep going down (stall_s without progress ends it).
template <typename Fixture>
void WaitForReclaim(Fixture* t, const std::string& journal, int stall_s = 30) {
  long long fewest = -1;
  auto last = std::chrono::steady_clock::now();
  for (;;) {
    if (Intents(journal) == 0) return;
    long long n = 0;
    for (int b = 0; b < kData; ++b) n += t->Dbsize(b);
    if (fewest < 0 || n < fewest) {
      fewest = n;
      last = std::chrono::steady_clock::now();
    }
    if (std::chrono::steady_clock::now() - last > std::chrono::seconds(stall_s)) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

// Fragments a store may have written that no journal can name: those whose
// SET zdb executed while its reply had not reached zstor at the kill, at
// most every fragment of the chunks in flight (3 chunks of 20).
constexpr long long kInFlightBound = 3 * 20;

class OrphanDaemonTest : public DaemonTest {
 public:
  using ClusterTest::Dbsize;
  zstor::Backend& PoolBackendOf(int i) { return PoolBackend(i); }
};

class OrphanCliTest : public ClusterTest {
 public:
  using ClusterTest::Dbsize;
  zstor::Backend& PoolBackendOf(int i) { return PoolBackend(i); }
};

TEST_F(OrphanDaemonTest, KillNineOfTheDaemonMidStoreLeavesNoOrphansAfterRestart) {
  std::string keep = RandomData(3 << 20, 81);
  auto [rc, out] = Cli("store -f " + WriteFile("keep.in", keep) + " -k /keep");
  ASSERT_EQ(rc, 0) << out;
  Usage base = DataUsage(this);
  ASSERT_EQ(base.entries, 3 * 20);  // 3 chunks of 20 fragments

  std::string in = WriteFile("big.in", RandomData(40 << 20, 82));
  DaemonProcess cli;
  ASSERT_TRUE(cli.Start(std::string(QS_BIN_DIR) + "/zstor", {"-c", cfg_path_, "store", "-f", in, "-k", "/big"},
                        dir_.path() + "/cli.log"));
  WaitForFragments(this, base.entries + 100);
  daemon_.Kill();
  cli.Kill();
  Usage after_kill = DataUsage(this);
  EXPECT_GT(after_kill.entries, base.entries + 100);

  ASSERT_TRUE(daemon_.Start(std::string(QS_BIN_DIR) + "/zstor", {"-c", cfg_path_, "monitor"}, dir_.path() + "/daemon2.log"));
  ASSERT_TRUE(daemon_.WaitUnix(dir_.path() + "/zstor.sock"));
  WaitForReclaim(this, dir_.path() + "/journal");
  Usage end = DataUsage(this);
  std::printf("committed: %lld fragments, %lld bytes; after kill -9 mid-store: %lld fragments, %lld bytes; "
              "after the restarted daemon reclaimed: %lld fragments, %lld bytes\n",
              base.entries, base.bytes, after_kill.entries, after_kill.bytes, end.entries, end.bytes);
  EXPECT_EQ(Intents(dir_.path() + "/journal"), 0u) << zdb_test::ReadRaw(dir_.path() + "/daemon2.log");
  EXPECT_GE(end.entries, base.entries);
  EXPECT_LE(end.entries, base.entries + kInFlightBound);
  std::tie(rc, out) = Cli("retrieve -k /keep -f x -o " + dir_.path() + "/keep.out");
  ASSERT_EQ(rc, 0) << out;
  EXPECT_EQ(zdb_test::ReadRaw(dir_.path() + "/keep.out"), keep);
  EXPECT_EQ(Intents(dir_.path() + "/journal"), 0u);
}

TEST_F(OrphanCliTest, KillNineOfAnInProcessStoreIsReclaimedByTheNextStore) {
  std::string keep = RandomData(2 << 20, 83);
  ASSERT_TRUE(store_->Store(WriteFile("keep.in", keep), "/keep").ok());
  Usage base = DataUsage(this);
  ASSERT_EQ(base.entries, 2 * 20);
  std::string in = WriteFile("big.in", RandomData(40 << 20, 84));
  std::string zstor = std::string(QS_BIN_DIR) + "/zstor";
  DaemonProcess p;
  ASSERT_TRUE(p.Start(zstor, {"-c", dir_.path() + "/zstor.toml", "store", "-f", in, "-k", "/big"}, dir_.path() + "/big.log"));
  WaitForFragments(this, base.entries + 100);
  p.Kill();
  Usage after_kill = DataUsage(this);
  EXPECT_GT(after_kill.entries, base.entries + 100);
  // The next in-process store (here: of a small file) reclaims first.
  auto [rc, out] = RunCommand(zstor + " -c " + dir_.path() + "/zstor.toml store -f " + WriteFile("s.in", "small") +
                              " -k /small");
  ASSERT_EQ(rc, 0) << out;
  Usage end = DataUsage(this);
  std::printf("committed: %lld fragments, %lld bytes; after kill -9 mid-store: %lld fragments, %lld bytes; "
              "after the next store: %lld fragments (20 of them the new object's), %lld bytes\n",
              base.entries, base.bytes, after_kill.entries, after_kill.bytes, end.entries, end.bytes);
  EXPECT_GE(end.entries, base.entries + 20);
  EXPECT_LE(end.entries, base.entries + 20 + kInFlightBound);
  EXPECT_EQ(Intents(dir_.path() + "/journal"), 0u);
}

// The journal directory's parents are created too (the default,
// /var/lib/zstor/journal, has none on a fresh machine), each 0700.
TEST(StoreJournalTest, BeginCreatesMissingParents) {
  zdb_test::TempDir tmp;
  std::string dir = tmp.path() + "/var/lib/zstor/journal";
  auto j = zstor::StoreJournal::Begin(dir, "/obj", "id");
  ASSERT_TRUE(j.ok()) << j.status().ToString();
  struct stat st {};
  ASSERT_EQ(stat((tmp.path() + "/var/lib/zstor").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  (*j)->Finish();
}

}  // namespace
}  // namespace zstor_test
