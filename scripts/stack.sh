#!/usr/bin/env bash
# The whole stack on one machine, under one directory (.stack/ by default),
# on loopback:
#   20 data zdbs (:9901-9920, four groups of five), 4 meta zdbs (:9921-9924),
#   the staging zdb (:9900 and .stack/staging.sock) whose hook is zstor-hook,
#   the zstor daemon with a freshly generated key (socket, /metrics on :10000),
#   and qsfs mounted on .stack/mnt, writing into the staging zdb.
#
#   scripts/stack.sh up      install what is missing, build, start, show it working
#   scripts/stack.sh start   start whatever is not running and mount (no build, no demo)
#   scripts/stack.sh status  every process, its health, the mount, the uploads
#   scripts/stack.sh down    unmount and stop everything (data kept)
#
# `up` writes files into the mount, closes the staging segments so zstor
# uploads them (zstd -> AES-256-GCM -> RS 16+4 over the 20 data zdbs), shows
# them dispersed, kills 4 data backends, then throws the staging directory
# away and brings the filesystem back from the surviving 16 backends alone
# (namespaces-init), checking every file byte for byte.
#
# Environment (defaults in brackets):
#   QSFS_STACK_DIR        state directory [.stack]
#   STACK_BASE_PORT       staging zdb port; the others follow from it [9900]
#   STACK_SPARES          extra data zdbs in the last group (:base+25 on), so
#                         repairs have somewhere to go [0]
# and, read only when zstor.toml is generated (a fresh state directory):
#   STACK_MAX_STAGING     max_zdb_data_dir_size [256M]
#   STACK_HEALTH_INTERVAL [monitor] health_interval, seconds [2]
#   STACK_REPAIR_INTERVAL [monitor] repair_interval, seconds [10]
#   STACK_REPAIR_DELAY    [monitor] repair_delay, seconds [30]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
state=${QSFS_STACK_DIR:-$root/.stack}
base=${STACK_BASE_PORT:-9900}
spares=${STACK_SPARES:-0}
case $spares in ''|*[!0-9]*) echo "STACK_SPARES must be a number (0..75)" >&2; exit 2 ;; esac
[ "$spares" -le 75 ] || { echo "STACK_SPARES must be at most 75" >&2; exit 2; }
bin=$root/build/bin
mnt=$state/mnt
staging=$state/staging

build() {
  bash scripts/install-deps.sh
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build build -j"$(nproc)" --target zdb zstor qsfs 2>&1 | grep -E 'error' || true
  test -x "$bin/zdb" && test -x "$bin/zstor" && test -x "$bin/qsfs"
}

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

start_zdb() {  # start_zdb NAME PORT MODE
  local name=$1 port=$2 mode=$3 dir=$state/$1
  alive "$dir.pid" && return 0
  mkdir -p "$dir"
  # Backends stand in for remote storage nodes: they yield the CPU to the
  # mount, and like config/zdb.toml keep no fragments in the page cache.
  nice -n 10 "$bin/zdb" --data "$dir/data" --index "$dir/index" --listen 127.0.0.1 --port "$port" --mode "$mode" \
    --evict-synced --logfile "$dir.log" </dev/null >>"$dir.out" 2>&1 &
  echo $! >"$dir.pid"
  disown
}

# The staging zdb: each namespace chooses its mode (qsfs-meta user,
# qsfs-data sequential); segments close at 32 MiB or after 60 s; every event
# goes to zstor-hook, which finds zstor through ZSTOR_CONFIG.
start_staging() {
  alive "$state/staging.pid" && return 0
  mkdir -p "$staging"
  ZSTOR_CONFIG=$state/zstor.toml "$bin/zdb" --data "$staging/data" --index "$staging/index" \
    --listen 127.0.0.1 --port "$base" --socket "$state/staging.sock" --dualnet \
    --datasize 32M --rotate 60 --hook "$bin/zstor-hook" --metrics "127.0.0.1:$((base + 101))" \
    --logfile "$state/staging.log" </dev/null >>"$state/staging.out" 2>&1 &
  echo $! >"$state/staging.pid"
  disown
  # namespaces-init (a restore from the backends) runs before it listens
  wait_port "$base" 600 || { echo "the staging zdb did not start (see $state/staging.log)"; exit 1; }
}

start_zstor() {
  alive "$state/zstor.pid" && return 0
  # Background work (uploads, repair, scrub): the mount comes first, as
  # systemd/zstor.service does with Nice=10.
  nice -n 10 "$bin/zstor" -c "$state/zstor.toml" monitor </dev/null >>"$state/zstor.log" 2>&1 &
  echo $! >"$state/zstor.pid"
  disown
  for _ in $(seq 200); do [ -S "$state/zstor.sock" ] && return 0; sleep 0.05; done
  echo "zstor did not start (see $state/zstor.log)"; exit 1
}

mount_qsfs() {
  mkdir -p "$mnt"
  mountpoint -q "$mnt" && return 0
  "$bin/qsfs" -o "unix=$state/staging.sock,logfile=$state/qsfs.log,metrics=127.0.0.1:$((base + 102))" "$mnt"
  pgrep -n -f "qsfs -o unix=$state/staging.sock" >"$state/qsfs.pid"
}

unmount_qsfs() {
  mountpoint -q "$mnt" || return 0
  local pid=""
  [ -f "$state/qsfs.pid" ] && pid=$(cat "$state/qsfs.pid")
  fusermount3 -u "$mnt" || umount "$mnt"
  if [ -n "$pid" ]; then for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done; fi
  rm -f "$state/qsfs.pid"
}

stop_pid() {  # stop_pid PIDFILE: SIGTERM, then wait up to 30 s
  alive "$1" || { rm -f "$1"; return 0; }
  kill -TERM "$(cat "$1")"
  for _ in $(seq 300); do alive "$1" || break; sleep 0.1; done
  rm -f "$1"
}

wait_port() {  # wait_port PORT [SECONDS=10]
  for _ in $(seq $((${2:-10} * 20))); do redis-cli -p "$1" PING >/dev/null 2>&1 && return 0; sleep 0.05; done
  return 1
}

write_config() {
  [ -f "$state/zstor.toml" ] && return 0
  local key meta_key
  key=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
  meta_key=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
  {
    echo "# Generated by scripts/stack.sh: a fresh key for this local stack."
    echo "minimal_shards = 16"
    echo "expected_shards = 20"
    echo "redundant_groups = 0"
    echo "socket = \"$state/zstor.sock\""
    echo "prometheus_port = $((base + 100))"
    echo "chunk_size = \"16M\""
    echo "# The staging zdb (qsfs writes there; its closed segments are uploaded here)."
    echo "zdb_data_dir_path = \"$staging/data\""
    echo "zdb_index_dir_path = \"$staging/index\""
    echo "queue_dir = \"$state/queue\""
    echo "journal_dir = \"$state/journal\""
    echo "max_zdb_data_dir_size = \"${STACK_MAX_STAGING:-256M}\""
    echo "[encryption]"; echo "algorithm = \"AES\""; echo "key = \"$key\""
    echo "[compression]"; echo "algorithm = \"zstd\""; echo "level = 1"
    echo "[meta]"; echo "type = \"zdb\""
    echo "[meta.config]"; echo "prefix = \"stack\""
    echo "[meta.config.encryption]"; echo "algorithm = \"AES\""; echo "key = \"$meta_key\""
    for i in 21 22 23 24; do
      echo "[[meta.config.backends]]"; echo "address = \"127.0.0.1:$((base + i))\""; echo "namespace = \"default\""
    done
    echo "[monitor]"; echo "health_interval = ${STACK_HEALTH_INTERVAL:-2}"
    echo "repair_interval = ${STACK_REPAIR_INTERVAL:-10}"; echo "repair_delay = ${STACK_REPAIR_DELAY:-30}"
    for g in 0 1 2 3; do
      echo "[[groups]]"
      for j in 1 2 3 4 5; do
        echo "[[groups.backends]]"; echo "address = \"127.0.0.1:$((base + g * 5 + j))\""; echo "namespace = \"default\""
      done
    done
    for s in $(seq 1 "$spares"); do  # in the last group
      echo "[[groups.backends]]"; echo "address = \"127.0.0.1:$((base + 24 + s))\""; echo "namespace = \"default\""
    done
  } >"$state/zstor.toml"
  chmod 600 "$state/zstor.toml"
}

zstor() { "$bin/zstor" -c "$state/zstor.toml" "$@"; }

# Blocks until zstor's staging queue is empty (every closed segment uploaded
# and verified), showing the count; fails after $1 seconds.
wait_uploads() {
  local jobs=""
  for _ in $(seq $(($1 * 2))); do
    jobs=$(zstor --json status | sed -n 's/.*"staging": {"jobs": \([0-9]*\).*/\1/p')
    [ "$jobs" = "0" ] && { echo "uploads: queue empty"; return 0; }
    [ -t 1 ] && printf '\ruploads: %s jobs queued ' "${jobs:-?}"
    sleep 0.5
  done
  echo; echo "uploads did not finish in $1 s"; zstor status | tail -2; return 1
}

# Closes the head segment of each qsfs namespace so it is uploaded now
# instead of at the next 32 MiB or 60 s.
jump_segments() {
  for ns in qsfs-meta qsfs-data; do printf 'SELECT %s\nNSJUMP\n' "$ns" | redis-cli -p "$base" >/dev/null; done
}

sample_tree() {  # sample_tree DIR: files of every kind of content
  local d=$1
  mkdir -p "$d/photos" "$d/docs/notes" "$d/empty"
  head -c $((40 << 20)) /dev/urandom >"$d/photos/big-random.bin"
  for i in $(seq 1 8); do head -c $((i * 37000)) /dev/urandom >"$d/photos/img$i.raw"; done
  for i in $(seq 1 60000); do echo "line $i of a text file that compresses well"; done >"$d/docs/log.txt"
  for i in $(seq 1 200); do echo "note $i: $(date -u +%s%N)" >"$d/docs/notes/n$i.txt"; done
  ln -s ../docs/log.txt "$d/photos/link-to-log"
  : >"$d/empty/zero-bytes"
}

checksums() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum); }

# Starts every process that is not running (backends, zstor, staging zdb)
# and mounts qsfs; what runs already is left alone.
start_all() {
  mkdir -p "$state"
  local extra=""
  if [ "$spares" -gt 0 ]; then extra=", plus $spares spare data zdbs in the last group (:$((base + 25))-$((base + 24 + spares)))"; fi
  echo "== starting 20 data zdbs and 4 meta zdbs$extra"
  for i in $(seq 1 20); do start_zdb "data$i" $((base + i)) seq; done
  for i in 21 22 23 24; do start_zdb "meta$((i - 20))" $((base + i)) user; done
  for s in $(seq 1 "$spares"); do start_zdb "spare$s" $((base + 24 + s)) seq; done
  for i in $(seq 1 $((24 + spares))); do wait_port $((base + i)) || { echo "zdb on port $((base + i)) did not start"; exit 1; }; done
  write_config
  echo "== starting zstor (daemon: health, repair, scrub, uploads, /metrics on :$((base + 100)))"
  start_zstor
  echo "== starting the staging zdb (hook: zstor-hook) and mounting qsfs on $mnt"
  start_staging
  mount_qsfs
}

start() {
  for b in zdb zstor zstor-hook qsfs; do
    [ -x "$bin/$b" ] || { echo "$bin/$b is missing: run scripts/stack.sh up (it builds) first" >&2; exit 1; }
  done
  start_all
  echo "Stack running under $state, filesystem mounted on $mnt (stop: scripts/stack.sh down)."
}

up() {
  build
  start_all
  echo "== writing a sample tree into the mount"
  rm -rf "$mnt/demo"
  sample_tree "$mnt/demo"
  find "$mnt/demo" -type f -exec sync {} +   # fsync: into the staging zdb, on its disk
  checksums "$mnt/demo" >"$state/demo.sha256"
  du -sh "$mnt/demo" | sed 's/^/written: /'
  df -h "$mnt" | tail -1 | awk '{print "mount: " $6 " size " $2 " used " $3}'
  echo "== closing staging segments; zstor uploads them (zstd -> AES-256-GCM -> RS 16+4)"
  jump_segments
  wait_uploads 120
  zstor list
  echo "== fragments per backend"
  zstor status
  echo "== unmounting, stopping the staging zdb (its last segments are uploaded at close)"
  unmount_qsfs
  stop_pid "$state/staging.pid"
  wait_uploads 120
  echo "== killing 4 data backends (one per group)"
  for i in 1 6 11 16; do kill -9 "$(cat "$state/data$i.pid")"; rm -f "$state/data$i.pid"; done
  echo "== throwing the staging directory away; restoring from the 16 surviving backends"
  rm -rf "$staging" "$state/staging.log"
  local t0
  t0=$(date +%s%N)
  start_staging
  echo "namespaces-init: staging zdb back in $((($(date +%s%N) - t0) / 1000000)) ms"
  mount_qsfs
  if checksums "$mnt/demo" | cmp -s - "$state/demo.sha256"; then
    echo "every file intact: $(wc -l <"$state/demo.sha256") files, byte for byte (sha256), 4 of 20 backends dead"
  else
    echo "MISMATCH after restore:"; checksums "$mnt/demo" | diff - "$state/demo.sha256" | head; exit 1
  fi
  echo "== restarting the 4 backends"
  for i in 1 6 11 16; do start_zdb "data$i" $((base + i)) seq; done
  for i in 1 6 11 16; do wait_port $((base + i)); done
  sleep 3  # one health round of the daemon
  echo
  status || true
  echo
  echo "Stack running under $state, filesystem mounted on $mnt."
  echo "  status: scripts/stack.sh status     stop: scripts/stack.sh down"
  echo "  zstor:  build/bin/zstor -c $state/zstor.toml status"
  echo "  zdb:    redis-cli -p $base   (staging)"
  echo "  metrics: http://127.0.0.1:$((base + 100))/metrics (zstor), :$((base + 101)) (staging zdb), :$((base + 102)) (qsfs)"
}

status() {
  local bad=0 name
  for f in "$state"/*.pid; do
    [ -e "$f" ] || continue
    name=$(basename "$f" .pid)
    if ! alive "$f"; then printf '%-8s DOWN\n' "$name"; bad=1; continue; fi
    case "$name" in
      data*|meta*|spare*) port=$((base + ${name//[a-z]/}))
        [ "${name:0:4}" = meta ] && port=$((port + 20))
        [ "${name:0:5}" = spare ] && port=$((port + 24))
        if redis-cli -p "$port" PING >/dev/null 2>&1; then health="answers PING on :$port"; else health="NOT answering on :$port"; bad=1; fi ;;
      staging) if redis-cli -s "$state/staging.sock" PING >/dev/null 2>&1; then health="answers PING on :$base and $state/staging.sock"; else health="NOT answering"; bad=1; fi ;;
      zstor) if [ -S "$state/zstor.sock" ] && zstor status >/dev/null 2>&1; then health="answers on $state/zstor.sock"; else health="NOT answering"; bad=1; fi ;;
      qsfs) if mountpoint -q "$mnt" && stat -f "$mnt" >/dev/null 2>&1; then health="mounted on $mnt"; else health="NOT mounted"; bad=1; fi ;;
      *) health="" ;;
    esac
    printf '%-8s pid %-7s up  %s\n' "$name" "$(cat "$f")" "$health"
  done
  if mountpoint -q "$mnt"; then df -h "$mnt" | tail -1 | awk '{print "mount    " $6 ": size " $2 ", used " $3 ", free " $4}'; fi
  if [ -f "$state/zstor.toml" ] && alive "$state/zstor.pid"; then zstor status | grep -E "^staging|backends down"; fi
  return $bad
}

down() {
  unmount_qsfs
  stop_pid "$state/staging.pid"   # namespace-closing: its head segment is queued for upload
  stop_pid "$state/zstor.pid"     # queued jobs stay on disk and resume at the next start
  for f in "$state"/*.pid; do [ -e "$f" ] && alive "$f" && kill -TERM "$(cat "$f")"; done
  for f in "$state"/*.pid; do [ -e "$f" ] && stop_pid "$f"; done
  echo "stack stopped (data kept in $state; remove it to start afresh)"
}

case "${1:-}" in
  up) up ;;
  start) start ;;
  status) status ;;
  down) down ;;
  *) echo "usage: scripts/stack.sh up|start|status|down" >&2; exit 2 ;;
esac
