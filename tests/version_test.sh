#!/usr/bin/env bash
# Every binary answers --version with "NAME VERSION (git REVISION)" and exit
# status 0, and lists --version in its --help. VERSION is the project's, and
# REVISION the checkout's HEAD ("unknown" outside a git checkout).
# usage: version_test.sh BIN_DIR VERSION
set -euo pipefail
bindir=${1:?usage: version_test.sh BIN_DIR VERSION}
version=${2:?usage: version_test.sh BIN_DIR VERSION}
src=$(cd "$(dirname "$0")/.." && pwd)
# The revision the binaries were built from is the build's generated header;
# in a checkout it must name a commit of it (HEAD, or an ancestor when
# commits came after the build), outside one it is "unknown".
header="$bindir/../generated/common/version.h"
built=$(sed -n 's/.*kGitRevision\[\] = "\([^"]*\)".*/\1/p' "$header" 2>/dev/null | head -n1)
built=${built%-dirty}
if [ -e "$src/.git" ]; then
  if [ -z "$built" ] || [ "$built" = unknown ] ||
      ! git -C "$src" merge-base --is-ancestor "$built" HEAD 2>/dev/null; then
    echo "FAIL: the build's revision '${built}' (from $header) is not a commit of this checkout up to HEAD"
    exit 1
  fi
  want="(git $built)"
else
  want="(git unknown)"
fi
fails=0
for bin in zdb zstor zstor-hook qsfs; do
  set +e
  out=$("$bindir/$bin" --version 2>&1)
  rc=$?
  help=$("$bindir/$bin" --help 2>&1)
  help_rc=$?
  set -e
  first=$(printf '%s\n' "$out" | head -n1)
  # "-dirty" may follow the revision when the tree has local changes.
  if [ "$rc" -ne 0 ] || ! [[ "$first" == "$bin $version ${want%)}"* ]] || ! [[ "$first" == *")" ]]; then
    echo "FAIL: $bin --version: exit $rc, printed: $first (want: $bin $version $want)"; fails=$((fails + 1))
  elif [ "$help_rc" -ne 0 ] || ! grep -q -- '--version' <<<"$help"; then
    echo "FAIL: $bin --help: exit $help_rc, --version not listed"; fails=$((fails + 1))
  else
    echo "ok: $first"
  fi
done
# A tree without .git (a release tarball) says "unknown".
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cmake -DSOURCE_DIR="$scratch" -DVERSION="$version" -DINPUT="$src/common/version.h.in" \
  -DOUTPUT="$scratch/version.h" -P "$src/cmake/version_header.cmake"
if grep -q 'kGitRevision\[\] = "unknown";' "$scratch/version.h"; then
  echo "ok: outside a git checkout the revision is unknown"
else
  echo "FAIL: outside a git checkout: $(grep kGitRevision "$scratch/version.h")"; fails=$((fails + 1))
fi
[ "$fails" -eq 0 ]
