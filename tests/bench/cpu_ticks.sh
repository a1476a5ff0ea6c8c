# Sourced by the benches: CPU ticks (user + system, with waited-for
# children) of processes, from /proc/PID/stat (fields 14-17; comm has no
# spaces for our daemons). proc_ticks PID...: their sum; 0 for a PID gone.
proc_ticks() {
  local p t=0
  for p in "$@"; do t=$((t + $(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$p/stat" 2>/dev/null || echo 0))); done
  echo "$t"
}
