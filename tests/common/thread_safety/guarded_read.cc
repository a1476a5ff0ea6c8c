// Must compile under clang -Wthread-safety -Werror: the twin of
// unguarded_read.cc with the lock taken, so ThreadSafetyCheckIsLive fails
// for the right reason only (the header or flags broken would fail both).
#include "common/mutex.h"

class Counter {
 public:
  int Get() {
    qs::MutexLock lock(&mu_);
    return value_;
  }
  int GetLocked() REQUIRES(mu_) { return value_; }
  int GetViaRequires() {
    mu_.Lock();
    int v = GetLocked();
    mu_.Unlock();
    return v;
  }

 private:
  qs::Mutex mu_;
  int value_ GUARDED_BY(mu_) = 0;
};

int main() {
  Counter c;
  return c.Get() + c.GetViaRequires();
}
