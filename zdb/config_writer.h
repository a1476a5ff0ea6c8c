// `zdb --write-config FILE`: a storage node's complete, commented config
// from its port, listen address and admin password, so that setting up a
// node needs no TOML editing. The written file loads back (--config FILE)
// with exactly those settings and mixed mode (each namespace's mode is set
// by its creator, zstor).
#pragma once

#include <string>

#include "common/status.h"
#include "zdb/options.h"

namespace zdb {

struct NodeConfig {
  std::string listen = "::";
  int port = 9900;
  std::string admin;  // non-empty, one line
};

// The admin password: the file's one line, without its final newline.
// Errors (exit status 2) name the file: missing, empty, several lines.
qs::Result<std::string> ReadAdminPassword(const std::string& path);

// The complete TOML text for `c`.
std::string RenderNodeConfig(const NodeConfig& c);

enum class WriteOutcome { kWritten, kUnchanged };

// Writes `c` to `path` (parent directories created) atomically: temp file,
// fsync, rename, fsync of the directory. Mode 0640 and group `group` when
// that group exists, else 0600; the owner is the caller (root for the
// packages' layout). An existing file that already loads with these
// settings is left untouched (kUnchanged); one with other settings, or
// that does not load, is refused with AlreadyExists naming it, unless
// `force`. *mode_note says which mode and group the file got.
qs::Result<WriteOutcome> WriteNodeConfig(const std::string& path, const NodeConfig& c, bool force,
                                         const std::string& group, std::string* mode_note);

// zdb --write-config: runs the above from parsed options, prints the
// outcome (stdout) or the error (stderr); returns the exit status: 0 written
// or unchanged, 2 bad usage or refused, 1 an I/O error.
int RunWriteConfig(const Options& o);

}  // namespace zdb
