// A namespace's settings and their on-disk form, the descriptor file
// <index>/<ns>/zdb-namespace (docs/zdb-format.md, "Namespace descriptor").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace zdb {

enum class Mode : uint8_t { kUser = 0, kSeq = 1 };

struct NamespaceSettings {
  std::string password;  // empty = none
  bool is_public = true;
  uint64_t maxsize = 0;  // bytes of live data, 0 = unlimited
  Mode mode = Mode::kUser;
  bool worm = false;
  bool locked = false;  // read-only
  bool frozen = false;  // no reads, no writes
  uint64_t fence = 0;   // highest FENCE token; 0 = never fenced (zdb/fence.h)
};

// The zdb-namespace descriptor (docs/zdb-format.md, "Namespace descriptor"):
// encoded whole, decoded with its checksum, version and lengths verified
// (Corruption otherwise).
std::string EncodeSettings(std::string_view name, const NamespaceSettings& s);
qs::Status DecodeSettings(std::string_view buf, std::string* name, NamespaceSettings* s);

}  // namespace zdb
