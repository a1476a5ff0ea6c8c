#!/usr/bin/env bash
# Soak: backends on separate network namespaces (one per group, joined to
# this host by a veth pair), the staging zdb, zstor and a qsfs mount here.
# One group is cut off (link down) and one slowed (tbf rate limit; this
# kernel has no netem, so "slow" is bandwidth, not delay). Checks that the
# mount stays usable (ls, df, write + fsync + read back), that uploads go on
# and place nothing on the cut group, and that every file reads back intact
# from the backends once the staging directory is thrown away.
#   tests/e2e/netns_soak.sh [BIN_DIR]      (root; iproute2)
# Exit status 0 when every check holds.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${1:-build/bin}
[ "$(id -u)" -eq 0 ] || { echo "netns_soak: needs root (network namespaces)"; exit 1; }
for b in zdb zstor zstor-hook qsfs; do [ -x "$bin/$b" ] || { echo "netns_soak: $bin/$b missing"; exit 1; }; done
command -v ip >/dev/null && command -v tc >/dev/null || { echo "netns_soak: iproute2 (ip, tc) missing"; exit 1; }

work=$(mktemp -d /tmp/netns-soak.XXXXXX)
tag=q$$  # names unique to this run
pids=()
fail=0
check() {  # check DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@"; then echo "ok: $what"; else echo "FAIL: $what"; fail=1; fi
}
cleanup() {
  if mountpoint -q "$work/mnt" 2>/dev/null; then fusermount3 -u "$work/mnt" 2>/dev/null || umount -l "$work/mnt"; fi
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for g in 0 1 2 3; do
    ip link del "${tag}h$g" 2>/dev/null || true
    ip netns del "${tag}g$g" 2>/dev/null || true
  done
  [ "$fail" -eq 0 ] && rm -rf "$work" || echo "logs kept in $work"
}
trap cleanup EXIT

echo "== 4 network namespaces, one group of 5 zdbs in each"
for g in 0 1 2 3; do
  ns=${tag}g$g
  ip netns add "$ns"
  ip link add "${tag}h$g" type veth peer name "${tag}n$g"
  ip link set "${tag}n$g" netns "$ns"
  ip addr add "10.77.$g.1/24" dev "${tag}h$g"
  ip link set "${tag}h$g" up
  ip netns exec "$ns" ip addr add "10.77.$g.2/24" dev "${tag}n$g"
  ip netns exec "$ns" ip link set "${tag}n$g" up
  ip netns exec "$ns" ip link set lo up
  for i in 1 2 3 4 5; do
    d=$work/g$g-$i
    ip netns exec "$ns" "$bin/zdb" --data "$d/data" --index "$d/index" --listen "10.77.$g.2" --port $((9900 + i)) \
      --mode seq >"$d.log" 2>&1 &
    pids+=($!)
  done
done
for i in 1 2 3 4; do
  "$bin/zdb" --data "$work/meta$i/data" --index "$work/meta$i/index" --socket "$work/meta$i.sock" --mode user \
    >"$work/meta$i.log" 2>&1 &
  pids+=($!)
done
ping_zdb() { redis-cli -h "$1" -p "$2" PING 2>/dev/null | grep -q PONG; }
for g in 0 1 2 3; do
  for i in 1 2 3 4 5; do
    for _ in $(seq 100); do ping_zdb "10.77.$g.2" $((9900 + i)) && break; sleep 0.05; done
    ping_zdb "10.77.$g.2" $((9900 + i)) || { echo "zdb 10.77.$g.2:$((9900 + i)) did not start"; fail=1; exit 1; }
  done
done

hexkey() { od -An -tx1 -N32 /dev/urandom | tr -d ' \n'; }
cfg=$work/zstor.toml
{
  # 8+4 over 4 groups of 5, surviving the loss of a whole group: with one
  # group cut off, 15 backends in 3 groups still take 12 fragments.
  printf 'minimal_shards = 8\nexpected_shards = 12\nredundant_groups = 1\nredundant_nodes = 0\n'
  printf 'socket = "%s"\nchunk_size = "4M"\njournal_dir = "%s"\n' "$work/zstor.sock" "$work/journal"
  printf 'zdb_data_dir_path = "%s"\nzdb_index_dir_path = "%s"\nqueue_dir = "%s"\nmax_zdb_data_dir_size = "1G"\n' \
    "$work/staging/data" "$work/staging/index" "$work/queue"
  printf '[encryption]\nalgorithm = "AES"\nkey = "%s"\n' "$(hexkey)"
  printf '[compression]\nalgorithm = "zstd"\nlevel = 1\n'
  printf '[meta]\ntype = "zdb"\n[meta.config]\nprefix = "soak"\n'
  printf '[meta.config.encryption]\nalgorithm = "AES"\nkey = "%s"\n' "$(hexkey)"
  for i in 1 2 3 4; do printf '[[meta.config.backends]]\naddress = "unix:%s"\nnamespace = "default"\n' "$work/meta$i.sock"; done
  printf '[monitor]\nhealth_interval = 1\nrepair_interval = 3600\nrepair_delay = 3600\n'
  for g in 0 1 2 3; do
    printf '[[groups]]\n'
    for i in 1 2 3 4 5; do printf '[[groups.backends]]\naddress = "10.77.%d.2:%d"\nnamespace = "default"\n' "$g" $((9900 + i)); done
  done
} >"$cfg"
chmod 600 "$cfg"  # zstor refuses keys readable by every user
"$bin/zstor" -c "$cfg" monitor >"$work/zstor.log" 2>&1 &
pids+=($!)
for _ in $(seq 200); do [ -S "$work/zstor.sock" ] && break; sleep 0.05; done

start_staging() {
  ZSTOR_CONFIG=$cfg "$bin/zdb" --data "$work/staging/data" --index "$work/staging/index" --socket "$work/staging.sock" \
    --datasize 4M --hook "$bin/zstor-hook" --hook-timeout 60 >>"$work/staging.log" 2>&1 &
  staging_pid=$!
  pids+=($staging_pid)
  for _ in $(seq 600); do redis-cli -s "$work/staging.sock" PING 2>/dev/null | grep -q PONG && return 0; sleep 0.1; done
  echo "staging zdb did not start"; fail=1; exit 1
}
mount_qsfs() {
  mkdir -p "$work/mnt"
  "$bin/qsfs" -o "unix=$work/staging.sock,logfile=$work/qsfs.log,writeback_delay=1" "$work/mnt"
  qsfs_pid=$(pgrep -n -f "qsfs -o unix=$work/staging.sock")
}
unmount_qsfs() {  # the daemon flushes and releases its lease after the kernel unmount
  fusermount3 -u "$work/mnt"
  for _ in $(seq 300); do kill -0 "$qsfs_pid" 2>/dev/null || return 0; sleep 0.1; done
  echo "qsfs did not exit after unmount"; return 1
}
queue_empty() {  # waits up to $1 s for 0 jobs, 0 failing
  for _ in $(seq $(($1 * 2))); do
    "$bin/zstor" -c "$cfg" --json status | grep -q '"staging": {"jobs": 0, "failing": 0' && return 0
    sleep 0.5
  done
  "$bin/zstor" -c "$cfg" status | grep staging
  return 1
}
jump() { for ns in qsfs-meta qsfs-data; do printf 'SELECT %s\nNSJUMP\n' "$ns" | redis-cli -s "$work/staging.sock" >/dev/null; done; }
write_files() {  # write_files PREFIX N: N files of 1 MiB (a copy kept in src/), fsynced
  mkdir -p "$work/mnt/$1" "$work/src/$1"
  for i in $(seq "$2"); do
    head -c $((1 << 20)) /dev/urandom >"$work/src/$1/f$i"
    cp "$work/src/$1/f$i" "$work/mnt/$1/f$i"
  done
  sync "$work/mnt/$1"/*
}
group0_fragments() {  # sum of DBSIZE over the cut group (asked from inside its namespace)
  local n=0 i
  for i in 1 2 3 4 5; do
    n=$((n + $(ip netns exec "${tag}g0" redis-cli -h 10.77.0.2 -p $((9900 + i)) DBSIZE)))
  done
  echo "$n"
}

start_staging
mount_qsfs
echo "== all groups reachable: a first set of files"
write_files before 16
jump
check "uploads done with every group reachable" queue_empty 120
before_g0=$(group0_fragments)
echo "fragments on group 0: $before_g0"

echo "== group 0 cut off (link down), group 1 slowed (tbf 20 Mbit/s)"
ip link set "${tag}h0" down
tc qdisc add dev "${tag}h1" root tbf rate 20mbit burst 32kbit latency 400ms
t0=$(date +%s%N)
check "ls answers" bash -c "ls '$work/mnt/before' >/dev/null"
check "df answers" bash -c "df '$work/mnt' >/dev/null"
write_files during 16
check "files written and fsynced with a group cut off read back intact" diff -r "$work/src/during" "$work/mnt/during"
echo "mount operations took $((($(date +%s%N) - t0) / 1000000)) ms"
(cd "$work/src" && find . -type f -print0 | sort -z | xargs -0 sha256sum) >"$work/sums"
# Packets to a down veth are dropped, so each health probe of group 0
# waits out its connect timeout before the group is seen down.
seen_down() {
  local t0 i
  t0=$(date +%s)
  for i in $(seq 60); do
    if "$bin/zstor" -c "$cfg" status | grep -q '^5 of 24 backends down'; then
      echo "group 0 seen down within $(($(date +%s) - t0 + 1)) s"
      return 0
    fi
    sleep 1
  done
  "$bin/zstor" -c "$cfg" status | tail -3
  return 1
}
check "zstor sees the 5 backends of group 0 down" seen_down
jump
check "uploads done with group 0 cut off and group 1 slow" queue_empty 300

echo "== links back; the cut group got nothing meanwhile"
ip link set "${tag}h0" up
tc qdisc del dev "${tag}h1" root
after_g0=$(group0_fragments)
check "no fragment placed on the cut group ($before_g0 before, $after_g0 after)" test "$after_g0" -eq "$before_g0"

echo "== the filesystem from the backends alone"
unmount_qsfs
kill "$staging_pid"
wait "$staging_pid" 2>/dev/null || true
check "uploads done after the clean stop" queue_empty 120
rm -rf "$work/staging" "$work/staging.sock"
start_staging
mount_qsfs
check "every file intact after a restore from the backends" \
  bash -c "cd '$work/mnt' && find . -type f -print0 | sort -z | xargs -0 sha256sum | cmp -s - '$work/sums'"
echo
[ "$fail" -eq 0 ] && echo "netns soak: all checks passed" || echo "netns soak: FAILED"
exit $fail
