// BufferPool: buffers come back for reuse (same memory, no regrowth) and
// the pool keeps no more than kKeep of them idle.
#include "zstor/buffer_pool.h"

#include <gtest/gtest.h>

#include <set>
#include <thread>
#include <vector>

namespace {

using zstor::BufferPool;

TEST(BufferPoolTest, ReleasedBuffersAreReusedWarm) {
  const char* first = nullptr;
  {
    auto b = BufferPool::Get(1 << 20);
    ASSERT_EQ(b->size(), size_t{1} << 20);
    (*b)[0] = 'x';
    first = b->data();
  }
  auto again = BufferPool::Get(1 << 20);
  EXPECT_EQ(again->data(), first);  // the same memory, handed back
  EXPECT_EQ(again->size(), size_t{1} << 20);
  auto smaller = BufferPool::Get(1000);  // another buffer: `again` is held
  EXPECT_NE(smaller->data(), again->data());
  EXPECT_EQ(smaller->size(), 1000u);
}

TEST(BufferPoolTest, PrefersTheSmallestBufferThatFits) {
  // Empty the pool's idle list first (tests may share a process).
  std::vector<std::shared_ptr<std::string>> drain;
  while (BufferPool::Idle() > 0) drain.push_back(BufferPool::Get(1));
  std::vector<std::shared_ptr<std::string>> held;
  for (size_t n : {size_t{4096}, size_t{1} << 16, size_t{1} << 20}) held.push_back(BufferPool::Get(n));
  const char* mid = held[1]->data();
  held.clear();  // `drain` stays held: only these three are idle
  auto b = BufferPool::Get(50000);
  EXPECT_EQ(b->data(), mid);
  EXPECT_EQ(b->size(), 50000u);
}

TEST(BufferPoolTest, KeepsAtMostKKeepIdleAcrossThreads) {
  std::vector<std::shared_ptr<std::string>> held;
  for (size_t i = 0; i < 3 * BufferPool::kKeep; ++i) held.push_back(BufferPool::Get(100));
  EXPECT_EQ(BufferPool::Idle(), 0u);  // every idle buffer was handed out
  // Released from other threads, as a store's last write does.
  std::vector<std::thread> ts;
  for (size_t t = 0; t < 4; ++t) {
    ts.emplace_back([&held, t] {
      for (size_t i = t; i < held.size(); i += 4) held[i].reset();
    });
  }
  for (auto& th : ts) th.join();
  EXPECT_EQ(BufferPool::Idle(), BufferPool::kKeep);
  auto b = BufferPool::Get(100);
  EXPECT_EQ(BufferPool::Idle(), BufferPool::kKeep - 1);
  // Trim frees what has been idle long enough, nothing younger.
  EXPECT_EQ(BufferPool::Trim(std::chrono::hours(1)), 0u);
  EXPECT_EQ(BufferPool::Idle(), BufferPool::kKeep - 1);
  EXPECT_EQ(BufferPool::Trim(std::chrono::seconds(0)), BufferPool::kKeep - 1);
  EXPECT_EQ(BufferPool::Idle(), 0u);
  b.reset();
  EXPECT_EQ(BufferPool::Idle(), 1u);  // the pool still takes buffers back
}

}  // namespace
