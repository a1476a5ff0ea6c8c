#!/usr/bin/env bash
# zstor end to end against 24 real zdbs on this machine: 20 data backends
# (--mode seq, --fsync everysec) in 4 groups of 5 and 4 metadata backends
# (--mode user), all on Unix sockets; 16 MiB chunks, zstd level 1,
# AES-256-GCM, RS 16+4. For random data and for text-like data (written by
# zstor_codec_bench, so both measurements see the same bytes) it times
# `zstor store` and `zstor retrieve` (process start to exit, output checked
# with cmp), then runs zstor_codec_bench on the same size: the in-process
# codec throughput, the limit end to end can approach (encode for store;
# decode with every data fragment there for retrieve, as a healthy retrieve
# runs: authenticated by AES-GCM, fragments not hashed one by one; both
# with the plaintext hashing). Prints MB/s (1e6 B/s
# of plaintext), the ratios end-to-end/limit (limit on 1 thread: zstor runs
# the codec of one store or retrieve on one thread; on 2 threads: all cores
# of this machine) and the ratio against the 100 MB/s the original 0-stor
# cites. Figures only: exits non-zero only if a round trip fails or differs.
#   tests/bench/zstor_bench.sh [MIB]        (default 1024)
set -euo pipefail
cd "$(dirname "$0")/../.."
mib=${1:-1024}
bytes=$((mib * 1024 * 1024))
ref_mbs=100  # the original system's figure

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j2 --target zdb zstor zstor_codec_bench >/dev/null

work=$(mktemp -d)
pids=()
stop_zdbs() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}
cleanup() {
  stop_zdbs
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ndata=20 nmeta=4
sock() { echo "$work/zdb$1.sock"; }
for i in $(seq 0 $((ndata + nmeta - 1))); do
  mode=seq; [ "$i" -ge "$ndata" ] && mode=user
  build/bin/zdb --data "$work/zdb$i/data" --index "$work/zdb$i/index" --socket "$(sock "$i")" \
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

cfg=$work/zstor.toml
. tests/bench/zstor_config.sh
write_zstor_config "$cfg" "$work" "$ndata" "$nmeta"

build/bin/zstor_codec_bench --bytes "$bytes" --write-random "$work/random.in" --write-text "$work/text.in"

now() { date +%s.%N; }
mbs() { awk -v b="$bytes" -v t0="$1" -v t1="$2" 'BEGIN { printf "%.1f", b / 1e6 / (t1 - t0) }'; }

# The other limit: writing a new file of the same size into this file
# system, as retrieve does (and, 1.25x over, the zdbs during a store). On
# this kind of VM the guest's memory is backed on first touch, so a new
# file runs at a fraction of what the page cache does once warm.
t0=$(now)
dd if=/dev/zero of="$work/dd.out" bs=1M count="$mib" conv=fsync status=none
t1=$(now)
rm -f "$work/dd.out"
file_limit=$(mbs "$t0" "$t1")
echo "new-file write limit (dd bs=1M conv=fsync, $mib MiB): $file_limit MB/s"
# Where the CPU goes end to end: seconds (user + system) of the zstor
# process (bash's time) and of the 24 zdbs (/proc/PID/stat), against the
# wall time: cores busy = their sum / wall, out of $(nproc).
. tests/bench/cpu_ticks.sh
hz=$(getconf CLK_TCK)
zdb_ticks() { proc_ticks "${pids[@]}"; }
# run_timed KEY CMD...: runs CMD, records wall, zstor and zdb CPU under KEY.
declare -A e2e wall zcpu dcpu
run_timed() {
  local key=$1; shift
  local d0 t0 t1
  d0=$(zdb_ticks)
  t0=$(now)
  if ! { TIMEFORMAT='%U %S'; time "$@" >/dev/null 2>"$work/err"; } 2>"$work/time"; then
    cat "$work/err"; return 1
  fi
  t1=$(now)
  e2e[$key]=$(mbs "$t0" "$t1")
  wall[$key]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
  zcpu[$key]=$(awk '{ printf "%.2f", $1 + $2 }' "$work/time")
  dcpu[$key]=$(awk -v a="$d0" -v b="$(zdb_ticks)" -v hz="$hz" 'BEGIN { printf "%.2f", (b - a) / hz }')
}
status=0
for data in random text; do
  in=$work/$data.in out=$work/$data.out
  if ! run_timed "$data-store" build/bin/zstor -c "$cfg" store -f "$in"; then
    echo "$data: store failed"; status=1; e2e[$data-store]=0; e2e[$data-retrieve]=0; continue
  fi
  if ! run_timed "$data-retrieve" build/bin/zstor -c "$cfg" retrieve -f "$in" -o "$out"; then
    echo "$data: retrieve failed"; status=1; e2e[$data-retrieve]=0; continue
  fi
  rt=identical
  if ! cmp -s "$in" "$out"; then rt="DIFFERS from the stored file"; status=1; fi
  rm -f "$out"
  echo "$data: store ${e2e[$data-store]} MB/s, retrieve ${e2e[$data-retrieve]} MB/s ($mib MiB; retrieved file $rt)"
done
# The limit is measured on a quiet machine: backends stopped, files gone.
stop_zdbs
rm -f "$work"/*.in

echo
codec=$(build/bin/zstor_codec_bench --bytes "$bytes" --level 1)
echo "$codec"
# codec MB/s for data, op (encode|decode), threads
limit() { awk -v d="$1" -v o="$2" -v t="$3" '$1 == d && $2 == o && $3 == t { print $4 }' <<<"$codec"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

echo
echo "end to end ($mib MiB, 20 zdbs + 4 meta zdbs, Unix sockets) vs codec limit (store: encode; retrieve: decode)"
printf '%-7s %-9s %9s %11s %11s %8s %8s %8s %9s\n' data op "e2e MB/s" "limit 1T" "limit 2T" "e2e/1T" "e2e/2T" "e2e/file" "e2e/100"
for data in random text; do
  for op in store retrieve; do
    cop=encode; [ "$op" = retrieve ] && cop=decode
    e=${e2e[$data-$op]:-0} l1=$(limit "$data" "$cop" 1) l2=$(limit "$data" "$cop" 2)
    printf '%-7s %-9s %9s %11s %11s %8s %8s %8s %9s\n' "$data" "$op" "$e" "$l1" "$l2" \
      "$(ratio "$e" "$l1")" "$(ratio "$e" "$l2")" "$(ratio "$e" "$file_limit")" "$(ratio "$e" "$ref_mbs")"
  done
done
echo "e2e/file: against the new-file write limit; e2e/100: against the 100 MB/s the original 0-stor cites"
echo
echo "CPU end to end (seconds of user + system; cores busy = (zstor + zdbs) / wall, of $(nproc))"
printf '%-7s %-9s %7s %8s %8s %12s\n' data op wall zstor zdbs "cores busy"
for data in random text; do
  for op in store retrieve; do
    k=$data-$op
    [ -n "${wall[$k]:-}" ] || continue
    printf '%-7s %-9s %7s %8s %8s %12s\n' "$data" "$op" "${wall[$k]}" "${zcpu[$k]}" "${dcpu[$k]}" \
      "$(awk -v a="${zcpu[$k]}" -v b="${dcpu[$k]}" -v w="${wall[$k]}" 'BEGIN { printf "%.2f", (a + b) / w }')"
  done
done
exit $status
