#include "common/zdb_address.h"

#include <charconv>

namespace qs {

std::string ZdbAddress::ToString() const {
  if (!unix_path.empty()) return "unix:" + unix_path;
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

Result<ZdbAddress> ParseZdbAddress(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument("invalid zdb address '" + std::string(text) + "': " +
                                   std::string(why));
  };
  ZdbAddress addr;
  if (text.substr(0, 5) == "unix:") {
    addr.unix_path = std::string(text.substr(5));
    if (addr.unix_path.empty()) return bad("empty socket path");
    return addr;
  }
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text[0] == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) return bad("missing ']'");
    host = text.substr(1, close - 1);
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') return bad("expected ':port' after ']'");
      port = rest.substr(1);
      if (port.empty()) return bad("empty port");
    }
  } else {
    size_t colon = text.find(':');
    if (colon != std::string_view::npos && text.find(':', colon + 1) != std::string_view::npos) {
      // "2001:db8::1:9900" could be an address or an address and a port.
      return bad("an IPv6 address needs brackets, e.g. [2001:db8::1]:9900");
    } else if (colon != std::string_view::npos) {
      host = text.substr(0, colon);
      port = text.substr(colon + 1);
      if (port.empty()) return bad("empty port");
    } else {
      host = text;
    }
  }
  if (host.empty()) return bad("empty host");
  addr.host = std::string(host);
  if (!port.empty()) {
    int p = 0;
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (ec != std::errc() || ptr != port.data() + port.size() || p < 1 || p > 65535) {
      return bad("port must be a number in 1..65535");
    }
    addr.port = p;
  }
  return addr;
}

}  // namespace qs
