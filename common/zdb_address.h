// Where a zdb listens, and the namespace a client SELECTs there: parsed
// from "host:port", "[ipv6]:port", "host" or "unix:/path" (config files and
// command lines).
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace qs {

struct ZdbAddress {
  std::string host;
  int port = 9900;
  std::string unix_path;  // non-empty: connect to this Unix socket, ignore host/port
  std::string ns;         // namespace to SELECT after each connect; empty: no SELECT
  std::string password;   // namespace password passed to SELECT (if non-empty)

  std::string ToString() const;  // "host:port", "[v6]:port" or "unix:/path"
};

// Parses "host:port", "[ipv6]:port", "host" (port 9900) or "unix:/path".
// ns and password are left empty.
Result<ZdbAddress> ParseZdbAddress(std::string_view text);

}  // namespace qs
