#!/usr/bin/env bash
# Drives a real zdb with redis-cli, the way a newcomer would, and compares
# each printed answer with what it must be.
set -euo pipefail
zdb=${1:?usage: redis_cli_test.sh PATH_TO_ZDB}
dir=$(mktemp -d)
port=$((30000 + $$ % 20000))
"$zdb" --data "$dir/data" --index "$dir/index" --listen 127.0.0.1 --port "$port" --admin hunter2 \
  >"$dir/zdb.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do redis-cli -p "$port" PING >/dev/null 2>&1 && break; sleep 0.05; done

fails=0
check() {  # check "expected output" redis-cli args...
  local want=$1; shift
  local got
  got=$(redis-cli -p "$port" "$@" 2>&1)
  if [ "$got" != "$want" ]; then
    echo "FAIL: redis-cli $*"; echo "  want: $want"; echo "  got:  $got"; fails=$((fails + 1))
  fi
}
adm() { redis-cli -p "$port" -a hunter2 --no-auth-warning "$@"; }

check "PONG" PING
check "Permission denied" NSNEW films
check "OK" -a hunter2 --no-auth-warning NSNEW films
check "$(printf 'default\nfilms')" NSLIST
check "OK" -a hunter2 --no-auth-warning NSSET films password pw
check "OK" -a hunter2 --no-auth-warning NSSET films public 1
# One session: SELECT, then SET/GET/EXISTS/SCAN/DBSIZE (the SCAN cursor is
# binary, so that line is dropped before comparing).
out=$(printf 'SELECT films pw\nSET matrix 1999\nGET matrix\nEXISTS matrix\nSCAN 0\nDBSIZE\n' \
  | redis-cli -p "$port" | tr -d '\000' | sed '5d')
if [ "$(echo "$out" | sed -n '1,5p;$p')" != "$(printf 'OK\nmatrix\n1999\n1\nmatrix\n1')" ]; then
  echo "FAIL: session"; echo "$out" | cat -v; fails=$((fails + 1))
fi
# Public namespace without its password: readable, not writable.
out=$(printf 'SELECT films\nGET matrix\nSET x y\n' | redis-cli -p "$port")
[ "$out" = "$(printf 'OK\n1999\nNamespace is in read-only mode')" ] || { echo "FAIL: read-only: $out"; fails=$((fails + 1)); }
check "Command not supported" BOGUS
check "" GET nothing
check "hello world" PING "hello world"
adm INFO | grep -q '^server_name: 0-db (zdb)$' || { echo "FAIL: INFO"; fails=$((fails + 1)); }
adm NSINFO films | grep -q '^entries: 1$' || { echo "FAIL: NSINFO"; fails=$((fails + 1)); }

if [ "$fails" -ne 0 ]; then
  echo "redis-cli test: $fails failure(s)"; exit 1
fi
echo "redis-cli test: all checks passed"
