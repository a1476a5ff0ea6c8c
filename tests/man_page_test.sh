#!/usr/bin/env bash
# The man pages agree with the binaries: every option a binary's --help
# lists is in its page in section 8, and each configuration format has its
# page in section 5.
#   man_page_test.sh BIN_DIR MAN_DIR   (MAN_DIR holds NAME.8.gz and NAME.5.gz,
#                                       or man8/ and man5/ below it)
set -euo pipefail
bindir=${1:?usage: man_page_test.sh BIN_DIR MAN_DIR}
mandir=${2:?usage: man_page_test.sh BIN_DIR MAN_DIR}
page() { if [ -f "$mandir/$1.$2.gz" ]; then echo "$mandir/$1.$2.gz"; else echo "$mandir/man$2/$1.$2.gz"; fi; }
fails=0
for bin in zdb zstor qsfs; do
  p=$(page "$bin" 8)
  [ -f "$p" ] || { echo "FAIL: no man page $bin(8) ($p)"; fails=$((fails + 1)); continue; }
  help=$(ASAN_OPTIONS=detect_leaks=0 "$bindir/$bin" --help)
  text=$(LC_ALL=C MANWIDTH=200 man -l "$p" 2>&1)
  missing=()
  for opt in $(grep -oE -- '--[a-z][a-z-]*' <<<"$help" | sort -u); do
    grep -qF -- "$opt" <<<"$text" || missing+=("$opt")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    echo "ok: $bin(8) names every option of $bin --help"
  else
    echo "FAIL: $bin(8) lacks ${missing[*]}"; fails=$((fails + 1))
  fi
done
for conf in zdb.toml zstor.toml qsfs.toml; do
  p=$(page "$conf" 5)
  if [ -f "$p" ] && LC_ALL=C man -l "$p" 2>&1 | grep -q "^NAME"; then
    echo "ok: $conf(5)"
  else
    echo "FAIL: no man page $conf(5) ($p)"; fails=$((fails + 1))
  fi
done
[ "$fails" -eq 0 ]
