#!/usr/bin/env bash
# The test command: installs what is missing, builds with clang, ASan +
# UBSan, the thread-safety analysis and warnings as errors, runs every test (unit, integration, redis-cli), then
# runs the RESP parser fuzzer briefly. Exit status 0 only when all pass.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

bash scripts/install-deps.sh

echo "== build (clang, ASan+UBSan, -Wthread-safety, -Werror) in build-asan/"
# A build-asan/ configured with another compiler is made again.
if [ -f build-asan/CMakeCache.txt ] && ! grep -q '^CMAKE_CXX_COMPILER:.*clang' build-asan/CMakeCache.txt; then
  rm -rf build-asan
fi
CC=clang CXX=clang++ cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DQSFS_SANITIZE=ON -DQSFS_WERROR=ON >/dev/null
cmake --build build-asan -j"$(nproc)" 2>&1 | grep -vE '^\[ *[0-9]+%\]' || true
test -x build-asan/bin/zdb || { echo "build failed"; exit 1; }

echo "== tests"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest_log=$(mktemp)
set +e
ctest --test-dir build-asan --output-on-failure --timeout 900 -j2 2>&1 | tee "$ctest_log"
ctest_rc=${PIPESTATUS[0]}
set -e
total=$(sed -n 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\2/p' "$ctest_log")
failed=$(sed -n 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\1/p' "$ctest_log")
rm -f "$ctest_log"
if [ "$ctest_rc" -ne 0 ]; then
  echo "$(( ${total:-0} - ${failed:-0} )) passed, ${failed:-1} failed"
  exit 1
fi

echo "== fuzz: RESP request parser (libFuzzer, ${FUZZ_SECONDS:-30}s)"
CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DQSFS_FUZZ=ON \
  -DQSFS_SANITIZE=ON >/dev/null
cmake --build build-fuzz --target resp_parser_fuzz -j"$(nproc)" >/dev/null
work=$(mktemp -d)
cp tests/fuzz/corpus/resp/* "$work"/
fuzz_log="$work.log"
if ! build-fuzz/tests/resp_parser_fuzz -max_total_time="${FUZZ_SECONDS:-30}" -print_final_stats=1 "$work" \
    >"$fuzz_log" 2>&1; then
  tail -40 "$fuzz_log"
  echo "fuzzer found a failure"
  echo "${total:-0} passed, 1 failed"
  exit 1
fi
grep -E 'stat::number_of_executed_units' "$fuzz_log" || true
rm -rf "$work" "$fuzz_log"
echo "== all tests passed"
echo "$(( ${total:-0} - ${failed:-0} )) passed, ${failed:-0} failed"
