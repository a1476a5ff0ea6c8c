// On-disk formats of a zdb namespace; the byte tables are in
// docs/zdb-format.md and this file follows them exactly.
//
//   <data>/<ns>/zdb-data-NNNNN    data segment: header + data entries
//   <index>/<ns>/zdb-index-NNNNN  index file of the same segment number
//   <index>/<ns>/zdb-namespace    namespace descriptor (settings)
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace zdb {

constexpr uint32_t kFormatVersion = 1;
constexpr size_t kFileHeaderSize = 32;
constexpr char kDataMagic[8] = {'Z', 'D', 'B', 'D', 'A', 'T', 'A', '1'};
constexpr char kIndexMagic[8] = {'Z', 'D', 'B', 'I', 'N', 'D', 'X', '1'};

constexpr size_t kDataEntryHeaderSize = 30;
constexpr size_t kIndexEntryHeaderSize = 26;
constexpr size_t kMaxKeySize = 255;
constexpr uint32_t kNoSegment = 0xFFFFFFFFu;

enum EntryFlags : uint8_t {
  kFlagDeleted = 1,  // tombstone: the key is deleted as of this entry
};

// Header of both segment kinds (32 bytes).
struct FileHeader {
  bool is_index = false;
  uint32_t segment_id = 0;
  uint64_t created = 0;  // unix seconds
};
std::string EncodeFileHeader(const FileHeader& h);
qs::Status DecodeFileHeader(std::string_view buf, bool is_index, FileHeader* h);

// A data entry as stored in a segment (fixed 30-byte header + key + value).
struct DataEntry {
  uint8_t flags = 0;
  uint64_t timestamp = 0;       // unix seconds of the write
  uint32_t prev_segment = kNoSegment;  // previous version of this key
  uint32_t prev_offset = 0;
  std::string_view key;
  std::string_view value;
  uint32_t crc = 0;             // filled by Decode/Encode
};

// Appends the encoded entry to *out and returns its crc.
uint32_t EncodeDataEntry(const DataEntry& e, std::string* out);
size_t DataEntrySize(size_t key_len, size_t value_len);

// Decodes the header of an entry from buf (at least kDataEntryHeaderSize
// bytes); sets *total to the whole entry size.
qs::Status DecodeDataHeader(std::string_view buf, DataEntry* e, size_t* total);
// Decodes and verifies a whole entry held in buf[0, total).
qs::Status DecodeDataEntry(std::string_view buf, DataEntry* e);

// An index entry: where one data entry lives (26-byte header + key).
struct IndexEntry {
  uint8_t flags = 0;
  uint32_t data_offset = 0;
  uint32_t length = 0;      // whole data entry size in bytes
  uint64_t timestamp = 0;
  uint32_t data_crc = 0;    // crc of the data entry it points at
  std::string_view key;
};
void EncodeIndexEntry(const IndexEntry& e, std::string* out);
size_t IndexEntrySize(size_t key_len);
// Decodes a header; *total is the entry's full size. Verify with the full buf.
qs::Status DecodeIndexHeader(std::string_view buf, IndexEntry* e, size_t* total);
qs::Status DecodeIndexEntry(std::string_view buf, IndexEntry* e);

std::string DataFileName(uint32_t id);   // "zdb-data-00042"
std::string IndexFileName(uint32_t id);  // "zdb-index-00042"
// Parses names made by the two functions above.
bool ParseSegmentFileName(std::string_view name, bool* is_index, uint32_t* id);
constexpr const char* kDescriptorName = "zdb-namespace";

}  // namespace zdb
