#!/usr/bin/env bash
# The test command: installs what is missing, builds with ASan + UBSan and
# warnings as errors, runs every test (unit, integration, redis-cli), then
# runs the RESP parser fuzzer briefly. Exit status 0 only when all pass.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

bash scripts/install-deps.sh

echo "== build (ASan+UBSan, -Werror) in build-asan/"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DQSFS_SANITIZE=ON -DQSFS_WERROR=ON >/dev/null
cmake --build build-asan -j"$(nproc)" 2>&1 | grep -vE '^\[ *[0-9]+%\]' || true
test -x build-asan/bin/zdb || { echo "build failed"; exit 1; }

echo "== tests"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest --test-dir build-asan --output-on-failure --timeout 900 -j2

echo "== fuzz: RESP request parser (libFuzzer, ${FUZZ_SECONDS:-30}s)"
CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DQSFS_FUZZ=ON \
  -DQSFS_SANITIZE=ON >/dev/null
cmake --build build-fuzz --target resp_parser_fuzz -j"$(nproc)" >/dev/null
work=$(mktemp -d)
cp tests/fuzz/corpus/resp/* "$work"/
build-fuzz/tests/resp_parser_fuzz -max_total_time="${FUZZ_SECONDS:-30}" -print_final_stats=1 "$work" 2>&1 \
  | grep -E 'stat::number_of_executed_units|ERROR|SUMMARY' || true
rm -rf "$work"
# libFuzzer exits non-zero on a crash; pipefail carries that here.
echo "== all tests passed"
