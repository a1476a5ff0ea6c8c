#!/usr/bin/env bash
# qsfs's resident memory against the number of files (issue: "10 million
# files in one filesystem with resident memory under the cache size plus a
# small constant"). Starts its own zdb (Unix socket, --fsync everysec) and
# mounts build/bin/qsfs with its default caches (inode_cache 65 536 inodes,
# dir_cache 4 096 buckets, dirty_cache 64 MiB), then creates FILES empty
# files in directories of 100 000 (two creator processes, each on its own
# directories), and every 10 % of the way prints files, rate, qsfs's
# resident memory (VmRSS) and the inodes it holds (cached and parked, from
# its /metrics). At the end it stats a sample of the files (all must be
# there), unmounts, remounts and stats the sample again, then prints the
# growth of qsfs's RSS over the second half of the files: bounded memory
# means it stays near zero while the files keep coming. zdb's anonymous
# resident memory is printed too (its in-memory index holds every key,
# docs/zdb-format.md; its VmRSS also counts the segment files it maps,
# which are page cache).
# Figures only: exits non-zero only if something fails to run or a file is
# missing.
#   tests/bench/qsfs_memory_bench.sh [FILES]     (default 10000000)
# Runs as root (FUSE mount); uses the binaries already built in build/bin.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
files=${1:-10000000}
bin=$root/build/bin
py=/usr/bin/python3; [ -x "$py" ] || py=$(command -v python3)
per_dir=100000

for b in zdb qsfs; do
  [ -x "$bin/$b" ] || { echo "$bin/$b is missing: build first (cmake --build build --target zdb qsfs)"; exit 1; }
done
command -v redis-cli >/dev/null || { echo "redis-cli is not installed"; exit 1; }
[ -n "$py" ] || { echo "python3 is not installed"; exit 1; }
[ "$(id -u)" = 0 ] || { echo "run as root (FUSE)"; exit 1; }
[ "$files" -ge 1000 ] || { echo "FILES must be at least 1000"; exit 1; }

work=$(mktemp -d "$root/build/qsfs-memory.XXXXXX")
mnt=$work/mnt
sock=$work/zdb.sock
mkdir -p "$mnt"
zpid=""
cleanup() {
  if mountpoint -q "$mnt"; then fusermount3 -u "$mnt" 2>/dev/null || fusermount3 -uz "$mnt" 2>/dev/null || true; fi
  for _ in $(seq 300); do pgrep -f "qsfs -o unix=$sock" >/dev/null || break; sleep 0.1; done
  if [ -n "$zpid" ]; then kill "$zpid" 2>/dev/null || true; wait "$zpid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$bin/zdb" --data "$work/zdb/data" --index "$work/zdb/index" --socket "$sock" --fsync everysec \
  --logfile "$work/zdb.log" </dev/null >"$work/zdb.out" 2>&1 &
zpid=$!
for _ in $(seq 200); do [ "$(redis-cli -s "$sock" PING 2>/dev/null)" = PONG ] && break; sleep 0.05; done
[ "$(redis-cli -s "$sock" PING 2>/dev/null)" = PONG ] || { echo "zdb did not start:"; cat "$work/zdb.out"; exit 1; }
metrics_port=$((19300 + $$ % 300))
mount_qsfs() {
  "$bin/qsfs" -o "unix=$sock,logfile=$work/qsfs.log,metrics=127.0.0.1:$metrics_port" "$mnt" ||
    { echo "qsfs did not mount:"; cat "$work/qsfs.log"; exit 1; }
  qpid=$(pgrep -f "qsfs -o unix=$sock" | head -1)
  [ -n "$qpid" ] || { echo "qsfs is not running"; exit 1; }
}
mount_qsfs

echo "qsfs memory bench: $files empty files in directories of $per_dir, 2 creators; default caches"
"$py" - "$mnt" "$files" "$per_dir" "$qpid" "$zpid" "$metrics_port" <<'EOF'
import os, sys, time, urllib.request
from multiprocessing import Process

mnt, files, per_dir, qpid, zpid, port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6]
dirs = (files + per_dir - 1) // per_dir

def rss_mib(pid, field="VmRSS:"):
    with open("/proc/%s/status" % pid) as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) / 1024.0
    return 0.0

def metric(name):
    try:
        body = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % port, timeout=5).read().decode()
    except OSError:
        return -1
    for line in body.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return int(float(line.split()[-1]))
    return -1

def count(d):
    return min(per_dir, files - d * per_dir)

def creator(first):
    # Directories first, first + 2, ...: the two creators never share one.
    for d in range(first, dirs, 2):
        path = "%s/d%04d" % (mnt, d)
        os.mkdir(path)
        for i in range(count(d)):
            os.close(os.open("%s/f%07d" % (path, i), os.O_CREAT | os.O_WRONLY, 0o644))

procs = [Process(target=creator, args=(c,)) for c in (0, 1)]
t0 = time.time()
for p in procs:
    p.start()

# Files created so far: the creates qsfs has answered (its /metrics).
def creates():
    try:
        body = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % port, timeout=5).read().decode()
    except OSError:
        return -1
    for line in body.splitlines():
        if line.startswith("qsfs_operations_total{") and 'op="create"' in line:
            return int(float(line.split()[-1]))
    return -1

print("%10s %8s %10s %9s %9s %9s %12s" % ("files", "seconds", "files/s", "qsfs MiB", "cached", "parked", "zdb anon MiB"))
samples = []
step = max(1, files // 10)
next_mark = step
last = (t0, 0)
while any(p.is_alive() for p in procs):
    time.sleep(0.5)
    n = creates()
    if n >= next_mark:
        now = time.time()
        rate = (n - last[1]) / max(1e-9, now - last[0])
        last = (now, n)
        r = rss_mib(qpid)
        samples.append((n, r))
        print("%10d %8.0f %10.0f %9.1f %9d %9d %12.1f" % (n, now - t0, rate, r, metric("qsfs_cached_inodes"),
                                                         metric("qsfs_parked_inodes"), rss_mib(zpid, "RssAnon:")),
              flush=True)
        while next_mark <= n:
            next_mark += step
for p in procs:
    p.join()
    if p.exitcode != 0:
        sys.exit("a creator failed (exit %d)" % p.exitcode)
elapsed = time.time() - t0
n = creates()
r = rss_mib(qpid)
samples.append((n, r))
print("%10d %8.0f %10.0f %9.1f %9d %9d %12.1f  (end)" % (n, elapsed, n / elapsed, r, metric("qsfs_cached_inodes"),
                                                        metric("qsfs_parked_inodes"), rss_mib(zpid, "RssAnon:")),
      flush=True)
# Growth over the second half: RSS at the end minus RSS at the sample
# nearest half the files, per million files.
half = min(samples, key=lambda s: abs(s[0] - files / 2))
growth = (samples[-1][1] - half[1]) / max(1, samples[-1][0] - half[0]) * 1e6
print("qsfs RSS: %.1f MiB after %d files; growth over the second half %.2f MiB per million files" %
      (samples[-1][1], samples[-1][0], growth))
EOF

# A sample of the files, before and after a remount.
check_sample() {
  "$py" - "$mnt" "$files" "$per_dir" <<'EOF'
import os, random, sys
mnt, files, per_dir = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(7)
picks = [rng.randrange(files) for _ in range(2000)] + [0, files - 1]
for k in picks:
    os.stat("%s/d%04d/f%07d" % (mnt, k // per_dir, k % per_dir))
print("sample of %d files present" % len(picks))
EOF
}
check_sample
fusermount3 -u "$mnt"
for _ in $(seq 600); do pgrep -f "qsfs -o unix=$sock" >/dev/null || break; sleep 0.1; done
t0=$(date +%s.%N)
mount_qsfs
echo "remounted in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
check_sample
echo "qsfs RSS after the remount and the sample: $(awk '/VmRSS/ { printf "%.1f MiB", $2 / 1024 }' /proc/"$qpid"/status)"
