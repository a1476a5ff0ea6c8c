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

// Reopens the log file by its name, so that a rotated (renamed) file is
// left alone and new lines go to a new file at the configured path; what
// was logged before is in the old file, nothing is lost. On error the old
// file stays in use. OK and nothing done when logging to stderr.
// Thread-safe against logging.
Status ReopenLogging();

// What a daemon does on SIGHUP: ReopenLogging(), then one line saying what
// was done ("SIGHUP: log file F reopened; settings not reloaded (restart to
// apply them)"), to the new file. Settings are never reloaded.
void ReopenLoggingOnHangup();

// The log file InitLogging() was given, empty for stderr.
std::string LogFilePath();

// Flushes and closes all sinks and stops the periodic flusher. Afterwards a
// plain stderr logger is installed so stray log calls stay harmless.
void ShutdownLogging();

}  // namespace qs
