#include "zdb/namespace_descriptor.h"

#include <algorithm>
#include <cstring>

#include "common/coding.h"
#include "common/crc32c.h"
#include "zdb/format.h"

namespace zdb {

using qs::Status;

namespace {
constexpr char kSettingsMagic[8] = {'Z', 'D', 'B', 'N', 'S', '0', '0', '1'};
}  // namespace

// Descriptor layout (docs/zdb-format.md, "Namespace descriptor").
std::string EncodeSettings(std::string_view name, const NamespaceSettings& s) {
  std::string out(kSettingsMagic, 8);
  qs::PutFixed32(&out, kFormatVersion);
  out.push_back(static_cast<char>(s.mode));
  out.push_back(static_cast<char>((s.is_public ? 1 : 0) | (s.worm ? 2 : 0) | (s.locked ? 4 : 0) | (s.frozen ? 8 : 0)));
  out.append(2, '\0');
  qs::PutFixed64(&out, s.maxsize);
  out.push_back(static_cast<char>(name.size()));
  out.append(name);
  out.push_back(static_cast<char>(s.password.size()));
  out.append(s.password);
  if (s.fence != 0) qs::PutFixed64(&out, s.fence);  // absent when 0: older zdbs read it
  qs::PutFixed32(&out, qs::Crc32c(out));
  return out;
}

Status DecodeSettings(std::string_view buf, std::string* name, NamespaceSettings* s) {
  if (buf.size() < 30 || std::memcmp(buf.data(), kSettingsMagic, 8) != 0)
    return Status::Corruption("namespace descriptor: bad magic or size");
  if (qs::Crc32c(buf.substr(0, buf.size() - 4)) != qs::DecodeFixed32(buf.data() + buf.size() - 4))
    return Status::Corruption("namespace descriptor: checksum mismatch");
  if (qs::DecodeFixed32(buf.data() + 8) != kFormatVersion)
    return Status::Corruption("namespace descriptor: unsupported version");
  uint8_t mode = static_cast<uint8_t>(buf[12]);
  uint8_t flags = static_cast<uint8_t>(buf[13]);
  if (mode > 1) return Status::Corruption("namespace descriptor: bad mode");
  s->mode = static_cast<Mode>(mode);
  s->is_public = flags & 1;
  s->worm = flags & 2;
  s->locked = flags & 4;
  s->frozen = flags & 8;
  s->maxsize = qs::DecodeFixed64(buf.data() + 16);
  size_t pos = 24;
  size_t nlen = static_cast<uint8_t>(buf[pos++]);
  if (pos + nlen + 1 + 4 > buf.size()) return Status::Corruption("namespace descriptor: truncated");
  name->assign(buf.substr(pos, nlen));
  pos += nlen;
  size_t plen = static_cast<uint8_t>(buf[pos++]);
  size_t rest = buf.size() - 4 - std::min(buf.size() - 4, pos + plen);  // bytes after the password
  if (pos + plen + 4 > buf.size() || (rest != 0 && rest != 8))
    return Status::Corruption("namespace descriptor: truncated");
  s->password.assign(buf.substr(pos, plen));
  s->fence = rest == 8 ? qs::DecodeFixed64(buf.data() + pos + plen) : 0;
  return Status::OK();
}

}  // namespace zdb
