// Process-wide logging setup on spdlog. InitLogging() replaces spdlog's
// default logger, so code logs with spdlog::info(...) etc. everywhere.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace qs {

// Installs a default logger named `daemon_name` writing to `logfile`
// (appending; spdlog creates the file and missing parent directories) or to
// stderr when `logfile` is empty. On error the previous logger stays.
// Level is debug when `verbose`, info otherwise. Lines look like
// "2024-05-01 12:00:00.123 [zdb] [info] message". Warnings and errors are
// flushed at once, everything else at least every second.
// May be called again to reconfigure. Not thread-safe against concurrent
// InitLogging/ShutdownLogging calls (logging itself is thread-safe).
Status InitLogging(std::string_view daemon_name, const std::string& logfile, bool verbose);

// Flushes and closes all sinks and stops the periodic flusher. Afterwards a
// plain stderr logger is installed so stray log calls stay harmless.
void ShutdownLogging();

}  // namespace qs
