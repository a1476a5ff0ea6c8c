#!/usr/bin/env bash
# The real Prometheus (Debian's package) scrapes a small live stack - zdbs
# with --metrics, the zstor daemon's /metrics and a qsfs mount's (metrics=)
# - and its HTTP API must answer a query for a metric of each daemon. Uses config/prometheus.yml's job names.
#   tests/e2e/prometheus_test.sh BIN_DIR
set -euo pipefail
bin=${1:?usage: prometheus_test.sh BIN_DIR}
if ! command -v prometheus >/dev/null; then
  echo "prometheus not installed (scripts/install-deps.sh installs it)"; exit 1
fi
work=$(mktemp -d)
pids=()
cleanup() {
  if mountpoint -q "$work/mnt" 2>/dev/null; then fusermount3 -u "$work/mnt" || umount -l "$work/mnt" || true; fi
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# Ports from a per-run base so parallel runs do not collide.
base=$((20000 + (RANDOM % 400) * 10))
prom_port=$base zdb_metrics=$((base + 1)) zstor_metrics=$((base + 2)) qsfs_metrics=$((base + 3))

start_zdb() {  # name mode [extra args]
  local n=$1 mode=$2; shift 2
  "$bin/zdb" --data "$work/$n/data" --index "$work/$n/index" --socket "$work/$n.sock" --mode "$mode" "$@" \
    >"$work/$n.log" 2>&1 &
  pids+=($!)
}
for i in 0 1 2; do start_zdb "d$i" seq; done
for i in 0 1 2 3; do start_zdb "m$i" user; done
start_zdb d3 seq --metrics "127.0.0.1:$zdb_metrics"
for n in d0 d1 d2 d3 m0 m1 m2 m3; do
  for _ in $(seq 200); do [ -S "$work/$n.sock" ] && break; sleep 0.05; done
done

hexkey() { od -An -tx1 -N32 /dev/urandom | tr -d ' \n'; }
{
  printf 'minimal_shards = 2\nexpected_shards = 4\nsocket = "%s"\nprometheus_port = %d\n' "$work/zstor.sock" "$zstor_metrics"
  printf 'journal_dir = "%s"\n' "$work/journal"
  printf '[encryption]\nalgorithm = "AES"\nkey = "%s"\n' "$(hexkey)"
  printf '[meta]\ntype = "zdb"\n[meta.config]\nprefix = "e2e"\n'
  printf '[meta.config.encryption]\nalgorithm = "AES"\nkey = "%s"\n' "$(hexkey)"
  for i in 0 1 2 3; do printf '[[meta.config.backends]]\naddress = "unix:%s"\nnamespace = "default"\n' "$work/m$i.sock"; done
  printf '[[groups]]\n'
  for i in 0 1 2 3; do printf '[[groups.backends]]\naddress = "unix:%s"\nnamespace = "default"\n' "$work/d$i.sock"; done
} >"$work/zstor.toml"
chmod 600 "$work/zstor.toml"  # zstor refuses keys readable by every user
"$bin/zstor" -c "$work/zstor.toml" monitor >"$work/zstor.log" 2>&1 &
pids+=($!)
for _ in $(seq 200); do [ -S "$work/zstor.sock" ] && break; sleep 0.05; done
head -c 100000 /dev/urandom >"$work/obj"
"$bin/zstor" -c "$work/zstor.toml" store -f "$work/obj" -k /e2e/obj >/dev/null

# qsfs on a zdb of its own (namespaces choose their mode), with its own
# /metrics; some files through it.
"$bin/zdb" --data "$work/q/data" --index "$work/q/index" --socket "$work/q.sock" >"$work/q.log" 2>&1 &
pids+=($!)
for _ in $(seq 200); do [ -S "$work/q.sock" ] && break; sleep 0.05; done
mkdir -p "$work/mnt"
"$bin/qsfs" -o "unix=$work/q.sock,logfile=$work/qsfs.log,metrics=127.0.0.1:$qsfs_metrics" "$work/mnt"
for i in 1 2 3; do head -c 100000 /dev/urandom >"$work/mnt/f$i"; done
ls -l "$work/mnt" >/dev/null

sed -e "s/@ZDB@/127.0.0.1:$zdb_metrics/; s/@ZSTOR@/127.0.0.1:$zstor_metrics/; s/@QSFS@/127.0.0.1:$qsfs_metrics/" \
  >"$work/prometheus.yml" <<'YML'
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: zdb
    static_configs:
      - targets: ["@ZDB@"]
  - job_name: zstor
    static_configs:
      - targets: ["@ZSTOR@"]
  - job_name: qsfs
    static_configs:
      - targets: ["@QSFS@"]
YML
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
  --web.listen-address="127.0.0.1:$prom_port" >"$work/prometheus.log" 2>&1 &
pids+=($!)

# query METRIC_EXPR JOB: waits up to 60 s for a non-empty result; prints it.
query() {
  local out
  for _ in $(seq 120); do
    out=$(curl -sf --get "http://127.0.0.1:$prom_port/api/v1/query" --data-urlencode "query=$1{job=\"$2\"}" || true)
    if [ -n "$out" ] && ! grep -q '"result":\[\]' <<<"$out" && grep -q '"status":"success"' <<<"$out"; then
      echo "ok: $2: $1 -> $(grep -o '"value":\[[^]]*\]' <<<"$out" | head -1)"
      return 0
    fi
    sleep 0.5
  done
  echo "FAIL: prometheus has no $1 from job $2"; echo "$out"
  tail -20 "$work/prometheus.log"
  return 1
}
status=0
query zdb_connected_clients zdb || status=1
query connection_status zstor || status=1
query zstor_operations_total zstor || status=1
query qsfs_operations_total qsfs || status=1
query qsfs_bytes_total qsfs || status=1
exit $status
