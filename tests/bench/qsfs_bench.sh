#!/usr/bin/env bash
# qsfs against a directory of the local disk, in the same run. Starts its own
# zdb (--fsync everysec, namespaces choose their mode, Unix socket only) and
# mounts build/bin/qsfs on it; the local directory is on the same file
# system as the zdb's data (and as this repository). On both it measures,
# with fio (psync, direct=0, incompressible data that never repeats):
#   seq write   one MIB file in 1 MiB blocks, fsync at the end (included)
#   seq read    that file, page cache dropped first; then again with the
#               backing store cached (zdb's segment files; for local the
#               file itself) and only qsfs's pages of the file dropped
#   rand read   4 KiB, time based, on a 1 GiB file, page cache dropped first
#   rand write  4 KiB, time based, same file, fsync at the end (included)
# then metadata in one python3 process: create N empty files in one
# directory, stat them all, remove them all (page cache dropped before each
# pass), as files/s; for qsfs also where the time per file goes: qsfs's own
# /metrics give the FUSE requests it answered and the time it spent in them,
# the rest is the kernel and the round trips through /dev/fuse. Both
# sequential files hold the same bytes (same fio seed), so one `cmp` of the
# two after the reads checks qsfs's data.
# Prints one table: qsfs, local, qsfs/local and the goal. Figures only: exits
# non-zero only if something fails to run or the data check fails.
#   tests/bench/qsfs_bench.sh [MIB]              (default 2048)
# Environment (for short validation runs):
#   QSFS_BENCH_FILES=N        metadata files (default 100000)
#   QSFS_BENCH_RUNTIME=S      seconds per random test (default 20)
#   QSFS_BENCH_RAND_MIB=M     file of the random tests (default 1024)
#   QSFS_BENCH_TMPDIR=DIR     where the temporary directories go (default
#                             build/, on the same file system as the repo)
#   QSFS_BENCH_OPTIONS=OPTS   more qsfs -o options (e.g. writeback_cache)
#   QSFS_BENCH_ZDB_OPTIONS=A  more zdb arguments (e.g. --evict-synced)
# Runs as root (drop_caches, FUSE mount); uses the binaries already built in
# build/bin (it does not build).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
mib=${1:-2048}
files=${QSFS_BENCH_FILES:-100000}
runtime=${QSFS_BENCH_RUNTIME:-20}
rand_mib=${QSFS_BENCH_RAND_MIB:-1024}
tmpbase=${QSFS_BENCH_TMPDIR:-$root/build}
bin=$root/build/bin
py=/usr/bin/python3; [ -x "$py" ] || py=$(command -v python3)
goal_seq=1000     # MB/s, qsfs sequential write and read
goal_meta=0.50    # qsfs/local, metadata operations

for b in zdb qsfs; do
  [ -x "$bin/$b" ] || { echo "$bin/$b is missing: build first (cmake --build build --target zdb qsfs)"; exit 1; }
done
for t in fio fusermount3 redis-cli; do
  command -v "$t" >/dev/null || { echo "$t is not installed"; exit 1; }
done
[ -n "$py" ] || { echo "python3 is not installed"; exit 1; }
[ "$(id -u)" = 0 ] || { echo "run as root (drop_caches, FUSE)"; exit 1; }

mkdir -p "$tmpbase"
work=$(mktemp -d "$tmpbase/qsfs-bench.XXXXXX")
local_dir=$work/local
mnt=$work/mnt
sock=$work/zdb.sock
mkdir -p "$local_dir" "$mnt" "$work/fio"
zpid=""
cleanup() {
  if mountpoint -q "$mnt"; then
    fusermount3 -u "$mnt" 2>/dev/null || fusermount3 -uz "$mnt" 2>/dev/null || true
  fi
  # qsfs flushes and exits after the unmount; zdb only afterwards.
  for _ in $(seq 100); do pgrep -f "qsfs -o unix=$sock" >/dev/null || break; sleep 0.1; done
  if [ -n "$zpid" ]; then kill "$zpid" 2>/dev/null || true; wait "$zpid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$bin/zdb" --data "$work/zdb/data" --index "$work/zdb/index" --socket "$sock" --fsync everysec ${QSFS_BENCH_ZDB_OPTIONS:-} \
  --logfile "$work/zdb.log" </dev/null >"$work/zdb.out" 2>&1 &
zpid=$!
for _ in $(seq 200); do [ "$(redis-cli -s "$sock" PING 2>/dev/null)" = PONG ] && break; sleep 0.05; done
[ "$(redis-cli -s "$sock" PING 2>/dev/null)" = PONG ] || { echo "zdb did not start:"; cat "$work/zdb.out" "$work/zdb.log"; exit 1; }
metrics_port=$((19600 + $$ % 300))
if ! "$bin/qsfs" -o "unix=$sock,logfile=$work/qsfs.log,metrics=127.0.0.1:$metrics_port${QSFS_BENCH_OPTIONS:+,$QSFS_BENCH_OPTIONS}" "$mnt"; then
  echo "qsfs did not mount:"; cat "$work/qsfs.log" 2>/dev/null; exit 1
fi
mountpoint -q "$mnt" || { echo "qsfs did not mount"; cat "$work/qsfs.log"; exit 1; }

drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }

# fio_run TAG DIR ARGS...: one fio job on DIR, its JSON kept as fio/TAG.json.
fio_run() {
  local tag=$1 dir=$2
  shift 2
  if ! fio --name="$tag" --directory="$dir" --ioengine=psync --direct=0 --numjobs=1 \
    --randseed=42 --refill_buffers=1 --scramble_buffers=0 "$@" \
    --output-format=json --output="$work/fio/$tag.json" >"$work/fio/$tag.out" 2>&1; then
    echo "fio $tag failed:"; cat "$work/fio/$tag.out" "$work/fio/$tag.json" 2>/dev/null | tail -20; exit 1
  fi
}
# fio_figure TAG read|write bw|iops: MB/s (1e6 B/s) or IO/s of the job.
fio_figure() {
  "$py" - "$work/fio/$1.json" "$2" "$3" <<'EOF'
import json, sys
job = json.load(open(sys.argv[1]))["jobs"][0]
d = job[sys.argv[2]]
if job.get("error", 0):
    sys.exit("fio job error %d" % job["error"])
print("%.1f" % (d["bw_bytes"] / 1e6 if sys.argv[3] == "bw" else d["iops"]))
EOF
}

declare -A fig
targets=(qsfs local)
dir_of() { if [ "$1" = qsfs ]; then echo "$mnt"; else echo "$local_dir"; fi; }

echo "qsfs bench: $mib MiB sequential, 4 KiB random ${runtime} s each on $rand_mib MiB, $files files${QSFS_BENCH_OPTIONS:+; qsfs -o $QSFS_BENCH_OPTIONS}"
echo "qsfs on zdb ($work/zdb, fsync everysec) vs local directory $local_dir ($(df --output=source,fstype "$local_dir" | tail -1 | tr -s ' '))"

for t in "${targets[@]}"; do
  drop_caches
  fio_run "seqwrite-$t" "$(dir_of "$t")" --filename=seq.bin --rw=write --bs=1M --size="${mib}M" --end_fsync=1
  fig[seqwrite-$t]=$(fio_figure "seqwrite-$t" write bw)
  echo "seq write  $t: ${fig[seqwrite-$t]} MB/s"
done
for t in "${targets[@]}"; do
  drop_caches
  fio_run "seqread-$t" "$(dir_of "$t")" --filename=seq.bin --rw=read --bs=1M --size="${mib}M"
  fig[seqread-$t]=$(fio_figure "seqread-$t" read bw)
  echo "seq read   $t: ${fig[seqread-$t]} MB/s"
done
# The same reads with the backing store's files in the page cache and only
# the file's own pages dropped (posix_fadvise DONTNEED): qsfs's own cost,
# without the disk that the cold reads above wait on (zdb's segment files
# for qsfs, the file itself for local, which is then read from memory).
drop_file_cache() {
  "$py" -c 'import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED); os.close(fd)' "$1"
}
cat "$work"/zdb/data/*/* >/dev/null
for t in "${targets[@]}"; do
  [ "$t" = local ] && cat "$local_dir/seq.bin" >/dev/null
  [ "$t" = qsfs ] && drop_file_cache "$mnt/seq.bin"
  fio_run "warmread-$t" "$(dir_of "$t")" --filename=seq.bin --rw=read --bs=1M --size="${mib}M"
  fig[warmread-$t]=$(fio_figure "warmread-$t" read bw)
  echo "seq read, store cached $t: ${fig[warmread-$t]} MB/s"
done
# Data check: same seed, same bytes; qsfs must give back what local holds.
drop_caches
if cmp "$mnt/seq.bin" "$local_dir/seq.bin"; then
  echo "data check: $mib MiB identical on qsfs and local (cmp)"
  check=ok
else
  echo "data check: qsfs's file DIFFERS from the local one"
  check=failed
fi
rm -f "$mnt/seq.bin" "$local_dir/seq.bin"

for t in "${targets[@]}"; do
  # The random tests' file, written once (not timed).
  fio_run "layout-$t" "$(dir_of "$t")" --filename=rand.bin --rw=write --bs=1M --size="${rand_mib}M" --end_fsync=1
  drop_caches
  fio_run "randread-$t" "$(dir_of "$t")" --filename=rand.bin --rw=randread --bs=4k --size="${rand_mib}M" \
    --time_based=1 --runtime="$runtime"
  fig[randread-$t]=$(fio_figure "randread-$t" read iops)
  echo "rand read  $t: ${fig[randread-$t]} IO/s"
  drop_caches
  fio_run "randwrite-$t" "$(dir_of "$t")" --filename=rand.bin --rw=randwrite --bs=4k --size="${rand_mib}M" \
    --time_based=1 --runtime="$runtime" --end_fsync=1
  fig[randwrite-$t]=$(fio_figure "randwrite-$t" write iops)
  echo "rand write $t: ${fig[randwrite-$t]} IO/s"
  rm -f "$(dir_of "$t")/rand.bin"
done

# Metadata: N empty files in one directory, one process, each pass timed alone.
cat >"$work/meta.py" <<'EOF'
import os, re, subprocess, sys, time, urllib.request
d, n = sys.argv[1], int(sys.argv[2])
metrics = sys.argv[3] if len(sys.argv) > 3 else None  # qsfs /metrics URL
def inside():
    """(FUSE requests qsfs answered, seconds it spent in them) so far."""
    if not metrics:
        return (0, 0.0)
    page = urllib.request.urlopen(metrics).read().decode()
    count = sum(float(v) for v in re.findall(r'^qsfs_operation_duration_seconds_count\{[^}]*\} (\S+)$', page, re.M))
    secs = sum(float(v) for v in re.findall(r'^qsfs_operation_duration_seconds_sum\{[^}]*\} (\S+)$', page, re.M))
    return (count, secs)
os.mkdir(d)
names = ["f%07d" % i for i in range(n)]
spent = []  # per pass: (requests, seconds inside qsfs)
walls = []  # per pass: seconds
def timed(op):
    """Runs op on every name; records the pass's wall time and qsfs's share."""
    before = inside()
    t = time.perf_counter()
    for s in names:
        op(s)
    walls.append(time.perf_counter() - t)
    after = inside()
    spent.append((after[0] - before[0], after[1] - before[1]))
def drop():
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")
dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
timed(lambda s: os.close(os.open(s, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644, dir_fd=dfd)))
drop()
timed(lambda s: os.stat(s, dir_fd=dfd))
if len(os.listdir(d)) != n:
    sys.exit("listing shows %d files, expected %d" % (len(os.listdir(d)), n))
drop()
timed(lambda s: os.unlink(s, dir_fd=dfd))
os.close(dfd)
if os.listdir(d):
    sys.exit("%d files left after unlink" % len(os.listdir(d)))
os.rmdir(d)
print("%.0f %.0f %.0f" % tuple(n / w for w in walls))
if metrics:
    for what, (reqs, secs), wall in zip(("create", "stat", "unlink"), spent, walls):
        print("  %-6s %5.1f us per file in all, of which %5.1f us inside qsfs (%.1f FUSE requests per file)"
              % (what, wall / n * 1e6, secs / n * 1e6, reqs / n))
EOF
for t in "${targets[@]}"; do
  drop_caches
  url=; [ "$t" = qsfs ] && url=http://127.0.0.1:$metrics_port/metrics
  if ! out=$("$py" "$work/meta.py" "$(dir_of "$t")/meta" "$files" $url); then
    echo "metadata test on $t failed"; exit 1
  fi
  read -r c s u <<<"$(head -1 <<<"$out")"
  fig[create-$t]=$c fig[stat-$t]=$s fig[unlink-$t]=$u
  echo "metadata   $t: create $c, stat $s, unlink $u files/s"
  tail -n +2 <<<"$out"
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
met() {  # met FIGURE GOAL: yes/no
  awk -v a="$1" -v b="$2" 'BEGIN { print (a >= b ? "yes" : "no") }'
}
echo
echo "qsfs vs local disk ($mib MiB sequential, 4 KiB random for ${runtime} s on $rand_mib MiB, $files files; $(nproc) cores)"
printf '%-12s %-8s %12s %12s %11s  %-22s %s\n' test unit qsfs local qsfs/local goal met
row() {  # row TEST UNIT KEY GOAL-TEXT [GOAL-KIND GOAL-VALUE]
  local q=${fig[$3-qsfs]} l=${fig[$3-local]} r m="-"
  r=$(ratio "$q" "$l")
  case ${5:-} in
    abs) m=$(met "$q" "$6") ;;
    ratio) m=$(met "$r" "$6") ;;
  esac
  printf '%-12s %-8s %12s %12s %11s  %-22s %s\n' "$1" "$2" "$q" "$l" "$r" "$4" "$m"
}
row "seq write" MB/s seqwrite "qsfs >= $goal_seq MB/s" abs "$goal_seq"
row "seq read" MB/s seqread "qsfs >= $goal_seq MB/s" abs "$goal_seq"
row "  cached" MB/s warmread "qsfs >= $goal_seq MB/s" abs "$goal_seq"
row "rand read" IO/s randread "-"
row "rand write" IO/s randwrite "-"
row "create" files/s create ">= $goal_meta x local" ratio "$goal_meta"
row "stat" files/s stat ">= $goal_meta x local" ratio "$goal_meta"
row "unlink" files/s unlink ">= $goal_meta x local" ratio "$goal_meta"
echo "MB/s = 1e6 bytes/s; seq write includes the final fsync; reads start with the page cache dropped"
echo "(\"cached\": zdb's segment files, or local's file, in the page cache; qsfs's own pages of the file dropped)"
[ "$check" = ok ] || exit 1
