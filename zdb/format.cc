#include "zdb/format.h"

#include <cstdio>
#include <cstring>

#include "common/coding.h"
#include "common/crc32c.h"

namespace zdb {

using qs::DecodeFixed32;
using qs::DecodeFixed64;
using qs::EncodeFixed32;
using qs::EncodeFixed64;
using qs::Status;

std::string EncodeFileHeader(const FileHeader& h) {
  std::string out(kFileHeaderSize, '\0');
  std::memcpy(out.data(), h.is_index ? kIndexMagic : kDataMagic, 8);
  EncodeFixed32(&out[8], kFormatVersion);
  EncodeFixed32(&out[12], h.segment_id);
  EncodeFixed64(&out[16], h.created);
  EncodeFixed32(&out[24], 0);  // reserved
  EncodeFixed32(&out[28], qs::Crc32c(0, out.data(), 28));
  return out;
}

Status DecodeFileHeader(std::string_view buf, bool is_index, FileHeader* h) {
  if (buf.size() < kFileHeaderSize) return Status::Corruption("file header truncated");
  if (std::memcmp(buf.data(), is_index ? kIndexMagic : kDataMagic, 8) != 0)
    return Status::Corruption("bad file magic");
  if (DecodeFixed32(&buf[28]) != qs::Crc32c(0, buf.data(), 28)) return Status::Corruption("file header checksum mismatch");
  if (DecodeFixed32(&buf[8]) != kFormatVersion) return Status::Corruption("unsupported format version");
  h->is_index = is_index;
  h->segment_id = DecodeFixed32(&buf[12]);
  h->created = DecodeFixed64(&buf[16]);
  return Status::OK();
}

size_t DataEntrySize(size_t key_len, size_t value_len) { return kDataEntryHeaderSize + key_len + value_len; }

// Data entry layout (docs/zdb-format.md):
//   0 crc32c(4) of bytes [4, end) | 4 flags(1) | 5 key len(1) | 6 value len(4)
//  10 timestamp(8) | 18 prev segment(4) | 22 prev offset(4) | 26 reserved(4)
//  30 key | value
uint32_t EncodeDataEntry(const DataEntry& e, std::string* out) {
  size_t start = out->size();
  out->resize(start + kDataEntryHeaderSize);
  char* p = out->data() + start;
  p[4] = static_cast<char>(e.flags);
  p[5] = static_cast<char>(e.key.size());
  EncodeFixed32(p + 6, static_cast<uint32_t>(e.value.size()));
  EncodeFixed64(p + 10, e.timestamp);
  EncodeFixed32(p + 18, e.prev_segment);
  EncodeFixed32(p + 22, e.prev_offset);
  EncodeFixed32(p + 26, 0);
  out->append(e.key);
  out->append(e.value);
  uint32_t crc = qs::Crc32c(0, out->data() + start + 4, out->size() - start - 4);
  EncodeFixed32(out->data() + start, crc);
  return crc;
}

Status DecodeDataHeader(std::string_view buf, DataEntry* e, size_t* total) {
  if (buf.size() < kDataEntryHeaderSize) return Status::Corruption("data entry header truncated");
  const char* p = buf.data();
  e->crc = DecodeFixed32(p);
  e->flags = static_cast<uint8_t>(p[4]);
  size_t klen = static_cast<uint8_t>(p[5]);
  uint32_t vlen = DecodeFixed32(p + 6);
  e->timestamp = DecodeFixed64(p + 10);
  e->prev_segment = DecodeFixed32(p + 18);
  e->prev_offset = DecodeFixed32(p + 22);
  if (klen == 0 || (e->flags & ~kFlagDeleted) != 0) return Status::Corruption("data entry header invalid");
  *total = DataEntrySize(klen, vlen);
  return Status::OK();
}

Status DecodeDataEntry(std::string_view buf, DataEntry* e) {
  size_t total = 0;
  QS_RETURN_IF_ERROR(DecodeDataHeader(buf, e, &total));
  if (buf.size() < total) return Status::Corruption("data entry truncated");
  if (qs::Crc32c(0, buf.data() + 4, total - 4) != e->crc) return Status::Corruption("data entry checksum mismatch");
  size_t klen = static_cast<uint8_t>(buf[5]);
  e->key = buf.substr(kDataEntryHeaderSize, klen);
  e->value = buf.substr(kDataEntryHeaderSize + klen, total - kDataEntryHeaderSize - klen);
  return Status::OK();
}

size_t IndexEntrySize(size_t key_len) { return kIndexEntryHeaderSize + key_len; }

// Index entry layout (docs/zdb-format.md):
//   0 crc32c(4) of bytes [4, end) | 4 flags(1) | 5 key len(1) | 6 data offset(4)
//  10 length(4) | 14 timestamp(8) | 22 data crc(4) | 26 key
void EncodeIndexEntry(const IndexEntry& e, std::string* out) {
  size_t start = out->size();
  out->resize(start + kIndexEntryHeaderSize);
  char* p = out->data() + start;
  p[4] = static_cast<char>(e.flags);
  p[5] = static_cast<char>(e.key.size());
  EncodeFixed32(p + 6, e.data_offset);
  EncodeFixed32(p + 10, e.length);
  EncodeFixed64(p + 14, e.timestamp);
  EncodeFixed32(p + 22, e.data_crc);
  out->append(e.key);
  EncodeFixed32(out->data() + start, qs::Crc32c(0, out->data() + start + 4, out->size() - start - 4));
}

Status DecodeIndexHeader(std::string_view buf, IndexEntry* e, size_t* total) {
  if (buf.size() < kIndexEntryHeaderSize) return Status::Corruption("index entry header truncated");
  const char* p = buf.data();
  e->flags = static_cast<uint8_t>(p[4]);
  size_t klen = static_cast<uint8_t>(p[5]);
  e->data_offset = DecodeFixed32(p + 6);
  e->length = DecodeFixed32(p + 10);
  e->timestamp = DecodeFixed64(p + 14);
  e->data_crc = DecodeFixed32(p + 22);
  if (klen == 0 || (e->flags & ~kFlagDeleted) != 0) return Status::Corruption("index entry header invalid");
  *total = IndexEntrySize(klen);
  return Status::OK();
}

Status DecodeIndexEntry(std::string_view buf, IndexEntry* e) {
  size_t total = 0;
  QS_RETURN_IF_ERROR(DecodeIndexHeader(buf, e, &total));
  if (buf.size() < total) return Status::Corruption("index entry truncated");
  if (qs::Crc32c(0, buf.data() + 4, total - 4) != DecodeFixed32(buf.data()))
    return Status::Corruption("index entry checksum mismatch");
  e->key = buf.substr(kIndexEntryHeaderSize, total - kIndexEntryHeaderSize);
  return Status::OK();
}

std::string DataFileName(uint32_t id) {
  char b[32];
  std::snprintf(b, sizeof(b), "zdb-data-%05u", id);
  return b;
}

std::string IndexFileName(uint32_t id) {
  char b[32];
  std::snprintf(b, sizeof(b), "zdb-index-%05u", id);
  return b;
}

bool ParseSegmentFileName(std::string_view name, bool* is_index, uint32_t* id) {
  std::string_view digits;
  if (name.substr(0, 9) == "zdb-data-") {
    *is_index = false;
    digits = name.substr(9);
  } else if (name.substr(0, 10) == "zdb-index-") {
    *is_index = true;
    digits = name.substr(10);
  } else {
    return false;
  }
  if (digits.empty() || digits.size() > 10) return false;
  uint64_t v = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v >= kNoSegment) return false;
  *id = static_cast<uint32_t>(v);
  return true;
}

}  // namespace zdb
