#!/usr/bin/env bash
# The root file system of one machine of tests/e2e/deploy_test.sh, run in
# a fresh mount namespace (inside the machine's network namespace):
# /etc, /usr and /var are overlays whose lower layers are the packages
# unpacked in ROOT over the host's own, and whose upper layers (everything
# the machine writes) are in STATE; /run, /srv, /mnt and /root start empty.
# Touches READY, then holds the namespace (sleep) until killed.
#   machine.sh ROOT STATE READY
set -euo pipefail
root=$1 state=$2 ready=$3
overlay() {  # overlay DIR: ROOT/DIR (when the packages have it) over DIR
  local d=$1 lower=$1
  [ -d "$root$d" ] && lower=$root$d:$d
  mkdir -p "$state/upper$d" "$state/work$d"
  mount -t overlay "machine$d" -o "lowerdir=$lower,upperdir=$state/upper$d,workdir=$state/work$d" "$d"
}
empty() {  # empty DIR: a directory of STATE instead of the host's DIR
  mkdir -p "$state/empty$1"
  mount --bind "$state/empty$1" "$1"
}
overlay /etc
overlay /usr
overlay /var
empty /run
empty /srv
empty /mnt
empty /root
touch "$ready"
exec sleep infinity
