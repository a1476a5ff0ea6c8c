// Clang's thread-safety attributes (-Wthread-safety), empty on other
// compilers. Annotate every mutex-guarded field with GUARDED_BY and every
// function that expects a lock with REQUIRES, so the test build (clang,
// -Wthread-safety -Werror) proves the lock contracts the comments state.
// The attributes are clang's (clang.llvm.org/docs/ThreadSafetyAnalysis.html).
#pragma once

#if defined(__clang__)
#define QS_THREAD_ATTRIBUTE(x) __attribute__((x))
#else
#define QS_THREAD_ATTRIBUTE(x)
#endif

#define CAPABILITY(x) QS_THREAD_ATTRIBUTE(capability(x))
#define SCOPED_CAPABILITY QS_THREAD_ATTRIBUTE(scoped_lockable)
#define GUARDED_BY(x) QS_THREAD_ATTRIBUTE(guarded_by(x))
#define PT_GUARDED_BY(x) QS_THREAD_ATTRIBUTE(pt_guarded_by(x))
#define ACQUIRED_BEFORE(...) QS_THREAD_ATTRIBUTE(acquired_before(__VA_ARGS__))
#define ACQUIRED_AFTER(...) QS_THREAD_ATTRIBUTE(acquired_after(__VA_ARGS__))
#define REQUIRES(...) QS_THREAD_ATTRIBUTE(requires_capability(__VA_ARGS__))
#define REQUIRES_SHARED(...) QS_THREAD_ATTRIBUTE(requires_shared_capability(__VA_ARGS__))
#define ACQUIRE(...) QS_THREAD_ATTRIBUTE(acquire_capability(__VA_ARGS__))
#define ACQUIRE_SHARED(...) QS_THREAD_ATTRIBUTE(acquire_shared_capability(__VA_ARGS__))
#define RELEASE(...) QS_THREAD_ATTRIBUTE(release_capability(__VA_ARGS__))
#define RELEASE_SHARED(...) QS_THREAD_ATTRIBUTE(release_shared_capability(__VA_ARGS__))
#define RELEASE_GENERIC(...) QS_THREAD_ATTRIBUTE(release_generic_capability(__VA_ARGS__))
#define TRY_ACQUIRE(...) QS_THREAD_ATTRIBUTE(try_acquire_capability(__VA_ARGS__))
#define EXCLUDES(...) QS_THREAD_ATTRIBUTE(locks_excluded(__VA_ARGS__))
#define ASSERT_CAPABILITY(x) QS_THREAD_ATTRIBUTE(assert_capability(x))
#define RETURN_CAPABILITY(x) QS_THREAD_ATTRIBUTE(lock_returned(x))
#define NO_THREAD_SAFETY_ANALYSIS QS_THREAD_ATTRIBUTE(no_thread_safety_analysis)
