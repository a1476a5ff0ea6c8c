#!/usr/bin/env bash
# Every unit in systemd/ passes `systemd-analyze verify`, with ExecStart
# pointed at the binaries of this build (the installed paths may not exist).
set -euo pipefail
bindir=${1:?usage: systemd_verify_test.sh BIN_DIR}
src=$(cd "$(dirname "$0")/.." && pwd)/systemd
if ! command -v systemd-analyze >/dev/null; then
  echo "systemd-analyze not installed: skipped"; exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0
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
