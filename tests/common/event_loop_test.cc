// qs::EventLoop's thread-safe calls: RunInLoop and Stop from another thread
// reach a loop blocked in epoll_wait (common/event_loop.h).
#include "common/event_loop.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace {

TEST(EventLoopTest, RunInLoopAndStopFromAnotherThread) {
  qs::EventLoop loop;
  ASSERT_TRUE(loop.Init().ok());
  std::atomic<int> ran{0};
  std::thread other([&] {
    for (int i = 0; i < 100; ++i) loop.RunInLoop([&] { ran.fetch_add(1); });
    // Stop once every callback ran (the loop thread runs them).
    loop.RunInLoop([&] {
      if (ran.load() == 100) loop.Stop();
    });
  });
  loop.Run();  // returns only after Stop()
  other.join();
  EXPECT_EQ(ran.load(), 100);
  EXPECT_TRUE(loop.stopping());
}

TEST(EventLoopTest, StopFromAnotherThreadEndsAnIdleRun) {
  qs::EventLoop loop;
  ASSERT_TRUE(loop.Init().ok());
  std::atomic<bool> started{false};
  loop.AddTimer(0, 0, [&] { started = true; });
  std::thread stopper([&] {
    while (!started.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    loop.Stop();
  });
  loop.Run();
  stopper.join();
  EXPECT_TRUE(loop.stopping());
}

}  // namespace
