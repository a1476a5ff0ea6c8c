// qs::Mutex, SharedMutex, CondVar: the wrappers keep the standard
// semantics (the annotations are checked at build time, see
// tests/common/thread_safety/).
#include "common/mutex.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace {

// Whether another thread could take mu now (a thread may not try_lock a
// std::mutex it holds).
bool FreeForOthers(qs::Mutex* mu) {
  bool got = false;
  std::thread([&] {
    if (mu->TryLock()) {
      got = true;
      mu->Unlock();
    }
  }).join();
  return got;
}

TEST(MutexTest, ScopedLockCanDropAndRetakeTheLock) {
  qs::Mutex mu;
  {
    qs::MutexLock lock(&mu);
    EXPECT_FALSE(FreeForOthers(&mu));
    lock.Unlock();
    EXPECT_TRUE(FreeForOthers(&mu));  // free while the scope dropped it
    lock.Lock();
    EXPECT_FALSE(FreeForOthers(&mu));
  }
  EXPECT_TRUE(FreeForOthers(&mu));  // released at scope end
}

TEST(MutexTest, WaitReleasesTheMutexAndSignalWakesTheWaiter) {
  qs::Mutex mu;
  qs::CondVar cv;
  bool ready = false;
  std::thread t([&] {
    qs::MutexLock lock(&mu);  // only possible while the waiter waits
    ready = true;
    cv.Signal();
  });
  {
    qs::MutexLock lock(&mu);
    while (!ready) cv.Wait(&mu);
    EXPECT_TRUE(ready);
  }
  t.join();
}

TEST(MutexTest, WaitUntilReturnsFalseAtTheDeadlineWithTheMutexHeld) {
  qs::Mutex mu;
  qs::CondVar cv;
  qs::MutexLock lock(&mu);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(20);
  bool woken = true;
  while (woken && std::chrono::steady_clock::now() < deadline) woken = cv.WaitUntil(&mu, deadline);
  EXPECT_FALSE(woken);
  EXPECT_GE(std::chrono::steady_clock::now(), deadline);
  EXPECT_FALSE(FreeForOthers(&mu));  // held again on return
}

TEST(MutexTest, ReadersShareAndAWriterExcludesThem) {
  qs::SharedMutex mu;
  std::atomic<int> readers{0};
  std::atomic<bool> both_in{false};
  auto reader = [&] {
    qs::ReaderLock lock(&mu);
    ++readers;
    while (!both_in) {
      if (readers == 2) both_in = true;
      std::this_thread::yield();
    }
  };
  std::thread a(reader), b(reader);
  a.join();
  b.join();
  EXPECT_TRUE(both_in);  // two shared holders at once, or this never ends
  int seen = -1;
  std::thread r;
  {
    qs::WriterLock lock(&mu);
    r = std::thread([&] {
      qs::ReaderLock rl(&mu);
      seen = readers;
    });
    readers = 7;  // a reader cannot enter until the writer leaves
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    readers = 9;
  }
  r.join();
  EXPECT_EQ(seen, 9);
}

}  // namespace
