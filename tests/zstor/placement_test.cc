// Placement rules without any zdb: backends are never contacted, only their
// health (MarkDown), labels and groups matter. The cluster tests check the
// same rules end to end through Store and Rebuild.
#include "zstor/placement.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace zstor {
namespace {

// 22 backends in 4 groups, backend i in group i % 4 (6, 6, 5, 5), listed
// group by group as a config does; k + m = 8 + 4, redundant_groups = 1.
class PlacementTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cfg_.minimal_shards = 8;
    cfg_.expected_shards = 12;
    cfg_.redundant_groups = 1;
    cfg_.group_count = 4;
    for (int g = 0; g < 4; ++g) {
      for (int i = g; i < 22; i += 4) {
        BackendConfig b;
        b.address.unix_path = "/nonexistent/zdb" + std::to_string(i) + ".sock";
        b.address.ns = "default";
        b.labels["country"] = i < 2 ? "US" : "BE";
        b.group = g;
        cfg_.backends.push_back(b);
      }
    }
    pool_ = std::make_unique<BackendPool>(cfg_.backends, std::chrono::milliseconds(100), zstor::MaxDataReply(cfg_));
  }

  // Pool indices of the first n backends of group g that are not in skip.
  std::vector<size_t> InGroup(int g, size_t n, const std::vector<size_t>& skip = {}) {
    std::vector<size_t> out;
    for (size_t i = 0; i < pool_->size() && out.size() < n; ++i)
      if (pool_->at(i).config().group == g && std::find(skip.begin(), skip.end(), i) == skip.end()) out.push_back(i);
    return out;
  }

  std::map<int, int> PerGroup(const std::vector<size_t>& a, const std::vector<size_t>& b = {}) {
    std::map<int, int> n;
    for (size_t i : a) ++n[pool_->at(i).config().group];
    for (size_t i : b) ++n[pool_->at(i).config().group];
    return n;
  }

  PlacementRequest Request(size_t count, std::vector<size_t> holding = {}) {
    PlacementRequest r;
    r.path = "/x";
    r.parity = cfg_.parity_shards();
    r.holding = std::move(holding);
    r.count = count;
    return r;
  }

  Config cfg_;
  std::unique_ptr<BackendPool> pool_;
};

TEST_F(PlacementTest, StoreSpreadsEvenlyOverGroups) {
  std::vector<size_t> chosen;
  ASSERT_TRUE(ChoosePlacement(cfg_, *pool_, Request(12), &chosen).ok());
  ASSERT_EQ(chosen.size(), 12u);
  EXPECT_EQ(std::set<size_t>(chosen.begin(), chosen.end()).size(), 12u);
  for (auto [g, n] : PerGroup(chosen)) EXPECT_EQ(n, 3) << "group " << g;
}

TEST_F(PlacementTest, RepairFillsTheEmptiestGroupFirst) {
  std::vector<size_t> holding;
  for (int g = 0; g < 3; ++g) {
    auto in = InGroup(g, 3);
    holding.insert(holding.end(), in.begin(), in.end());
  }
  auto dead = InGroup(3, 3);  // group 3 keeps 2 healthy backends
  for (size_t i : dead) pool_->at(i).MarkDown(qs::Status::Unavailable("test"));
  std::vector<size_t> chosen;
  ASSERT_TRUE(ChoosePlacement(cfg_, *pool_, Request(3, holding), &chosen).ok());
  ASSERT_EQ(chosen.size(), 3u);
  auto per_group = PerGroup(holding, chosen);
  EXPECT_EQ(per_group[3], 2);
  for (auto [g, n] : per_group) EXPECT_LE(n, 4) << "group " << g;
  for (size_t i : chosen) {
    EXPECT_EQ(std::find(holding.begin(), holding.end(), i), holding.end());
    EXPECT_EQ(std::find(dead.begin(), dead.end(), i), dead.end());
  }
}

TEST_F(PlacementTest, RepairStopsAtTheGroupLimit) {
  std::vector<size_t> holding;
  for (int g = 0; g < 3; ++g) {
    auto in = InGroup(g, 3);
    holding.insert(holding.end(), in.begin(), in.end());
  }
  // Only group 0 has spares left: it may take one more (4 = m), not three.
  for (size_t i = 0; i < pool_->size(); ++i)
    if (pool_->at(i).config().group != 0 && std::find(holding.begin(), holding.end(), i) == holding.end())
      pool_->at(i).MarkDown(qs::Status::Unavailable("test"));
  std::vector<size_t> chosen;
  qs::Status s = ChoosePlacement(cfg_, *pool_, Request(3, holding), &chosen);
  EXPECT_EQ(s.code(), qs::Status::Code::kUnavailable);
  EXPECT_NE(s.message().find("redundant_groups = 1"), std::string::npos) << s.message();
  ASSERT_EQ(chosen.size(), 1u);
  EXPECT_EQ(pool_->at(chosen[0]).config().group, 0);
}

TEST_F(PlacementTest, BrokenSpreadOnlyGainsHarmlessFragments) {
  // Placed under other rules: 6 in group 0 (more than m = 4), 2 in group 1.
  std::vector<size_t> holding = InGroup(0, 6);
  auto g1 = InGroup(1, 2);
  holding.insert(holding.end(), g1.begin(), g1.end());
  std::vector<size_t> chosen;
  ASSERT_TRUE(ChoosePlacement(cfg_, *pool_, Request(4, holding), &chosen).ok());
  auto per_group = PerGroup(holding, chosen);
  EXPECT_EQ(per_group[0], 6);  // never more in the group already too full
  for (int g = 1; g < 4; ++g) EXPECT_LE(per_group[g], 6);
}

TEST_F(PlacementTest, PolicyAvoidAndHealth) {
  cfg_.policies.push_back(PlacementPolicy{"/eu/", {{"country", "BE"}}});
  PlacementRequest r = Request(12);
  r.path = "/eu/file";
  r.avoid = InGroup(2, 1);
  pool_->at(InGroup(3, 1)[0]).MarkDown(qs::Status::Unavailable("test"));
  std::vector<size_t> chosen;
  ASSERT_TRUE(ChoosePlacement(cfg_, *pool_, r, &chosen).ok());
  for (size_t i : chosen) {
    EXPECT_EQ(pool_->at(i).config().labels.at("country"), "BE");
    EXPECT_NE(i, r.avoid[0]);
    EXPECT_TRUE(pool_->at(i).healthy());
  }
  // 22 - 2 US - 1 avoided - 1 down = 18 eligible: 19 fragments cannot go.
  r.count = 19;
  cfg_.redundant_groups = 0;
  qs::Status s = ChoosePlacement(cfg_, *pool_, r, &chosen);
  EXPECT_NE(s.message().find("only 18 healthy backends matching the placement policy for 19 fragments"),
            std::string::npos)
      << s.message();
  EXPECT_EQ(chosen.size(), 18u);
}

}  // namespace
}  // namespace zstor
