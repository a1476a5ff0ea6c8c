#!/usr/bin/env bash
# The installed units really run: each daemon is started with exactly its
# unit's ExecStart command line, as the unit's user and groups, with its
# umask, capability bounding set, environment, directories (State/Runtime/
# Logs/ConfigurationDirectory with their owners and modes) and ExecStartPre,
# against the configs the packages ship. systemd need not be PID 1: the
# units are read, not started by systemd. Everything happens in private
# mount and network namespaces (a copy of /etc, empty /var/lib, /var/log,
# /run, /srv, /mnt), with the packages' binaries over /usr/bin.
#   units_run_test.sh ROOT    (ROOT: the packages unpacked, as package_test.sh does)
# Needs root, unshare, setpriv, redis-cli and /dev/fuse; skipped without.
# Also checked: with strace, the system calls each daemon makes are in its
# unit's SystemCallFilter=; a restart of zdb-staging leaves qsfs@'s mount up
# and writable.
set -euo pipefail
root=$(cd "${1:?usage: units_run_test.sh ROOT}" && pwd)
units=$root/lib/systemd/system
for tool in unshare setpriv redis-cli strace mountpoint; do
  command -v $tool >/dev/null || { echo "FAIL: $tool not installed (scripts/install-deps.sh installs it): units not run"; exit 1; }
done
[ "$(id -u)" -eq 0 ] || { echo "not root: units not run"; exit 0; }
[ -c /dev/fuse ] || { echo "no /dev/fuse: units not run"; exit 0; }

if [ "${QS_UNITS_INSIDE:-}" != 1 ]; then
  exec env QS_UNITS_INSIDE=1 unshare --mount --net --propagation private bash "$0" "$root"
fi

# --- The scratch machine. ---
work=$(mktemp -d)
chmod 0755 "$work"
# At the end, whatever is still running in these namespaces (a daemon that
# forked away from its unit, say) is stopped: these processes are this
# test's own.
cleanup() {
  local p
  for p in $(pgrep --ns $$ --nslist mnt); do
    [ "$p" = $$ ] || [ "$p" = "$BASHPID" ] || kill -KILL "$p" 2>/dev/null || true
  done
  umount -l /mnt/data /mnt/data2 2>/dev/null || true
}
trap cleanup EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }
ip link set lo up 2>/dev/null || true
cp -a /etc "$work/etc"
mount --bind "$work/etc" /etc
cp -a "$root/etc/." /etc/
for d in /var/lib /var/log /run /srv /mnt; do mount -t tmpfs -o mode=0755 qs-units "$d"; done
mount -t overlay overlay -o "lowerdir=$root/usr/bin:/usr/bin" /usr/bin
systemd-sysusers "$root"/usr/lib/sysusers.d/*.conf
for u in zdb qsfs; do
  getent passwd $u >/dev/null && ok "sysusers.d made the user $u" || fail "no user $u after systemd-sysusers"
done

# Until COMMAND succeeds, at most SECONDS (polling; timings here are noisy).
wait_for() {
  local seconds=$1; shift
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.2
  done
}
# The values of KEY= in UNIT (instance %i = INSTANCE), space-joined.
key() { sed -nE "s/^$2=//p" "$1" | sed "s/%i/$3/g" | paste -sd' '; }

declare -A pids
# Starts UNIT_FILE (instance INSTANCE) as systemd would set it up.
start_unit() {
  local file=$1 inst=${2:-} name user group groups umask caps env mode d
  name=$(basename "$file"); name=${name/@./@$inst.}
  user=$(key "$file" User "$inst"); user=${user:-root}
  group=$(key "$file" Group "$inst"); group=${group:-$user}
  umask=$(key "$file" UMask "$inst"); umask=${umask:-0022}
  for kind in State:/var/lib Runtime:/run Logs:/var/log Configuration:/etc; do
    mode=$(key "$file" ${kind%%:*}DirectoryMode "$inst"); mode=${mode:-0755}
    for d in $(key "$file" ${kind%%:*}Directory "$inst"); do
      install -d -m "$mode" "${kind#*:}/$d"
      [ "${kind%%:*}" = Configuration ] || chown "$user:$group" "${kind#*:}/$d"
    done
  done
  groups=$group
  for g in $(key "$file" SupplementaryGroups "$inst"); do groups+=,$g; done
  caps=$(key "$file" CapabilityBoundingSet "$inst" | tr 'A-Z ' 'a-z\n' | sed -E 's/^cap_/+/' | paste -sd,)
  env=()
  for e in $(key "$file" Environment "$inst"); do env+=("$e"); done
  local -a as_user=(setpriv --reuid "$user" --regid "$group" --groups "$groups" --no-new-privs
                    --inh-caps=-all --bounding-set "-all${caps:+,$caps}")
  while read -r pre; do
    [ -n "$pre" ] || continue
    if [[ $pre == +* ]]; then ${pre#+} || fail "$name: ExecStartPre=$pre"
    else "${as_user[@]}" $pre || fail "$name: ExecStartPre=$pre"; fi
  done < <(sed -nE 's/^ExecStartPre=//p' "$file" | sed "s/%i/$inst/g")
  local cmd
  cmd=$(key "$file" ExecStart "$inst")
  echo "run: $name as $user:$groups, umask $umask, bounding set '${caps:-none}': $cmd"
  # strace follows the daemon (and the programs it runs) for the syscall check.
  install -m 0600 -o "$user" /dev/null "$work/$name.strace"
  (umask "$umask"; exec env "${env[@]}" "${as_user[@]}" strace -f -qq -o "$work/$name.strace" $cmd \
     >"$work/$name.log" 2>&1) &
  pids[$name]=$!
}
# SIGTERM to the unit's main process (strace's child), as systemctl stop;
# SIGKILL after 120 s (TimeoutStopSec=) is a failure.
exited() {  # PID is gone or a zombie
  local st
  st=$(ps -o stat= -p "$1" 2>/dev/null) || return 0
  [[ $st == Z* ]]
}
stop_unit() {
  local name=$1 child
  child=$(pgrep -P "${pids[$name]}" || true)
  # Type=notify: the process systemd started is the daemon, to the end.
  if [ -z "$child" ]; then
    fail "$name: its main process left (forked into the background?)"
    kill -KILL "${pids[$name]}" 2>/dev/null || true   # strace; the rest at cleanup
  else
    kill -TERM $child
  fi
  if ! wait_for 120 exited "${pids[$name]}"; then
    fail "$name: still running 120 s after SIGTERM"
    [ -n "$child" ] && kill -KILL $child 2>/dev/null || true
  fi
  wait "${pids[$name]}" || true
}
show_log() { echo "--- $1's log:"; tail -20 "$work/$1.log"; }

# The system calls made under UNIT's SystemCallFilter= (allow list, then
# ~deny lists): any outside it would fail with EPERM under systemd.
expand() {  # the system calls of a group (@name, recursively) or one call
  local s
  for s in "$@"; do
    if [[ $s == @* ]]; then
      expand $(systemd-analyze syscall-filter "$s" | sed -nE 's/^ +([@a-z_0-9-]+)$/\1/p')
    else
      echo "$s"
    fi
  done
}
syscall_check() {
  local file=$1 name=$2 allow deny bad
  allow=$(expand $(sed -nE 's/^SystemCallFilter=([^~].*)/\1/p' "$file") | sort -u)
  deny=$(expand $(sed -nE 's/^SystemCallFilter=~(.*)/\1/p' "$file") | sort -u)
  [ -n "$allow" ] || { echo "skip: $name has no SystemCallFilter="; return; }
  bad=$(sed -nE 's/^[0-9]+ +([a-z_0-9]+)\(.*/\1/p' "$work/$name.strace" | sort -u | while read -r sc; do
          grep -qx "$sc" <<<"$allow" && ! grep -qx "$sc" <<<"$deny" && continue
          echo "$sc"
        done | paste -sd' ')
  [ -z "$bad" ] && ok "$name: every system call is in its SystemCallFilter=" || fail "$name calls outside its SystemCallFilter=: $bad"
}

# --- A storage node: zdb --write-config, then zdb@sdb. ---
umask 077; echo "pool-admin-secret" >"$work/admin.pass"; umask 022
if out=$(zdb --write-config /etc/zdb/sdb.toml --port 9900 --admin-password-file "$work/admin.pass"); then ok "$out"
else fail "zdb --write-config: $out"; fi
[ "$(stat -c '%a %U:%G' /etc/zdb/sdb.toml)" = "640 root:zdb" ] && ok "/etc/zdb/sdb.toml is 0640 root:zdb" \
  || fail "/etc/zdb/sdb.toml is $(stat -c '%a %U:%G' /etc/zdb/sdb.toml), not 640 root:zdb"
install -d -m 0755 /srv/zdb/sdb   # the disk's mount point, root's
start_unit "$units/zdb@.service" sdb
if wait_for 60 redis-cli -p 9900 PING; then
  r=$(redis-cli -p 9900 NSNEW probe 2>&1)
  [[ $r == *"ERR"*"ermission"* || $r == *"denied"* || $r == *"auth"* ]] && ok "zdb@sdb: NSNEW without the admin password: $r" \
    || fail "zdb@sdb: NSNEW without the admin password answered '$r'"
  r=$(redis-cli -p 9900 --no-auth-warning -e AUTH pool-admin-secret 2>&1; redis-cli -p 9900 -a pool-admin-secret --no-auth-warning NSNEW probe 2>&1)
  [[ $r == *OK* ]] && ok "zdb@sdb serves; NSNEW with the admin password: OK" || fail "zdb@sdb: NSNEW with the password: $r"
  owner=$(stat -c '%U %a' /srv/zdb/sdb/data)
  [ "$owner" = "zdb 750" ] && ok "/srv/zdb/sdb/data is zdb's, 0750" || fail "/srv/zdb/sdb/data: $owner"
  files=$(find /srv/zdb/sdb -type f -printf '%u:%m\n' | sort -u | paste -sd' ')
  [ "$files" = "zdb:600" ] && ok "zdb@sdb's files are zdb's, 0600 (UMask=0077)" || fail "zdb@sdb's files: $files"
else
  fail "zdb@sdb does not answer on port 9900"; show_log zdb@sdb.service
fi

# --- The machine that mounts: zdb-staging, zstor, qsfs@data. ---
# Its zstor.toml from `zstor init` over zdb@sdb (1+0: one backend holds the
# data and the meta namespace). The staging zdb's namespaces-init must
# reach the backends: on unreachable ones it refuses to start.
if out=$(zstor -c /etc/zstor/zstor.toml init --admin-password-file "$work/admin.pass" \
           --meta 127.0.0.1:9900 --group 127.0.0.1:9900 --shards 1+0 2>&1); then
  ok "zstor init over zdb@sdb: $(tail -n1 <<<"$out")"
else
  fail "zstor init: $out"
fi
start_unit "$units/zdb-staging.service"
sock=/run/zdb-staging/zdb.sock
if wait_for 60 redis-cli -s $sock PING; then
  ok "zdb-staging serves on $sock ($(stat -c '%U:%G %a' $sock))"
else
  fail "zdb-staging does not answer on $sock"; show_log zdb-staging.service
fi
start_unit "$units/zstor.service"
if wait_for 60 test -S /run/zstor/zstor.sock; then
  ok "zstor listens on /run/zstor/zstor.sock ($(stat -c '%U:%G %a' /run/zstor/zstor.sock))"
else
  fail "zstor.service: no /run/zstor/zstor.sock"; show_log zstor.service
fi
cp /etc/qsfs/qsfs.toml /etc/qsfs/data.toml
start_unit "$units/qsfs@.service" data
if wait_for 60 mountpoint -q /mnt/data; then
  echo "written through qsfs@data" >/mnt/data/probe && sync /mnt/data/probe
  [ "$(cat /mnt/data/probe)" = "written through qsfs@data" ] && ok "qsfs@data mounts /mnt/data on the staging socket; a file reads back" \
    || fail "qsfs@data: the file does not read back"
  [ "$(stat -c %U /mnt/data)" = root ] && ok "/mnt/data's root directory is root's" || fail "/mnt/data belongs to $(stat -c %U /mnt/data)"
  # A restart of the staging zdb (systemctl restart zdb-staging) leaves the
  # mount up: qsfs@ only Wants= it, and qsfs reconnects.
  stop_unit zdb-staging.service
  start_unit "$units/zdb-staging.service"
  wait_for 60 redis-cli -s $sock PING || fail "zdb-staging does not answer after its restart"
  if mountpoint -q /mnt/data && ! exited "$(pgrep -P "${pids[qsfs@data.service]}")"; then
    ok "qsfs@data stays mounted across a restart of zdb-staging"
  else
    fail "qsfs@data did not survive a restart of zdb-staging"
  fi
  probe2() { echo "after the restart" >/mnt/data/probe2 && sync /mnt/data/probe2 && [ "$(cat /mnt/data/probe2)" = "after the restart" ]; }
  wait_for 60 probe2 && ok "qsfs@data writes again after the staging zdb's restart" \
    || fail "qsfs@data: no write succeeds within 60 s of the staging zdb's restart"
else
  fail "qsfs@data: /mnt/data not mounted"; show_log qsfs@data.service
fi
stop_unit qsfs@data.service
mountpoint -q /mnt/data && { fail "qsfs@data: still mounted after SIGTERM"; umount -l /mnt/data; } || ok "qsfs@data unmounted on SIGTERM"
syscall_check "$units/qsfs@.service" qsfs@data.service

# A non-root user with only CAP_SYS_ADMIN can mount too (the unit's comment
# says why qsfs@ stays root): the kernel then refuses root without allow_other.
mknod -m 0666 "$work/fuse" c 10 229 && mount --bind "$work/fuse" /dev/fuse
install -d /mnt/data2
(exec setpriv --reuid qsfs --regid qsfs --init-groups --inh-caps=+sys_admin --ambient-caps=+sys_admin \
   --bounding-set=-all,+sys_admin qsfs -f --config /etc/qsfs/qsfs.toml /mnt/data2 >"$work/nonroot.log" 2>&1) &
nonroot=$!
# (mountpoint(1) would stat the mount, which the kernel refuses root.)
if wait_for 60 grep -q ' /mnt/data2 fuse' /proc/self/mounts; then
  if ls /mnt/data2 >/dev/null 2>&1; then echo "note: root can read a mount made by qsfs without allow_other"
  else ok "qsfs as qsfs with CAP_SYS_ADMIN mounts; root is refused without allow_other: $(ls /mnt/data2 2>&1 | head -1)"; fi
  kill -TERM $nonroot 2>/dev/null || true
else
  echo "note: qsfs as a non-root user with CAP_SYS_ADMIN did not mount: $(tail -3 "$work/nonroot.log")"
  kill -TERM $nonroot 2>/dev/null || true
fi
wait $nonroot || true
umount -l /dev/fuse 2>/dev/null || true

stop_unit zstor.service
stop_unit zdb-staging.service
syscall_check "$units/zdb-staging.service" zdb-staging.service
stop_unit zdb@sdb.service
syscall_check "$units/zdb@.service" zdb@sdb.service
syscall_check "$units/zstor.service" zstor.service

cleanup
umount -l /usr/bin /etc /var/lib /var/log /run /srv /mnt 2>/dev/null || true
rm -rf "$work"
[ "$fails" -eq 0 ] && echo "units run: all passed" || { echo "units run: $fails failed"; exit 1; }
