# Sourced by the benches: write_zstor_config FILE WORK NDATA NMETA [LINE...]
# writes a zstor configuration for RS 16+4 over zdbs on the Unix sockets
# `sock I` names (data backends 0..NDATA-1 in four groups, meta backends
# NDATA..NDATA+NMETA-1), fresh keys, the journal in WORK/journal, then each
# extra LINE at the top level; mode 600 (zstor refuses keys others can read).
write_zstor_config() {
  local cfg=$1 work=$2 ndata=$3 nmeta=$4 i g
  shift 4
  hexkey() { od -An -tx1 -N32 /dev/urandom | tr -d ' \n'; }
  {
    printf 'minimal_shards = 16\nexpected_shards = 20\nredundant_groups = 0\nredundant_nodes = 0\n'
    printf 'chunk_size = "16M"\njournal_dir = "%s"\n' "$work/journal"
    for line in "$@"; do printf '%s\n' "$line"; done
    printf '[encryption]\nalgorithm = "AES"\nkey = "%s"\n' "$(hexkey)"
    printf '[compression]\nalgorithm = "zstd"\nlevel = 1\n'
    printf '[meta]\ntype = "zdb"\n[meta.config]\nprefix = "bench"\n'
    printf '[meta.config.encryption]\nalgorithm = "AES"\nkey = "%s"\n' "$(hexkey)"
    for i in $(seq "$ndata" $((ndata + nmeta - 1))); do
      printf '[[meta.config.backends]]\naddress = "unix:%s"\nnamespace = "default"\n' "$(sock "$i")"
    done
    for g in 0 1 2 3; do
      printf '[[groups]]\n'
      for ((i = g; i < ndata; i += 4)); do
        printf '[[groups.backends]]\naddress = "unix:%s"\nnamespace = "default"\n' "$(sock "$i")"
      done
    done
  } >"$cfg"
  chmod 600 "$cfg"
}
