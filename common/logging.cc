#include "common/logging.h"

#include <chrono>
#include <exception>
#include <memory>

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace qs {

namespace {
constexpr const char* kPattern = "%Y-%m-%d %H:%M:%S.%e [%n] [%^%l%$] %v";
}  // namespace

Status InitLogging(std::string_view daemon_name, const std::string& logfile, bool verbose) {
  std::string name(daemon_name.empty() ? "qs" : daemon_name);
  std::shared_ptr<spdlog::logger> logger;
  try {
    spdlog::sink_ptr sink;
    if (logfile.empty()) {
      sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    } else {
      sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(logfile, /*truncate=*/false);
    }
    logger = std::make_shared<spdlog::logger>(name, std::move(sink));
    logger->set_pattern(kPattern);
    logger->set_level(verbose ? spdlog::level::debug : spdlog::level::info);
    logger->flush_on(spdlog::level::warn);
    spdlog::set_default_logger(logger);
    spdlog::flush_every(std::chrono::seconds(1));
  } catch (const std::exception& e) {
    return Status::IOError("cannot set up logging to '" + (logfile.empty() ? std::string("stderr") : logfile) +
                           "': " + e.what());
  }
  return Status::OK();
}

void ShutdownLogging() {
  try {
    spdlog::shutdown();  // flushes, drops all loggers, stops the flusher thread
    auto logger = std::make_shared<spdlog::logger>(
        "qs", std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
    logger->set_pattern(kPattern);
    spdlog::set_default_logger(std::move(logger));
  } catch (const std::exception&) {
    // Nothing sensible left to report to.
  }
}

}  // namespace qs
