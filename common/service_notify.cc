#include "common/service_notify.h"

#include <systemd/sd-daemon.h>

#include <atomic>
#include <cstring>
#include <string>

#include <spdlog/spdlog.h>

namespace qs {

namespace {

// A newline would start another assignment of the datagram.
std::string OneLine(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c == '\n') c = ' ';
  }
  return out;
}

void Send(const std::string& state) {
  // 0: NOTIFY_SOCKET unset, nothing to tell; < 0: the socket is there but
  // the datagram did not go (a manager gone or a bad address).
  int rc = sd_notify(/*unset_environment=*/0, state.c_str());
  static std::atomic<bool> told{false};
  if (rc < 0 && !told.exchange(true)) spdlog::warn("cannot notify the service manager: {}", std::strerror(-rc));
}

}  // namespace

void NotifyReady(std::string_view status) { Send("READY=1\nSTATUS=" + OneLine(status)); }

void NotifyStopping(std::string_view status) { Send("STOPPING=1\nSTATUS=" + OneLine(status)); }

void NotifyStatus(std::string_view status) { Send("STATUS=" + OneLine(status)); }

}  // namespace qs
