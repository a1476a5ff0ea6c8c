#include "common/logging.h"

#include <chrono>
#include <exception>
#include <memory>
#include <mutex>

#include <spdlog/details/file_helper.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "common/mutex.h"

namespace qs {

namespace {
constexpr const char* kPattern = "%Y-%m-%d %H:%M:%S.%e [%n] [%^%l%$] %v";

// An appending file sink that can open its path again (after logrotate
// renamed the file). The new file is opened before the old one is let go,
// so a failed reopen leaves logging where it was.
class ReopenableFileSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit ReopenableFileSink(const std::string& path) : path_(path), file_(Open(path)) {}

  void Reopen() {
    auto fresh = Open(path_);  // throws spdlog::spdlog_ex; the old file stays
    std::lock_guard<std::mutex> lock(mutex_);
    file_->flush();
    file_ = std::move(fresh);
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t formatted;
    formatter_->format(msg, formatted);
    file_->write(formatted);
  }
  void flush_() override { file_->flush(); }

 private:
  static std::unique_ptr<spdlog::details::file_helper> Open(const std::string& path) {
    auto f = std::make_unique<spdlog::details::file_helper>();
    f->open(path, /*truncate=*/false);
    return f;
  }

  const std::string path_;
  // Guarded by base_sink's mutex_ (a std::mutex: spdlog locks it around
  // sink_it_/flush_ itself, so it cannot be a qs::Mutex).
  std::unique_ptr<spdlog::details::file_helper> file_;
};

// The file sink of the current logger (null when logging to stderr) and
// its path; set by InitLogging, read by ReopenLogging.
Mutex g_file_mu;
std::shared_ptr<ReopenableFileSink> g_file_sink GUARDED_BY(g_file_mu);
std::string g_file_path GUARDED_BY(g_file_mu);
}  // namespace

Status InitLogging(std::string_view daemon_name, const std::string& logfile, bool verbose) {
  std::string name(daemon_name.empty() ? "qs" : daemon_name);
  std::shared_ptr<spdlog::logger> logger;
  try {
    spdlog::sink_ptr sink;
    std::shared_ptr<ReopenableFileSink> file_sink;
    if (logfile.empty()) {
      sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    } else {
      file_sink = std::make_shared<ReopenableFileSink>(logfile);
      sink = file_sink;
    }
    logger = std::make_shared<spdlog::logger>(name, std::move(sink));
    logger->set_pattern(kPattern);
    logger->set_level(verbose ? spdlog::level::debug : spdlog::level::info);
    logger->flush_on(spdlog::level::warn);
    spdlog::set_default_logger(logger);
    spdlog::flush_every(std::chrono::seconds(1));
    MutexLock lock(&g_file_mu);
    g_file_sink = std::move(file_sink);
    g_file_path = logfile;
  } catch (const std::exception& e) {
    return Status::IOError("cannot set up logging to '" + (logfile.empty() ? std::string("stderr") : logfile) +
                           "': " + e.what());
  }
  return Status::OK();
}

Status ReopenLogging() {
  MutexLock lock(&g_file_mu);
  if (g_file_sink == nullptr) return Status::OK();
  try {
    g_file_sink->Reopen();
  } catch (const std::exception& e) {
    return Status::IOError("cannot reopen the log file '" + g_file_path + "': " + e.what());
  }
  return Status::OK();
}

std::string LogFilePath() {
  MutexLock lock(&g_file_mu);
  return g_file_path;
}

void ReopenLoggingOnHangup() {
  constexpr const char* kNoReload = "settings not reloaded (restart to apply them)";
  const std::string path = LogFilePath();
  if (path.empty()) {
    spdlog::info("SIGHUP: logging to stderr, no log file to reopen; {}", kNoReload);
    return;
  }
  Status s = ReopenLogging();
  if (!s.ok()) {
    spdlog::error("SIGHUP: {}; still logging to the file open before; {}", s.message(), kNoReload);
    return;
  }
  spdlog::info("SIGHUP: log file {} reopened; {}", path, kNoReload);
  spdlog::default_logger_raw()->flush();
}

void ShutdownLogging() {
  {
    MutexLock lock(&g_file_mu);
    g_file_sink.reset();
    g_file_path.clear();
  }
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
