#!/usr/bin/env bash
# The whole stack (scripts/stack.sh start: 20 data zdbs + spares, 4 meta
# zdbs, the zstor daemon, the staging zdb hooked to zstor, qsfs) under a
# temporary QSFS_STACK_DIR on ports from 12900, measured through the mount:
#   restore     a filesystem of about 1 GiB (one big file, many 256 KiB
#               files) is written, the mount and the staging zdb are
#               stopped, the uploads drain, the staging directory is thrown
#               away; then the staging zdb starts again (namespaces-init),
#               qsfs mounts and everything is read back and compared
#               (sha256): seconds and MB/s, from the start to the last byte
#   seq write   MIB in 1 MiB blocks (fio, fsync at the end; page cache
#               dropped first, as before the reads) while zstor
#               uploads the closed segments; then how long the uploads take
#               to catch up, and the end-to-end ingest rate
#   seq read    the same file, page cache dropped, every segment still in
#               the staging directory
#   cold read   the same file again, after max_zdb_data_dir_size was made
#               small (zstor restarted with it) and zstor evicted the
#               segments: reads go through missing-data, zstor restores
#               each segment from the backends
#   repair      kill -9 of one data backend; the zstor monitor rebuilds its
#               fragments onto the other backends (spares in the last
#               group); bytes of the objects repaired / seconds from the
#               kill until zstor_repair_backlog is back to 0 (and, without
#               the detection delay, from the first repair round); every
#               repaired object is then checked healthy (zstor check)
# fio writes incompressible data with crc32c headers and the reads verify
# every block. Prints figures and their ratio to the goals (mount write >=
# 500 MB/s with uploads running, repair >= 200 MB/s). Figures only: exits
# non-zero only if something fails to run or a data check fails (a read
# that does not verify, a restored file that differs, an object left
# unhealthy after the repair).
#   tests/bench/stack_bench.sh [MIB]             (default 2048)
# Environment (for short validation runs):
#   STACK_BENCH_RESTORE_MIB=M    size of the restore filesystem (default 1024)
#   STACK_BENCH_COLD_LIMIT=SIZE  max_zdb_data_dir_size for the cold read
#                                (default 256M, as scripts/stack.sh)
#   STACK_BENCH_SPARES=N         spare data zdbs (default 2)
#   STACK_BENCH_REPAIR_DELAY=S   [monitor] repair_delay (default 2)
#   STACK_BENCH_PORT=P           base port (default 12900; uses P..P+26, P+100, P+101)
#   STACK_BENCH_TMPDIR=DIR       where the stack directory goes (default build/)
#   STACK_BENCH_REPAIR_TIMEOUT=S give up waiting for full redundancy (default 1800)
#   STACK_BENCH_KEEP=1           keep the stack directory (logs) after the run
# Runs as root; uses the binaries already built in build/bin (no build).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
mib=${1:-2048}
restore_mib=${STACK_BENCH_RESTORE_MIB:-1024}
cold_limit=${STACK_BENCH_COLD_LIMIT:-256M}
spares=${STACK_BENCH_SPARES:-2}
tmpbase=${STACK_BENCH_TMPDIR:-$root/build}
base=${STACK_BENCH_PORT:-12900}
bin=$root/build/bin
py=/usr/bin/python3; [ -x "$py" ] || py=$(command -v python3)
goal_write=500   # MB/s through the mount, uploads running
goal_repair=200  # MB/s of objects repaired

for b in zdb zstor zstor-hook qsfs; do
  [ -x "$bin/$b" ] || { echo "$bin/$b is missing: build first (scripts/stack.sh up builds)"; exit 1; }
done
for t in fio fusermount3 redis-cli curl; do
  command -v "$t" >/dev/null || { echo "$t is not installed"; exit 1; }
done
[ -n "$py" ] || { echo "python3 is not installed"; exit 1; }
[ "$(id -u)" = 0 ] || { echo "run as root (drop_caches, FUSE)"; exit 1; }
for p in $(seq "$base" $((base + 24 + spares))) $((base + 100)) $((base + 101)); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
    echo "port $p is in use: choose another STACK_BENCH_PORT"; exit 1
  fi
done

mkdir -p "$tmpbase"
state=$(mktemp -d "$tmpbase/stack-bench.XXXXXX")
export QSFS_STACK_DIR=$state STACK_BASE_PORT=$base STACK_SPARES=$spares
# No eviction until the cold read; a dead backend is repaired within seconds.
export STACK_MAX_STAGING=${STACK_BENCH_MAX_STAGING:-0} STACK_HEALTH_INTERVAL=1 STACK_REPAIR_INTERVAL=1
export STACK_REPAIR_DELAY=${STACK_BENCH_REPAIR_DELAY:-2}
mnt=$state/mnt
work=$state/bench
mkdir -p "$work"
cleanup() {
  scripts/stack.sh down >/dev/null 2>&1 || true
  if mountpoint -q "$mnt"; then fusermount3 -uz "$mnt" 2>/dev/null || true; fi
  if [ -n "${STACK_BENCH_KEEP:-}" ]; then echo "kept (stopped): $state"; else rm -rf "$state"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

stack_start() {
  if ! scripts/stack.sh start >>"$work/stack.out" 2>&1; then
    echo "scripts/stack.sh start failed:"; tail -20 "$work/stack.out"; exit 1
  fi
}
zs() { "$bin/zstor" -c "$state/zstor.toml" "$@"; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
# CPU ticks of the processes in the given pid files (waited-for children
# included: the staging zdb's zstor-hook runs).
. "$root/tests/bench/cpu_ticks.sh"
ticks_of() {
  local f pids=()
  for f in "$@"; do [ -f "$f" ] && pids+=("$(cat "$f")"); done
  proc_ticks "${pids[@]}"
}
# One line: busy ticks of all CPUs (/proc/stat, all but idle and iowait),
# then qsfs, the staging zdb (+ hooks), zstor, the backends (data, spare, meta).
cpu_snapshot() {
  echo "$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat) $(ticks_of "$state/qsfs.pid")" \
    "$(ticks_of "$state/staging.pid") $(ticks_of "$state/zstor.pid")" \
    "$(ticks_of "$state"/data*.pid "$state"/spare*.pid "$state"/meta*.pid)"
}
# cpu_report BEFORE AFTER WALL_SECONDS: where the CPU went meanwhile.
cpu_report() {
  awk -v hz="$(getconf CLK_TCK)" -v w="$3" -v n="$(nproc)" -v a="$1" -v b="$2" 'BEGIN {
    split(a, x, " "); split(b, y, " ")
    for (i = 1; i <= 5; i++) d[i] = (y[i] - x[i]) / hz
    rest = d[1] - d[2] - d[3] - d[4] - d[5]
    printf "  CPU s: all %.1f (%.2f of %d cores busy); qsfs %.1f, staging zdb + hooks %.1f, zstor %.1f, backends %.1f, rest (fio, kernel) %.1f\n",
      d[1], d[1] / w, n, d[2], d[3], d[4], d[5], rest
  }'
}
mbs() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.1f", (b > a ? n / 1e6 / (b - a) : 0) }'; }
drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }
# metric NAME: a value of zstor's /metrics (NAME with its labels), 0 if absent.
metric() {
  curl -s "http://127.0.0.1:$((base + 100))/metrics" | awk -v m="$1" '$1 == m { v = $2 } END { print (v == "" ? 0 : v) }'
}
# staging FIELD: a field of the "staging" object of `zstor --json status`.
staging() {
  zs --json status 2>/dev/null | "$py" -c '
import json, sys
s = json.load(sys.stdin).get("staging") or {}
print(s.get(sys.argv[1], ""))' "$1" 2>/dev/null || true
}
wait_uploads() {  # wait_uploads TIMEOUT-SECONDS
  for _ in $(seq $(($1 * 4))); do [ "$(staging jobs)" = 0 ] && return 0; sleep 0.25; done
  echo "uploads did not finish in $1 s:"; zs status | grep -E '^staging' || true
  return 1
}
stop_pidfile() {  # stop_pidfile FILE: SIGTERM and wait until it is gone
  local pid
  [ -f "$1" ] || return 0
  pid=$(cat "$1")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  ! kill -0 "$pid" 2>/dev/null || { echo "process $pid ($1) did not stop"; exit 1; }
  rm -f "$1"
}
unmount() {
  local pid=""
  [ -f "$state/qsfs.pid" ] && pid=$(cat "$state/qsfs.pid")
  fusermount3 -u "$mnt"
  if [ -n "$pid" ]; then for _ in $(seq 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done; fi
  rm -f "$state/qsfs.pid"
}
# fio_run TAG ARGS...: one fio job in the mount; prints MB/s; a block that
# fails its crc32c check fails the job (and this script).
fio_run() {
  local tag=$1
  shift
  if ! fio --name="$tag" --directory="$mnt" --ioengine=psync --direct=0 --numjobs=1 --randseed=42 \
    --refill_buffers=1 --scramble_buffers=0 --verify=crc32c --verify_fatal=1 --verify_state_save=0 "$@" \
    --output-format=json --output="$work/$tag.json" >"$work/$tag.out" 2>&1; then
    {
      echo "fio $tag failed (a read that does not verify is a data error):"
      cat "$work/$tag.out" "$work/$tag.json" 2>/dev/null | grep -v '^\s*$' | tail -20
    } >&2
    exit 1
  fi
  "$py" - "$work/$tag.json" <<'EOF'
import json, sys
job = json.load(open(sys.argv[1]))["jobs"][0]
d = job["write"] if job["write"]["io_bytes"] else job["read"]
print("%.1f" % (d["bw_bytes"] / 1e6))
EOF
}

# The restore tree and its check, in one python3 process each (sha256 of
# every file; the big file takes 3/4 of the size, 256 KiB files the rest).
cat >"$work/tree.py" <<'EOF'
import hashlib, os, sys
cmd, top, sums = sys.argv[1], sys.argv[2], sys.argv[3]
def chunks(path):
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                return
            yield b
if cmd == "write":
    mib = int(sys.argv[4])
    big, small = mib * 3 // 4, mib - mib * 3 // 4
    files = [("big.bin", big << 20)] + [("d%03d/f%05d" % (i // 100, i), 256 << 10) for i in range(small * 4)]
    out = []
    for name, size in files:
        path = os.path.join(top, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        h = hashlib.sha256()
        with open(path, "wb") as f:
            left = size
            while left:
                b = os.urandom(min(left, 1 << 20))
                h.update(b)
                f.write(b)
                left -= len(b)
            f.flush()
            os.fsync(f.fileno())
        out.append("%s  %s\n" % (h.hexdigest(), name))
    with open(sums, "w") as f:
        f.writelines(sorted(out))
    print(sum(s for _, s in files))
else:
    bad = 0
    for line in open(sums):
        want, name = line.rstrip("\n").split("  ", 1)
        h = hashlib.sha256()
        try:
            for b in chunks(os.path.join(top, name)):
                h.update(b)
        except OSError as e:
            print("%s: %s" % (name, e)); bad += 1; continue
        if h.hexdigest() != want:
            print("%s: DIFFERS" % name); bad += 1
    found = sum(len(fs) for _, _, fs in os.walk(top))
    if found != sum(1 for _ in open(sums)):
        print("%d files found, %d expected" % (found, sum(1 for _ in open(sums)))); bad += 1
    sys.exit(1 if bad else 0)
EOF

status=0
echo "stack bench: $mib MiB sequential, $restore_mib MiB restore, cold read with max_zdb_data_dir_size $cold_limit;"
echo "stack in $state, ports $base-$((base + 24 + spares)) (+100, +101), $spares spare data zdbs, repair_delay $STACK_REPAIR_DELAY s"
stack_start

# --- restore --------------------------------------------------------------
echo "== restore: writing a $restore_mib MiB filesystem"
t0=$(now)
restore_bytes=$("$py" "$work/tree.py" write "$mnt/tree" "$work/tree.sha256" "$restore_mib")
t1=$(now)
tree_files=$(wc -l <"$work/tree.sha256")
echo "written: $tree_files files, $restore_bytes bytes in $(secs "$t0" "$t1") s ($(mbs "$restore_bytes" "$t0" "$t1") MB/s, fsync per file)"
unmount
stop_pidfile "$state/staging.pid"   # namespace-closing: its head segments are queued
wait_uploads 600 || exit 1
echo "uploaded; throwing the staging directory away"
rm -rf "$state/staging"
drop_caches
rs0=$(metric 'zstor_staging_restores_total{result="ok"}')
t0=$(now)
stack_start   # staging zdb: namespaces-init; qsfs mounts
t1=$(now)
if ! "$py" "$work/tree.py" check "$mnt/tree" "$work/tree.sha256"; then
  echo "restore: the restored filesystem DIFFERS"; exit 1
fi
t2=$(now)
r_init=$(secs "$t0" "$t1") r_read=$(secs "$t1" "$t2") r_total=$(secs "$t0" "$t2") r_mbs=$(mbs "$restore_bytes" "$t0" "$t2")
rs1=$(metric 'zstor_staging_restores_total{result="ok"}')
echo "restore: staging zdb back (namespaces-init) and mounted in $r_init s, read back and sha256-identical in $r_read s"
echo "         ($(awk -v a="$rs0" -v b="$rs1" 'BEGIN { printf "%.0f", b - a }') older segments restored on demand): $r_total s, $r_mbs MB/s"

# --- sequential write, uploads running ---------------------------------------
# The write starts, like the reads, from a dropped page cache: on this VM a
# write through the stack runs about 3x slower once the page cache fills
# the memory (every byte lands about four times: the mount's page cache,
# the staging zdb, 1.25x over the backends), and the restore above left it
# full. The probe shows what a plain new file costs the machine right then.
drop_caches
probe=$state/first-touch.probe
pc1=$(dd if=/dev/zero of="$probe" bs=1M count=1024 2>&1 | awk '/copied/ { print $(NF-1), $NF }')
rm -f "$probe"
echo "page cache, 1 GiB new file (dd, no fsync): $pc1"
echo "== sequential write of $mib MiB"
up0=$(metric zstor_staging_uploaded_bytes_total)
c0=$(cpu_snapshot)
t0=$(now)
w_mbs=$(fio_run seqwrite --filename=seq.bin --rw=write --bs=1M --size="${mib}M" --end_fsync=1 --do_verify=0)
t1=$(now)
c1=$(cpu_snapshot)
wait_uploads 1200 || exit 1
t2=$(now)
c2=$(cpu_snapshot)
up1=$(metric zstor_staging_uploaded_bytes_total)
uploaded=$(awk -v a="$up0" -v b="$up1" 'BEGIN { printf "%.0f", b - a }')
u_mbs=$(mbs "$uploaded" "$t0" "$t2") u_lag=$(secs "$t1" "$t2")
echo "seq write: $w_mbs MB/s; uploads caught up $u_lag s after it ($uploaded bytes uploaded, $u_mbs MB/s from the start of the write)"
echo "during the write ($(secs "$t0" "$t1") s):"
cpu_report "$c0" "$c1" "$(secs "$t0" "$t1")"
echo "until the uploads caught up ($(secs "$t1" "$t2") s more):"
cpu_report "$c1" "$c2" "$(awk -v a="$t1" -v b="$t2" 'BEGIN { printf "%.3f", (b - a > 0.001 ? b - a : 0.001) }')"

# --- sequential read, all in the staging directory ----------------------------------
drop_caches
r_seq=$(fio_run seqread --filename=seq.bin --rw=read --bs=1M --size="${mib}M")
echo "seq read: $r_seq MB/s (verified)"

# --- cold read: segments evicted, restored on read ----------------------------------
echo "== cold read: max_zdb_data_dir_size $cold_limit, zstor restarted"
sed -i "s/^max_zdb_data_dir_size = .*/max_zdb_data_dir_size = \"$cold_limit\"/" "$state/zstor.toml"
stop_pidfile "$state/zstor.pid"
stack_start
limit=$(staging max_data_dir_bytes)
for _ in $(seq 240); do
  d=$(staging data_dir_bytes)
  [ -n "$d" ] && [ -n "$limit" ] && [ "$d" -le "$limit" ] && break
  sleep 0.5
done
evicted=$(metric zstor_staging_evicted_bytes_total)
echo "staging data dir $(staging data_dir_bytes) bytes (limit $limit); $evicted bytes evicted"
d=$(staging data_dir_bytes)
[ -n "$d" ] && [ -n "$limit" ] && [ "$d" -le "$limit" ] || echo "note: eviction did not reach the limit"
rs0=$(metric 'zstor_staging_restores_total{result="ok"}') rf0=$(metric 'zstor_staging_restores_total{result="error"}')
drop_caches
c_mbs=$(fio_run coldread --filename=seq.bin --rw=read --bs=1M --size="${mib}M")
rs1=$(metric 'zstor_staging_restores_total{result="ok"}') rf1=$(metric 'zstor_staging_restores_total{result="error"}')
restores=$(awk -v a="$rs0" -v b="$rs1" 'BEGIN { printf "%.0f", b - a }')
rfail=$(awk -v a="$rf0" -v b="$rf1" 'BEGIN { printf "%.0f", b - a }')
echo "cold read: $c_mbs MB/s (verified); $restores segments restored from the backends, $rfail restores failed"

# --- repair --------------------------------------------------------------
echo "== repair: kill -9 of data backend 1 (:$((base + 1)))"
zs --json list >"$work/objects.json"
fr0=$(metric zstor_fragments_repaired_total)
log_lines=$(wc -l <"$state/zstor.log")
victim=$(cat "$state/data1.pid")
t_kill=$(now)
kill -9 "$victim"
t_detect="" t_done=""
deadline=$(($(date +%s) + ${STACK_BENCH_REPAIR_TIMEOUT:-1800}))
while [ "$(date +%s)" -lt "$deadline" ]; do
  bl=$(metric zstor_repair_backlog) fr=$(metric zstor_fragments_repaired_total)
  moved=$(awk -v a="$fr0" -v b="$fr" 'BEGIN { print (b > a ? 1 : 0) }')
  if [ -z "$t_detect" ] && { [ "$moved" = 1 ] || awk -v b="$bl" 'BEGIN { exit !(b > 0) }'; }; then t_detect=$(now); fi
  if [ "$moved" = 1 ] && awk -v b="$bl" 'BEGIN { exit !(b == 0) }'; then t_done=$(now); break; fi
  sleep 0.25
done
sleep 1.5  # the daemon flushes its log every second
tail -n +"$((log_lines + 1))" "$state/zstor.log" >"$work/repair.log"
grep -E '\] repair: [0-9]+ fragments of .* rebuilt$' "$work/repair.log" \
  | sed -E 's/.*\] repair: ([0-9]+) fragments of (.*) rebuilt$/\1 \2/' >"$work/repaired.txt" || true
failed_repairs=$(grep -c 'repair of .* failed' "$work/repair.log" || true)
read -r rep_objs rep_frags rep_bytes < <("$py" - "$work/objects.json" "$work/repaired.txt" <<'EOF'
import json, sys
size = {o["key"]: o["size"] for o in json.load(open(sys.argv[1]))}
objs, frags, total = set(), 0, 0
for line in open(sys.argv[2]):
    n, key = line.rstrip("\n").split(" ", 1)
    frags += int(n)
    if key not in objs:
        objs.add(key)
        total += size.get(key, 0)
print(len(objs), frags, total)
EOF
)
if [ -z "$t_done" ]; then
  echo "repair: NOT back to full redundancy within the timeout ($rep_objs objects repaired, $failed_repairs failed repairs)"
  status=1
  rp_secs=- rp_mbs=0 rp_active=- rp_active_mbs=0
else
  rp_secs=$(secs "$t_kill" "$t_done") rp_mbs=$(mbs "$rep_bytes" "$t_kill" "$t_done")
  rp_active=$(secs "$t_detect" "$t_done") rp_active_mbs=$(mbs "$rep_bytes" "$t_detect" "$t_done")
  echo "repair: $rep_objs objects ($rep_bytes bytes, $rep_frags fragments) back to full redundancy $rp_secs s after the kill"
  echo "        ($rp_active s from the first repair round; $failed_repairs failed repair attempts logged)"
fi
# Every repaired object must now count all its fragments healthy.
unhealthy=0
while read -r _ key; do
  st=$(zs --json check -k "$key" -f x | "$py" -c 'import json, sys; print(json.load(sys.stdin).get("state", "?"))' || true)
  if [ "$st" != healthy ]; then echo "check: $key is ${st:-unknown}"; unhealthy=$((unhealthy + 1)); fi
done < <(sort -u -k2 "$work/repaired.txt")
echo "check: $((rep_objs - unhealthy)) of $rep_objs repaired objects healthy (zstor check)"
[ "$unhealthy" = 0 ] || status=1

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
met() { awk -v a="$1" -v b="$2" 'BEGIN { print (a >= b ? "yes" : "no") }'; }
echo
echo "full stack through the mount ($mib MiB; 20+$spares data zdbs, 4 meta zdbs, RS 16+4, $(nproc) cores)"
printf '%-34s %10s %-6s %-10s %8s %s\n' test figure unit goal "/goal" met
printf '%-34s %10s %-6s %-10s %8s %s\n' "seq write, uploads running" "$w_mbs" MB/s ">= $goal_write" "$(ratio "$w_mbs" "$goal_write")" "$(met "$w_mbs" "$goal_write")"
printf '%-34s %10s %-6s %-10s %8s %s\n' "  ingest until uploads caught up" "$u_mbs" MB/s - - -
printf '%-34s %10s %-6s %-10s %8s %s\n' "seq read, in staging" "$r_seq" MB/s - - -
printf '%-34s %10s %-6s %-10s %8s %s\n' "cold read, $restores segments restored" "$c_mbs" MB/s - - -
printf '%-34s %10s %-6s %-10s %8s %s\n' "restore ${restore_mib} MiB fs, fresh staging" "$r_total" s - - -
printf '%-34s %10s %-6s %-10s %8s %s\n' "  same, as a rate" "$r_mbs" MB/s - - -
printf '%-34s %10s %-6s %-10s %8s %s\n' "repair, kill to full redundancy" "$rp_mbs" MB/s ">= $goal_repair" "$(ratio "$rp_mbs" "$goal_repair")" "$(met "$rp_mbs" "$goal_repair")"
printf '%-34s %10s %-6s %-10s %8s %s\n' "  from the first repair round" "$rp_active_mbs" MB/s ">= $goal_repair" "$(ratio "$rp_active_mbs" "$goal_repair")" "$(met "$rp_active_mbs" "$goal_repair")"
echo "MB/s = 1e6 bytes/s; repair: $rep_bytes bytes of objects in $rp_secs s (kill, detection, repair_delay $STACK_REPAIR_DELAY s, repair)"
exit $status
