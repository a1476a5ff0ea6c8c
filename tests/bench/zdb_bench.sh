#!/usr/bin/env bash
# zdb against redis-server (appendonly yes, appendfsync everysec) in the same
# run, each server pinned to core 0 and redis-benchmark to core 1 so that
# neither competes with the load generator: redis-benchmark SET and GET with 4 KiB values, 50 clients, without and
# with -P 16, over TCP and over a Unix socket. Prints each throughput and the
# ratio zdb/redis, then memory per key (see zdb_memory_bench).
#   tests/bench/zdb_bench.sh [REQUESTS]        (default 200000)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
n=${1:-200000}
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target zdb zdb_memory_bench >/dev/null

work=$(mktemp -d)
zport=$((21000 + $$ % 1000)); rport=$((zport + 1000))
cleanup() {
  [ -n "${spid:-}" ] && kill "$spid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# Each server runs alone while it is measured (redis's AOF rewrite child
# must not steal the core from zdb, nor the other way round).
start_server() {
  rm -rf "$work/zdb" "$work/redis"; mkdir -p "$work/redis"
  if [ "$1" = zdb ]; then
    taskset -c 0 build/bin/zdb --data "$work/zdb/data" --index "$work/zdb/index" --listen 127.0.0.1 \
      --port "$zport" --socket "$work/zdb.sock" --dualnet --fsync everysec >"$work/zdb.log" 2>&1 &
    spid=$!; sport=$zport
  else
    taskset -c 0 redis-server --port "$rport" --unixsocket "$work/redis.sock" --dir "$work/redis" --save "" \
      --appendonly yes --appendfsync everysec --daemonize no >"$work/redis.log" 2>&1 &
    spid=$!; sport=$rport
  fi
  for _ in $(seq 100); do redis-cli -p "$sport" PING >/dev/null 2>&1 && return; sleep 0.05; done
  echo "$1 did not start"; exit 1
}
# Lets background work started by the SET phase (redis's AOF rewrite) end
# before GETs are timed, so each server is measured at its best.
settle() {
  [ "$1" = redis ] || return 0
  for _ in $(seq 600); do
    redis-cli -p "$sport" INFO persistence | grep -q '^aof_rewrite_in_progress:0' && return 0
    sleep 0.1
  done
}
stop_server() { kill "$spid"; wait "$spid" 2>/dev/null || true; spid=; }

# rps TARGET TEST PIPELINE: requests per second redis-benchmark reports.
rps() {
  local target=$1 test=$2 pipe=$3 args
  case $target in
    zdb-tcp) args=(-p "$zport") ;; redis-tcp) args=(-p "$rport") ;;
    zdb-unix) args=(-s "$work/zdb.sock") ;; redis-unix) args=(-s "$work/redis.sock") ;;
  esac
  taskset -c 1 redis-benchmark "${args[@]}" -t "$test" -d 4096 -c 50 -n "$n" -r 1000000 -P "$pipe" -q 2>/dev/null \
    | tr '\r' '\n' | sed -n 's/^[A-Z]*: \([0-9.]*\) requests per second.*/\1/p' | tail -1
}

printf '%-10s %-5s %-3s %14s %14s %8s\n' transport op P "zdb req/s" "redis req/s" ratio
worst=999
declare -A res
for transport in tcp unix; do
  for pipe in 1 16; do
    for server in zdb redis; do
      start_server "$server"
      res[$server-set]=$(rps "$server-$transport" set "$pipe")
      settle "$server"
      res[$server-get]=$(rps "$server-$transport" get "$pipe")
      stop_server
    done
    for op in set get; do
      z=${res[zdb-$op]}; r=${res[redis-$op]}
      ratio=$(awk -v a="$z" -v b="$r" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
      printf '%-10s %-5s %-3s %14s %14s %8s\n' "$transport" "$op" "$pipe" "$z" "$r" "$ratio"
      worst=$(awk -v a="$worst" -v b="$ratio" 'BEGIN { print (b < a ? b : a) }')
    done
  done
done
echo "lowest ratio zdb/redis: $worst (goal: >= 1.00 on every row)"
echo
build/bin/zdb_memory_bench --zdb build/bin/zdb --keys "${MEMORY_KEYS:-10000000}"
