// Must NOT compile under clang -Wthread-safety -Werror: it reads a field
// guarded by a mutex it does not hold. ThreadSafetyCheckIsLive expects the
// compiler to refuse it, so a build that lost the check is noticed.
#include "common/mutex.h"

class Counter {
 public:
  int Get() { return value_; }  // no lock: the analysis must reject this

 private:
  qs::Mutex mu_;
  int value_ GUARDED_BY(mu_) = 0;
};

int main() { return Counter().Get(); }
