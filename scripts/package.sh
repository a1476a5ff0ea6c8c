#!/usr/bin/env bash
# Builds the Debian packages: a Release build with Debian's hardening flags,
# tests off, installed to /usr, packed by CPack (cmake/packaging.cmake).
#   scripts/package.sh [BUILD_DIR]      (default build-pkg)
# Prints the paths of the .deb files, one a line, on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build-pkg}

bash scripts/install-deps.sh >&2

# Debian's flags (PIE, stack protector, fortify, relro, bindnow) without -g:
# CPack strips the binaries anyway.
export DEB_BUILD_MAINT_OPTIONS=hardening=+all
strip_g() { sed -E 's/(^| )-g( |$)/ /g'; }
export CFLAGS="$(dpkg-buildflags --get CFLAGS | strip_g) $(dpkg-buildflags --get CPPFLAGS)"
export CXXFLAGS="$(dpkg-buildflags --get CXXFLAGS | strip_g) $(dpkg-buildflags --get CPPFLAGS)"
export LDFLAGS="$(dpkg-buildflags --get LDFLAGS)"
# Dates in the man pages: the last commit's, so a rebuild gives the same pages.
if [ -z "${SOURCE_DATE_EPOCH:-}" ] && git rev-parse --git-dir >/dev/null 2>&1; then
  export SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)
fi
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
# GoogleTest disabled: building the daemons must not need it.
cmake --no-warn-unused-cli -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release -DQSFS_BUILD_TESTS=OFF -DCMAKE_DISABLE_FIND_PACKAGE_GTest=ON \
  -DCMAKE_INSTALL_PREFIX=/usr \
  "${launcher[@]}" >&2
cmake --build "$dir" -j"$(nproc)" >&2
rm -f "$dir"/*.deb
(cd "$dir" && cpack -G DEB >&2)
ls "$(cd "$dir" && pwd)"/*.deb
