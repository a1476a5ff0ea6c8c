#!/usr/bin/env bash
# The Debian packages, as an operator gets them: builds them with
# scripts/package.sh (Release, tests off, GoogleTest hidden), unpacks them
# into a scratch root and checks, from there:
#   - every installed binary answers --version (project version, git
#     revision) and --help with exit status 0;
#   - every option --help lists is in the binary's man page
#     (tests/man_page_test.sh);
#   - every shared library a binary needs comes from a package in its
#     package's Depends (as dpkg-shlibdeps computed them);
#   - every program a unit runs is installed, and the units pass
#     `systemd-analyze verify`;
#   - the system users come with sysusers.d files, and every file under
#     /etc is a conffile;
#   - each unit's daemon runs as the unit sets it up (tests/units_run_test.sh:
#     users, directories, capabilities, system call filter);
#   - lintian reports no error (its warnings are printed).
# A separate command (in ctest only with -DQSFS_PACKAGE_TEST=ON): a first
# build takes about 9 minutes on 2 cores; with BUILD_DIR kept, about 30 s.
#   tests/package_test.sh [BUILD_DIR]        (default build-pkg)
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$src/build-pkg}
version=$(sed -n 's/^project([^ ]* VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

mapfile -t debs < <("$src/scripts/package.sh" "$dir" 2>"$work/build.log") || { tail -30 "$work/build.log"; exit 1; }
[ "${#debs[@]}" -eq 2 ] || { tail -30 "$work/build.log"; fail "expected 2 packages, got: ${debs[*]:-none}"; exit 1; }
root=$work/root
declare -A depends
for deb in "${debs[@]}"; do
  dpkg-deb -x "$deb" "$root"
  pkg=$(dpkg-deb -f "$deb" Package)
  depends[$pkg]=$(dpkg-deb -f "$deb" Depends)
  echo "package: $(basename "$deb") ($(du -k "$deb" | cut -f1) KiB)"
  echo "  Depends: ${depends[$pkg]}"
  dpkg-deb -c "$deb" | awk '{print $6}' | sed 's#^\./#/#' >"$work/$pkg.files"
  dpkg-deb -I "$deb" conffiles >"$work/$pkg.conffiles" 2>/dev/null || true
done

# The split: zdb alone for storage nodes; the mounting machine's package
# brings zstor, zstor-hook and qsfs and depends on the zdb package.
for want in "qsfs-zdb /usr/bin/zdb" "qsfs /usr/bin/zstor" "qsfs /usr/bin/zstor-hook" "qsfs /usr/bin/qsfs" \
            "qsfs-zdb /lib/systemd/system/zdb@.service" "qsfs /lib/systemd/system/qsfs@.service" \
            "qsfs-zdb /usr/lib/sysusers.d/qsfs-zdb.conf" "qsfs /usr/lib/sysusers.d/qsfs.conf" \
            "qsfs /etc/zdb/staging.toml" "qsfs /etc/qsfs/qsfs.toml"; do
  set -- $want
  grep -qx "$2" "$work/$1.files" || fail "$2 not in package $1"
done
# Every file under /etc is a conffile (dpkg keeps the operator's edits).
for pkg in qsfs-zdb qsfs; do
  for f in $(grep '^/etc/.*[^/]$' "$work/$pkg.files" || true); do
    grep -qx "$f" "$work/$pkg.conffiles" && echo "ok: $f is a conffile of $pkg" || fail "$f is not a conffile of $pkg"
  done
done
[[ "${depends[qsfs]:-}" == *"qsfs-zdb (= $version-"* ]] || fail "qsfs does not depend on qsfs-zdb $version"
[[ "${depends[qsfs]:-}" == *"fuse3,"* || "${depends[qsfs]:-}" == *"fuse3" ]] || fail "qsfs does not depend on fuse3"

# --version and --help of the installed binaries; --help against the man page.
rev=unknown
[ -e "$src/.git" ] && rev=$(git -C "$src" rev-parse --short=12 HEAD)
for bin in zdb zstor zstor-hook qsfs; do
  exe=$root/usr/bin/$bin
  [ -x "$exe" ] || { fail "$bin not installed"; continue; }
  if out=$("$exe" --version 2>&1) && [[ "$(head -n1 <<<"$out")" == "$bin $version (git $rev"* ]]; then
    echo "ok: $(head -n1 <<<"$out")"
  else
    fail "$bin --version: $(head -n1 <<<"$out") (want: $bin $version (git $rev))"
  fi
  if ! help=$("$exe" --help 2>&1) || ! grep -q -- '--version' <<<"$help"; then
    fail "$bin --help: exit status or text: $(head -n2 <<<"$help")"; continue
  fi
done
bash "$src/tests/man_page_test.sh" "$root/usr/bin" "$root/usr/share/man" || fail "man pages"

# Libraries: each NEEDED entry's package is in the Depends of the package
# holding the binary.
for bin in zdb zstor qsfs; do
  pkg=$(grep -lx "/usr/bin/$bin" "$work"/*.files | xargs -n1 basename | sed 's/\.files$//')
  # Depends as one package name a line (versions and alternatives dropped).
  tr ',|' '\n\n' <<<"${depends[$pkg]}" | sed -E 's/\(.*//; s/[[:space:]]//g' | grep -v '^$' >"$work/$pkg.depends"
  bad=0
  for lib in $(objdump -p "$root/usr/bin/$bin" | awk '/NEEDED/ {print $2}'); do
    path=$(ldconfig -p | awk -v l="$lib" '$1 == l && /x86-64|x86_64/ && !p {print $NF; p = 1}')
    [ -n "$path" ] || { fail "$bin needs $lib, not found on this system"; bad=1; continue; }
    owner=$(dpkg -S "$path" 2>/dev/null || dpkg -S "$(readlink -f "$path")" 2>/dev/null || true)
    owner=${owner%%:*}
    [ -n "$owner" ] || { fail "$bin needs $lib ($path): no package owns it"; bad=1; continue; }
    # The package, or a name it provides (libspdlog1.10 provides libspdlog1.10-fmt9).
    provides=$(dpkg-query -W -f='${Provides}' "$owner" 2>/dev/null | sed -E 's/\([^)]*\)//g; s/,/ /g')
    found=
    for n in $owner $provides; do
      grep -qxF "$n" "$work/$pkg.depends" && found=$n && break
    done
    [ -n "$found" ] || { fail "$bin needs $lib from $owner, not in $pkg's Depends"; bad=1; }
  done
  [ "$bad" -eq 0 ] && echo "ok: $bin's libraries all come from $pkg's Depends"
done

# Units: the programs they run are installed; systemd-analyze verify with
# those programs taken from the scratch root.
mkdir -p "$work/units"
for unit in "$root"/lib/systemd/system/*; do
  name=$(basename "$unit")
  for exe in $(grep -E '^Exec[A-Za-z]*=' "$unit" | sed -E 's/^[^=]*=[-@:+!]*//' | awk '{print $1}'); do
    [ -x "$root$exe" ] || [ -x "$exe" ] || fail "$name runs $exe, which is not installed"
  done
  case "$name" in *@.service) name=${name/@./@test.} ;; esac
  sed -E "s#(^|[ =])/usr/bin/(zdb|zstor|zstor-hook|qsfs)( |\$)#\\1$root/usr/bin/\\2\\3#g" "$unit" >"$work/units/$name"
done
if command -v systemd-analyze >/dev/null; then
  for unit in "$work"/units/*; do
    if out=$(cd "$work/units" && systemd-analyze verify "$unit" 2>&1) && [ -z "$out" ]; then
      echo "ok: systemd-analyze verify $(basename "$unit")"
    else
      fail "systemd-analyze verify $(basename "$unit")"; echo "$out"
    fi
  done
else
  echo "systemd-analyze not installed: units not verified"
fi

# The daemons, started as their units set them up, from the scratch root.
if bash "$src/tests/units_run_test.sh" "$root" >"$work/units_run.txt" 2>&1; then
  grep -E '^(ok|note|skip|units run)|not run' "$work/units_run.txt" || true
else
  cat "$work/units_run.txt"; fail "the units do not run (tests/units_run_test.sh)"
fi

# lintian: no error. LINTIAN_OUTPUT receives the full report.
lintian --tag-display-limit 0 "${debs[@]}" >"$work/lintian.txt" 2>&1 || true
grep -v 'running with root privileges' "$work/lintian.txt" | sed 's/^/lintian: /' || true
[ -n "${LINTIAN_OUTPUT:-}" ] && cp "$work/lintian.txt" "$LINTIAN_OUTPUT"
if grep -q '^E: ' "$work/lintian.txt"; then fail "lintian reports errors"; else echo "ok: lintian reports no error"; fi

[ "$fails" -eq 0 ] && echo "package test: all passed" || { echo "package test: $fails failed"; exit 1; }
