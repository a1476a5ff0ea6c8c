#!/usr/bin/env bash
# The local stack under one directory (.stack/ by default).
#   scripts/stack.sh up      install what is missing, build, start, show it working
#   scripts/stack.sh status  every process, its health
#   scripts/stack.sh down    stop everything
# Today the stack is one zdb; zstor and qsfs join it as they land.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
state=${QSFS_STACK_DIR:-$root/.stack}
port=${ZDB_PORT:-9900}

build() {
  bash scripts/install-deps.sh
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build build -j"$(nproc)" --target zdb 2>&1 | grep -E 'error|warning' || true
  test -x build/bin/zdb
}

running() { [ -f "$state/zdb.pid" ] && kill -0 "$(cat "$state/zdb.pid")" 2>/dev/null; }

up() {
  build
  mkdir -p "$state"
  if running; then
    echo "zdb already running (pid $(cat "$state/zdb.pid"))"
  else
    build/bin/zdb --data "$state/zdb/data" --index "$state/zdb/index" --listen 127.0.0.1 --port "$port" \
      --socket "$state/zdb.sock" --dualnet --logfile "$state/zdb.log" </dev/null >>"$state/zdb.out" 2>&1 &
    echo $! >"$state/zdb.pid"
    for _ in $(seq 100); do redis-cli -p "$port" PING >/dev/null 2>&1 && break; sleep 0.05; done
  fi
  echo "== zdb on 127.0.0.1:$port and $state/zdb.sock; redis-cli talking to it:"
  demo() { echo "\$ redis-cli -p $port $*"; redis-cli -p "$port" "$@"; }
  demo PING
  demo NSNEW demo 2>/dev/null || true
  demo NSLIST
  echo "\$ printf 'SELECT demo\\nSET hello \"world at ...\"\\nGET hello\\nDBSIZE\\n' | redis-cli -p $port"
  printf 'SELECT demo\nSET hello "world at %s"\nGET hello\nDBSIZE\n' "$(date +%T)" | redis-cli -p "$port"
  demo NSINFO demo | head -4
  echo
  echo "Stack running. Status: scripts/stack.sh status   Stop: scripts/stack.sh down"
}

status() {
  if running; then
    echo "zdb   pid $(cat "$state/zdb.pid")   127.0.0.1:$port   $(redis-cli -p "$port" PING 2>&1)"
  else
    echo "zdb   not running"
    return 1
  fi
}

down() {
  if running; then
    kill -TERM "$(cat "$state/zdb.pid")"
    for _ in $(seq 100); do running || break; sleep 0.1; done
    echo "zdb stopped"
  else
    echo "zdb not running"
  fi
  rm -f "$state/zdb.pid"
}

case "${1:-}" in
  up) up ;;
  status) status ;;
  down) down ;;
  *) echo "usage: scripts/stack.sh up|status|down" >&2; exit 2 ;;
esac
