// Readiness and state reports to the service manager (systemd's sd_notify,
// for units with Type=notify). Every call is a no-op when NOTIFY_SOCKET is
// unset (a daemon started by hand or by a test) and never fails the caller:
// a manager that cannot be told is logged at most once, not fatal.
#pragma once

#include <string_view>

namespace qs {

// The daemon serves now: "READY=1" with a "STATUS=" line. Call once, after
// the daemon answers requests (listeners bound, state loaded), never before.
void NotifyReady(std::string_view status);

// The daemon began a clean stop: "STOPPING=1" with a "STATUS=" line.
void NotifyStopping(std::string_view status);

// A free-form "STATUS=" line (systemctl status shows the last one).
void NotifyStatus(std::string_view status);

}  // namespace qs
