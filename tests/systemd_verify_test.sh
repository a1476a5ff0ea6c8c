#!/usr/bin/env bash
# Every unit in systemd/ passes `systemd-analyze verify`, with ExecStart
# pointed at the binaries of this build (the installed paths may not exist);
# and the units, the shipped configs (config/) and docs/operations.md agree
# on every path, socket and port the units use.
set -euo pipefail
bindir=${1:?usage: systemd_verify_test.sh BIN_DIR}
root=$(cd "$(dirname "$0")/.." && pwd)
src=$root/systemd
fails=0

# --- The units and the configs agree. ---
# key VALUE of a TOML file (a string or a number on one uncommented line).
toml() { sed -nE "s/^$2[[:space:]]*=[[:space:]]*\"?([^\"]*)\"?[[:space:]]*$/\\1/p" "$root/config/$1" | head -n1; }
# The argument after FLAG on a unit's ExecStart line.
arg() { grep -E '^ExecStart=' "$src/$1" | tr ' ' '\n' | grep -A1 -xF -- "$2" | tail -n +2 | head -n1; }
# The words of a unit's KEY= lines (e.g. StateDirectory).
words() { grep -E "^$2=" "$src/$1" | cut -d= -f2- | tr ' ' '\n'; }
same() {  # WHAT WANT GOT
  if [ "$2" = "$3" ]; then echo "ok: $1: $2"; else echo "FAIL: $1: '$3', the units say '$2'"; fails=$((fails + 1)); fi
}
under() {  # WHAT PATH UNIT KEY ROOT: PATH lies in one of the unit's KEY directories
  local d
  for d in $(words "$3" "$4"); do
    case "$2" in "$5/$d"/*) echo "ok: $1: $2 in $4=$d of $3"; return ;; esac
  done
  echo "FAIL: $1: $2 is in no $4= of $3 ($(words "$3" "$4" | xargs))"; fails=$((fails + 1))
}
staging_sock=$(arg zdb-staging.service --socket)
same "config/qsfs.toml unix (the staging zdb's socket)" "$staging_sock" "$(toml qsfs.toml unix)"
under "zdb-staging --socket" "$staging_sock" zdb-staging.service RuntimeDirectory /run
for key in data index; do
  path=$(arg zdb-staging.service --$key)
  same "config/zstor.toml zdb_${key}_dir_path (the staging zdb's --$key)" "$path" "$(toml zstor.toml zdb_${key}_dir_path)"
  under "zdb-staging --$key" "$path" zdb-staging.service StateDirectory /var/lib
  under "zdb-staging --$key, uploaded and evicted by zstor" "$path" zstor.service StateDirectory /var/lib
done
zstor_conf=$(arg zstor.service -c)
same "zdb-staging's ZSTOR_CONFIG (zstor.service's -c)" "$zstor_conf" \
  "$(sed -nE 's/^Environment=ZSTOR_CONFIG=//p' "$src/zdb-staging.service")"
under "config/zstor.toml socket" "$(toml zstor.toml socket)" zstor.service RuntimeDirectory /run
for key in queue_dir journal_dir; do
  under "config/zstor.toml $key" "$(toml zstor.toml $key)/" zstor.service StateDirectory /var/lib
done
same "the hook's queue directory, a StateDirectory of zdb-staging.service" "/var/lib/zstor" \
  "/var/lib/$(words zdb-staging.service StateDirectory | grep -x zstor)"
same "zdb-staging --hook" "/usr/local/bin/zstor-hook" "$(arg zdb-staging.service --hook)"
same "config/prometheus.yml zdb-staging target (config/zdb-staging.toml metrics)" "$(toml zdb-staging.toml metrics)" \
  "$(grep -A2 'job_name: zdb-staging' "$root/config/prometheus.yml" | sed -nE 's/.*targets: \["([^"]*)"\].*/\1/p')"
# The paths of the units are the ones docs/operations.md gives.
for path in "$staging_sock" "$zstor_conf" "$(toml zstor.toml socket)" /etc/zdb/staging.toml /etc/qsfs/qsfs.toml \
            "$(arg zdb-staging.service --data)" "$(arg zdb-staging.service --index)"; do
  if grep -qF -- "$path" "$root/docs/operations.md"; then echo "ok: docs/operations.md names $path"
  else echo "FAIL: docs/operations.md does not name $path"; fails=$((fails + 1)); fi
done
for unit in "$src"/*.service; do
  name=$(basename "$unit")
  for dep in $(sed -nE 's/^(Requires|BindsTo|Requisite)=//p' "$unit"); do
    [ "$dep" = zdb-staging.service ] && { echo "FAIL: $name: a restart of the staging zdb would stop it ($dep)"; fails=$((fails + 1)); }
  done
done

# --- systemd-analyze verify. ---
if ! command -v systemd-analyze >/dev/null; then
  echo "systemd-analyze not installed: units not verified"
  [ "$fails" -eq 0 ]; exit
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for unit in "$src"/*; do
  name=$(basename "$unit")
  sed "s#/usr/local/bin/#$bindir/#g" "$unit" >"$work/$name"
  target=$name
  case "$name" in *@.service) target=${name/@./@test.} ;; esac
  [ "$target" != "$name" ] && cp "$work/$name" "$work/$target" && rm "$work/$name"
done
for unit in "$work"/*; do
  if ! out=$(cd "$work" && systemd-analyze verify "$unit" 2>&1) || [ -n "$out" ]; then
    echo "FAIL: $(basename "$unit")"; echo "$out"; fails=$((fails + 1))
  else
    echo "ok: $(basename "$unit")"
  fi
done
[ "$fails" -eq 0 ]
