#!/usr/bin/env bash
# A cold metadata read while 1 GiB uploads, through the zstor daemon the way
# a qsfs mount drives it: 20 data zdbs (4 groups of 5) + 4 meta zdbs on Unix
# sockets, RS 16+4, 16 MiB chunks, the daemon with staging on. Four closed
# 256 MiB data segments of namespace qsfs-data (random bytes) are handed to
# it as jump-data hook events, so its staging worker uploads and verifies
# them one after the other (1 GiB). Meanwhile a reader asks, one request
# after the other, for an evicted 1 MiB segment of namespace qsfs-meta
# through a missing-data hook event (`zstor hook`: a process per event, as
# zdb runs its hook), and the segment is removed again after each restore.
# Prints, from the same run: what a hook event costs by itself (10 `ready`
# events, which the daemon answers doing nothing: process start, config,
# connection, daemon thread), the same cold read with nothing uploading (10
# reads, the peer), the cold reads' count and latency p50/p99/max during
# the upload (ms, hook process start to exit) and the upload's throughput
# (MB/s, from the first event until the queue is empty). Figures only: exits non-zero
# only if a restore fails or restores wrong bytes.
#   tests/bench/cold_read_bench.sh [BUILD_DIR]   (default build-rel, RelWithDebInfo)
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build-rel}
seg_mib=256 segs=4 meta_kib=1024

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j2 --target zdb zstor >/dev/null
bin=$build/bin

work=$(mktemp -d)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ndata=20 nmeta=4
sock() { echo "$work/zdb$1.sock"; }
for i in $(seq 0 $((ndata + nmeta - 1))); do
  mode=seq; [ "$i" -ge "$ndata" ] && mode=user
  "$bin/zdb" --data "$work/zdb$i/data" --index "$work/zdb$i/index" --socket "$(sock "$i")" \
    --mode "$mode" --fsync everysec >"$work/zdb$i.log" 2>&1 &
  pids+=($!)
done
for i in $(seq 0 $((ndata + nmeta - 1))); do
  for _ in $(seq 200); do
    [ "$(redis-cli -s "$(sock "$i")" PING 2>/dev/null)" = PONG ] && continue 2
    sleep 0.05
  done
  echo "zdb $i did not start:"; cat "$work/zdb$i.log"; exit 1
done

staging=$work/staging
mkdir -p "$staging/data/qsfs-data" "$staging/data/qsfs-meta" "$staging/index"
cfg=$work/zstor.toml
. tests/bench/zstor_config.sh
write_zstor_config "$cfg" "$work" "$ndata" "$nmeta" \
  "socket = \"$work/zstor.sock\"" "queue_dir = \"$work/queue\"" \
  "zdb_data_dir_path = \"$staging/data\"" "zdb_index_dir_path = \"$staging/index\""

"$bin/zstor" -c "$cfg" monitor >"$work/zstor.log" 2>&1 &
pids+=($!)
for _ in $(seq 200); do
  [ "$(redis-cli -s "$work/zstor.sock" PING 2>/dev/null)" = PONG ] && break
  sleep 0.05
done

now_ns() { date +%s%N; }
# The cold segment: uploaded through the staging path, then evicted.
meta_seg=$staging/data/qsfs-meta/zdb-data-00000
head -c $((meta_kib * 1024)) /dev/urandom >"$work/meta.ref"
cp "$work/meta.ref" "$meta_seg"
"$bin/zstor" -c "$cfg" hook jump-data bench "$meta_seg" >/dev/null
queue_empty() { [ "$(redis-cli -s "$work/zstor.sock" STAGING | sed -n 2p)" = 0 ]; }
until queue_empty; do sleep 0.1; done
rm -f "$meta_seg"

# The segments to upload, written before the clock starts.
for s in $(seq 1 "$segs"); do
  head -c $((seg_mib * 1024 * 1024)) /dev/urandom >"$staging/data/qsfs-data/$(printf 'zdb-data-%05d' "$s")"
done
sync

# cold_read FILE: one restore through the hook, checked, then evicted again;
# appends its microseconds to FILE.
cold_read() {
  local r0 r1
  r0=$(now_ns)
  if ! "$bin/zstor" -c "$cfg" hook missing-data bench "$meta_seg" >/dev/null 2>"$work/err"; then
    echo "restore failed:"; cat "$work/err"; return 1
  fi
  r1=$(now_ns)
  if ! cmp -s "$meta_seg" "$work/meta.ref"; then echo "restored segment differs"; return 1; fi
  rm -f "$meta_seg"
  echo $(((r1 - r0) / 1000)) >>"$1"
}
# pct FILE: n, p50, p99 and max of FILE's microseconds, in ms.
pct() {
  sort -n "$1" | awk '{ v[NR] = $1 }
    function p(q,  i) { i = int(q * NR + 0.999999); if (i < 1) i = 1; if (i > NR) i = NR; return v[i] / 1000 }
    END { if (NR == 0) print "n 0"; else printf "n %d, p50 %.1f ms, p99 %.1f ms, max %.1f ms\n", NR, p(0.5), p(0.99), v[NR] / 1000 }'
}
noop=$work/noop
: >"$noop"
for _ in $(seq 10); do
  r0=$(now_ns)
  "$bin/zstor" -c "$cfg" hook ready bench >/dev/null
  echo $((($(now_ns) - r0) / 1000)) >>"$noop"
done
echo "hook event that does nothing (ready): $(pct "$noop")"
idle=$work/idle
: >"$idle"
for _ in $(seq 10); do cold_read "$idle"; done
echo "cold read of a $meta_kib KiB segment, nothing uploading: $(pct "$idle")"

lat=$work/latencies
: >"$lat"
t0=$(now_ns)
for s in $(seq 1 "$segs"); do
  "$bin/zstor" -c "$cfg" hook jump-data bench "$staging/data/qsfs-data/$(printf 'zdb-data-%05d' "$s")" >/dev/null
done
status=0
while ! queue_empty; do
  if ! cold_read "$lat"; then status=1; break; fi
  sleep 0.05
done
until queue_empty; do sleep 0.05; done
t1=$(now_ns)

echo "cold read of a $meta_kib KiB segment during the upload: $(pct "$lat")"
awk -v bytes=$((segs * seg_mib * 1024 * 1024)) -v wall="$(((t1 - t0) / 1000))" \
  'BEGIN { printf "upload: %d MiB in %.1f s, %.1f MB/s\n", bytes / 1048576, wall / 1e6, bytes / wall }'
exit $status
