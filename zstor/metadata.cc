#include "zstor/metadata.h"

#include <cstring>

#include "common/coding.h"
#include "common/crc32c.h"

namespace zstor {

using qs::Status;

namespace {

constexpr char kMagic[4] = {'Z', 'S', 'O', 'M'};

void PutU8(std::string* s, uint8_t v) { s->push_back(static_cast<char>(v)); }
void PutU16(std::string* s, uint16_t v) {
  char b[2];
  qs::EncodeFixed16(b, v);
  s->append(b, 2);
}
void PutBytes(std::string* s, std::string_view b) {  // u32 length + bytes
  qs::PutFixed32(s, static_cast<uint32_t>(b.size()));
  s->append(b);
}
void PutDigest(std::string* s, const Digest& d) { s->append(reinterpret_cast<const char*>(d.data()), d.size()); }

// Bounds-checked reader; every Get fails once the buffer is exhausted.
class Reader {
 public:
  explicit Reader(std::string_view b) : b_(b) {}
  bool U8(uint8_t* v) { return Take(1, [&](const char* p) { *v = static_cast<uint8_t>(*p); }); }
  bool U16(uint16_t* v) { return Take(2, [&](const char* p) { *v = qs::DecodeFixed16(p); }); }
  bool U32(uint32_t* v) { return Take(4, [&](const char* p) { *v = qs::DecodeFixed32(p); }); }
  bool U64(uint64_t* v) { return Take(8, [&](const char* p) { *v = qs::DecodeFixed64(p); }); }
  bool Bytes(std::string* v, size_t max) {
    uint32_t n;
    if (!U32(&n) || n > max) return false;
    return Take(n, [&](const char* p) { v->assign(p, n); });
  }
  bool Fixed(std::string* v, size_t n) { return Take(n, [&](const char* p) { v->assign(p, n); }); }
  bool DigestOut(Digest* d) { return Take(d->size(), [&](const char* p) { std::memcpy(d->data(), p, d->size()); }); }
  size_t remaining() const { return b_.size() - pos_; }

 private:
  template <typename F>
  bool Take(size_t n, F f) {
    if (b_.size() - pos_ < n) return false;
    f(b_.data() + pos_);
    pos_ += n;
    return true;
  }
  std::string_view b_;
  size_t pos_ = 0;
};

}  // namespace

std::string ChunkAad(const std::string& object_id, uint32_t chunk_index) {
  std::string aad = "zstor-chunk-v1:";
  aad += object_id;
  qs::PutFixed32(&aad, chunk_index);
  return aad;
}

// Layout: docs/zstor-metadata.md, "Object record".
std::string EncodeObjectMeta(const ObjectMeta& m) {
  std::string s(kMagic, 4);
  PutU8(&s, kMetadataVersion);
  PutBytes(&s, m.object_id);
  PutBytes(&s, m.path);
  qs::PutFixed64(&s, m.size);
  PutDigest(&s, m.checksum);
  PutU8(&s, m.k);
  PutU8(&s, m.m);
  qs::PutFixed32(&s, m.chunk_size);
  PutU8(&s, m.compression_level);
  qs::PutFixed64(&s, m.created);
  PutU16(&s, static_cast<uint16_t>(m.backends.size()));
  for (const auto& b : m.backends) {
    PutBytes(&s, b.address);
    PutBytes(&s, b.ns);
  }
  qs::PutFixed32(&s, static_cast<uint32_t>(m.chunks.size()));
  for (const auto& c : m.chunks) {
    qs::PutFixed32(&s, c.plain_size);
    qs::PutFixed32(&s, c.sealed_size);
    PutU8(&s, c.flags);
    s.append(c.nonce);
    qs::PutFixed32(&s, c.shard_size);
    PutU8(&s, static_cast<uint8_t>(c.fragments.size()));
    for (const auto& f : c.fragments) {
      PutU16(&s, f.backend);
      PutBytes(&s, f.key);
      PutDigest(&s, f.checksum);
    }
    PutU8(&s, static_cast<uint8_t>(c.challenges.size()));
    for (const auto& ch : c.challenges) {
      PutU8(&s, ch.fragment);
      s.append(ch.nonce);
      PutDigest(&s, ch.expected);
    }
  }
  qs::PutFixed32(&s, qs::Crc32c(s));
  return s;
}

Status DecodeObjectMeta(std::string_view buf, ObjectMeta* m) {
  if (buf.size() < 9 || std::memcmp(buf.data(), kMagic, 4) != 0) return Status::Corruption("metadata: bad magic");
  if (qs::Crc32c(buf.substr(0, buf.size() - 4)) != qs::DecodeFixed32(buf.data() + buf.size() - 4))
    return Status::Corruption("metadata: checksum mismatch");
  Reader r(buf.substr(4, buf.size() - 8));
  uint8_t version;
  if (!r.U8(&version)) return Status::Corruption("metadata: truncated");
  if (version != kMetadataVersion) return Status::Corruption("metadata: unsupported version " + std::to_string(version));
  uint16_t nb;
  uint32_t nc;
  bool ok = r.Bytes(&m->object_id, 64) && r.Bytes(&m->path, 1 << 16) && r.U64(&m->size) && r.DigestOut(&m->checksum) &&
            r.U8(&m->k) && r.U8(&m->m) && r.U32(&m->chunk_size) && r.U8(&m->compression_level) &&
            r.U64(&m->created) && r.U16(&nb);
  if (!ok) return Status::Corruption("metadata: truncated header");
  m->backends.resize(nb);
  for (auto& b : m->backends) {
    if (!r.Bytes(&b.address, 4096) || !r.Bytes(&b.ns, 256)) return Status::Corruption("metadata: truncated backend");
  }
  if (!r.U32(&nc) || nc > r.remaining()) return Status::Corruption("metadata: bad chunk count");
  m->chunks.resize(nc);
  for (auto& c : m->chunks) {
    uint8_t nf, nch;
    if (!r.U32(&c.plain_size) || !r.U32(&c.sealed_size) || !r.U8(&c.flags) || !r.Fixed(&c.nonce, kNonceSize) ||
        !r.U32(&c.shard_size) || !r.U8(&nf))
      return Status::Corruption("metadata: truncated chunk");
    if ((c.flags & ~kChunkKnownFlags) != 0) return Status::Corruption("metadata: unknown chunk flags (written by a newer zstor?)");
    if (nf != m->k + m->m) return Status::Corruption("metadata: fragment count does not match k + m");
    c.fragments.resize(nf);
    for (auto& f : c.fragments) {
      if (!r.U16(&f.backend) || !r.Bytes(&f.key, 255) || !r.DigestOut(&f.checksum))
        return Status::Corruption("metadata: truncated fragment");
      if (f.backend >= m->backends.size()) return Status::Corruption("metadata: fragment backend out of range");
    }
    if (!r.U8(&nch)) return Status::Corruption("metadata: truncated challenges");
    c.challenges.resize(nch);
    for (auto& ch : c.challenges) {
      if (!r.U8(&ch.fragment) || !r.Fixed(&ch.nonce, 16) || !r.DigestOut(&ch.expected))
        return Status::Corruption("metadata: truncated challenge");
      if (ch.fragment >= nf) return Status::Corruption("metadata: challenge fragment out of range");
    }
  }
  if (r.remaining() != 0) return Status::Corruption("metadata: trailing bytes");
  if (m->k == 0 || m->k + m->m > 255) return Status::Corruption("metadata: bad k/m");
  return Status::OK();
}

}  // namespace zstor
