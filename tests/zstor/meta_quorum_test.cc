// The metadata quorum (docs/zstor-metadata.md, "Quorum"): with meta
// backends cut off (kill -9) and brought back in every order, a retrieve
// never returns a version older than one acknowledged, never reports an
// intact object as lost, and a replaced version's fragments are freed only
// once the new record reached the write quorum.
#include <hiredis/hiredis.h>

#include "common/coding.h"
#include "tests/zstor/cluster_fixture.h"
#include "zstor/crypto.h"

namespace zstor_test {
namespace {

class MetaQuorumTest : public ClusterTest {
 protected:
  // Generation of the record shard meta backend m (0..3) holds for path; 0
  // when it holds none.
  uint64_t ShardGeneration(int m, const std::string& path) {
    zstor::Digest d = zstor::Sha256(path);
    std::string key = "test:" + zstor::ToHex(std::string_view(reinterpret_cast<const char*>(d.data()), d.size()));
    redisContext* c = redisConnectUnix(Sock(kData + m).c_str());
    redisReply* r = static_cast<redisReply*>(redisCommand(c, "GET %b", key.data(), key.size()));
    uint64_t gen = 0;
    if (r != nullptr && r->type == REDIS_REPLY_STRING && r->len >= 16) gen = qs::DecodeFixed64(r->str + 8);
    if (r != nullptr) freeReplyObject(r);
    redisFree(c);
    return gen;
  }

  void Cut(unsigned set) {
    for (int m = 0; m < kMeta; ++m)
      if (set & (1u << m)) KillBackend(kData + m);
  }
  void Restore(unsigned set) {
    for (int m = 0; m < kMeta; ++m) {
      if (!(set & (1u << m))) continue;
      StartBackend(kData + m);
      store_->meta().backends().at(static_cast<size_t>(m)).MarkUp();  // as the health monitor would
    }
  }

  // Every fragment of m still stored?
  bool AllFragmentsPresent(const zstor::ObjectMeta& m) {
    for (const auto& c : m.chunks) {
      for (const auto& f : c.fragments) {
        int idx = store_->backends().Find(m.backends[f.backend].address, m.backends[f.backend].ns);
        auto r = store_->backends().at(static_cast<size_t>(idx)).Command({"EXISTS", f.key});
        if (!r.ok() || !r->is_integer() || r->integer != 1) return false;
      }
    }
    return true;
  }
};

std::string Describe(unsigned set) {
  std::string s = "{";
  for (int m = 0; m < kMeta; ++m)
    if (set & (1u << m)) s += (s.size() > 1 ? "," : "") + std::to_string(m);
  return s + "}";
}

TEST_F(MetaQuorumTest, NeverOlderThanAcknowledgedInEveryCutOrder) {
  ASSERT_EQ(store_->meta().write_quorum(), 3);
  ASSERT_EQ(store_->meta().read_quorum(), 2);
  // Every subset of the 4 meta backends of at most 2 (0, 4 singles, 6 pairs).
  std::vector<unsigned> subsets;
  for (unsigned s = 0; s < 16; ++s)
    if (__builtin_popcount(s) <= 2) subsets.push_back(s);
  std::string v1 = RandomData(5000, 1), v2 = RandomData(7000, 2);
  std::string in1 = WriteFile("v1.in", v1), in2 = WriteFile("v2.in", v2);
  std::string out = dir_.path() + "/q.out";
  int acked = 0, refused = 0, unavailable_reads = 0;
  for (unsigned during_store : subsets) {
    for (unsigned during_read : subsets) {
      std::string path = "/q" + std::to_string(during_store) + "-" + std::to_string(during_read);
      SCOPED_TRACE(path + ": cut " + Describe(during_store) + " for the store of v2, " + Describe(during_read) +
                   " for the retrieve");
      zstor::ObjectMeta m1;
      ASSERT_TRUE(store_->Store(in1, path, nullptr, &m1).ok());

      Cut(during_store);
      zstor::ObjectMeta m2;
      qs::Status s2 = store_->Store(in2, path, nullptr, &m2);
      bool v1_intact = AllFragmentsPresent(m1);
      Restore(during_store);
      if (s2.ok()) {
        ++acked;
        // Acknowledged: its record (the newest generation) reached the quorum.
        uint64_t newest = 0;
        for (int m = 0; m < kMeta; ++m) newest = std::max(newest, ShardGeneration(m, path));
        int holders = 0;
        for (int m = 0; m < kMeta; ++m) holders += ShardGeneration(m, path) == newest;
        EXPECT_GE(holders, 3);
      } else {
        ++refused;
        EXPECT_TRUE(s2.code() == qs::Status::Code::kUnavailable) << s2.ToString();
        // Not acknowledged: v1 keeps every fragment.
        EXPECT_TRUE(v1_intact) << "v1's fragments freed by a store that failed: " << s2.ToString();
      }
      EXPECT_EQ(s2.ok(), __builtin_popcount(during_store) <= 1) << s2.ToString();

      Cut(during_read);
      qs::Status r = store_->Retrieve(path, out);
      if (r.ok()) {
        std::string got = zdb_test::ReadRaw(out);
        if (s2.ok()) EXPECT_EQ(got, v2) << "an older version than the acknowledged one";
        else EXPECT_TRUE(got == v1 || got == v2);
      } else {
        ++unavailable_reads;
        // Only "cannot tell" about the record, never a lost object.
        EXPECT_TRUE(r.code() == qs::Status::Code::kUnavailable) << r.ToString();
        EXPECT_NE(r.message().find("metadata unreadable"), std::string::npos) << r.ToString();
      }
      Restore(during_read);

      // Everything back: the object reads, and is v2 when v2 was acknowledged.
      r = store_->Retrieve(path, out);
      ASSERT_TRUE(r.ok()) << r.ToString();
      std::string got = zdb_test::ReadRaw(out);
      if (s2.ok()) EXPECT_EQ(got, v2);
      else EXPECT_TRUE(got == v1 || got == v2);
    }
  }
  std::printf("%d stores of v2 acknowledged, %d refused; %d retrieves unavailable while cut\n", acked, refused,
              unavailable_reads);
}

TEST(MetaQuorumConfigTest, UnsafeWriteQuorumIsRejected) {
  auto load = [](const std::string& meta_extra) {
    std::string text = "minimal_shards = 1\nexpected_shards = 1\n[encryption]\nkey = \"" + std::string(64, '1') +
                       "\"\n[meta]\n[meta.config]\n" + meta_extra + "[meta.config.encryption]\nkey = \"" +
                       std::string(64, '2') + "\"\n";
    for (int i = 0; i < 4; ++i) text += "[[meta.config.backends]]\naddress = \"unix:/m" + std::to_string(i) + "\"\nnamespace = \"n\"\n";
    text += "[[groups]]\n[[groups.backends]]\naddress = \"unix:/d\"\nnamespace = \"n\"\n";
    return zstor::ParseConfig(text, "test.toml");
  };
  auto def = load("");
  ASSERT_TRUE(def.ok()) << def.status().ToString();
  EXPECT_EQ(def->meta.write_quorum, 3);  // 2 + 2 meta shards: max(2k - 1, n/2 + 1)
  EXPECT_TRUE(load("write_quorum = 4\n").ok());
  for (const char* bad : {"write_quorum = 2\n", "write_quorum = 5\n"}) {
    auto r = load(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("config key 'meta.config.write_quorum'"), std::string::npos)
        << r.status().ToString();
  }
  auto one = load("minimal_shards = 1\nexpected_shards = 3\n");
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  EXPECT_EQ(one->meta.write_quorum, 2);
  EXPECT_TRUE(load("minimal_shards = 1\nexpected_shards = 3\nwrite_quorum = 1\n").ok());
}

}  // namespace
}  // namespace zstor_test
