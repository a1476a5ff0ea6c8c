// The libfuse low-level glue: mounts `fs` on options.mountpoint and serves
// requests on a multi-threaded session loop until unmount or a signal
// (SIGTERM, SIGINT; SIGHUP reopens the log file). `mounted` is called once
// the kernel mount exists (with true) or failed (false); then the service
// manager is told READY=1, and STOPPING=1 at a stop signal.
#pragma once

#include <functional>

#include "qsfs/filesystem.h"
#include "qsfs/fs_metrics.h"
#include "qsfs/options.h"

namespace qsfs {

// Returns 0 after a clean stop, 1 when mounting failed.
// metrics may be null (off).
int ServeFuse(const Options& options, Filesystem* fs, FsMetrics* metrics, const std::function<void(bool)>& mounted);

}  // namespace qsfs
