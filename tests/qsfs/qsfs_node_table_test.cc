// NodeTable and DirCache: the in-memory tables of the Filesystem.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "qsfs/dir_cache.h"
#include "qsfs/node_table.h"

namespace qsfs {
namespace {

std::unique_ptr<Node> MakeNode(uint64_t ino, uint64_t lookups = 0) {
  auto n = std::make_unique<Node>();
  n->inode.ino = ino;
  n->inode.nlink = 1;
  n->inode.mode = 0100644;
  n->nlookup = lookups;
  return n;
}

TEST(NodeTableTest, AParkedInodeComesBackWithItsLookupsAndName) {
  NodeTable t(100);
  Node* n = t.Install(MakeNode(7, 3));
  n->name_parent = 1;
  n->name = "seven";
  t.Park(7);
  EXPECT_EQ(t.Find(7), nullptr);
  EXPECT_EQ(t.parked(), 1u);
  t.ForgetParked(7, 1);
  n = t.Install(MakeNode(7));
  EXPECT_EQ(n->nlookup, 2u);
  EXPECT_EQ(n->name, "seven");
  EXPECT_EQ(t.parked(), 0u);  // never in both
}

TEST(NodeTableTest, ParkedNamesAreAskedForOnce) {
  NodeTable t(100);
  for (uint64_t ino = 10; ino < 13; ino++) {
    Node* n = t.Install(MakeNode(ino, 1));
    n->name_parent = 1;
    n->name = "n" + std::to_string(ino);
    t.Park(ino);
  }
  auto first = t.TakeParkedNames(2);
  EXPECT_EQ(first.size(), 2u);
  auto rest = t.TakeParkedNames(10);
  EXPECT_EQ(rest.size(), 1u);
  EXPECT_TRUE(t.TakeParkedNames(10).empty());
  t.ForgetParked(10, 1);
  EXPECT_EQ(t.parked(), 2u);
}

TEST(NodeTableTest, RememberedCopiesStayWithinTheInodeCache) {
  NodeTable t(3);
  for (uint64_t ino = 20; ino < 25; ino++) {
    Node* n = t.Install(MakeNode(ino));
    t.Remember(*n);
    t.Erase(ino);
  }
  Inode in;
  EXPECT_FALSE(t.TakeRemembered(20, &in));  // the oldest went
  EXPECT_FALSE(t.TakeRemembered(21, &in));
  ASSERT_TRUE(t.TakeRemembered(24, &in));
  EXPECT_EQ(in.ino, 24u);
  EXPECT_FALSE(t.TakeRemembered(24, &in));  // taken out
  // A dirty or unlinked inode is not remembered: the store holds older.
  Node* n = t.Install(MakeNode(30));
  n->inode_dirty = true;
  t.Remember(*n);
  t.Erase(30);
  EXPECT_FALSE(t.TakeRemembered(30, &in));
}

TEST(NodeTableDeathTest, AnInodeInstalledTwiceAborts) {
  NodeTable t(10);
  t.Install(MakeNode(5));
  EXPECT_DEATH(t.Install(MakeNode(5)), "");  // logged through spdlog (stdout here)
}

TEST(DirCacheTest, TheLeastRecentlyUsedBucketGoesFirst) {
  DirCache c(2);
  c.Put("a", {DirEntry{"x", 2, 8}});
  c.Put("b", {});
  ASSERT_NE(c.Find("a"), nullptr);  // a is now the most recent
  c.Put("c", {});
  EXPECT_EQ(c.Peek("b"), nullptr);
  ASSERT_NE(c.Peek("a"), nullptr);
  EXPECT_EQ(c.Peek("a")->at(0).name, "x");
  c.Put("d", {});
  EXPECT_EQ(c.Peek("a"), nullptr);
  EXPECT_NE(c.Peek("c"), nullptr);
  c.Drop("c");
  EXPECT_EQ(c.size(), 1u);
}

TEST(DirCacheTest, ACapacityOfZeroStillKeepsTheBucketJustPut) {
  DirCache c(0);
  std::vector<DirEntry>* kept = c.Put("a", {DirEntry{"x", 2, 8}});
  ASSERT_NE(kept, nullptr);
  EXPECT_EQ(kept->size(), 1u);
  c.Put("b", {});
  EXPECT_EQ(c.Peek("a"), nullptr);
  EXPECT_EQ(c.size(), 1u);
}

}  // namespace
}  // namespace qsfs
