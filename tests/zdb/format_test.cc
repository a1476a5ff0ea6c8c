// Byte-exact checks of the on-disk formats (docs/zdb-format.md).
#include "zdb/format.h"

#include <gtest/gtest.h>

#include <random>

#include "common/coding.h"
#include "common/crc32c.h"
#include "zdb/namespace.h"

namespace zdb {
namespace {

// Bitwise reference CRC-32C (reflected polynomial 0x82F63B78).
uint32_t RefCrc(std::string_view s) {
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : s) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
  }
  return ~c;
}

std::string LE32(uint32_t v) { std::string s(4, '\0'); qs::EncodeFixed32(s.data(), v); return s; }
std::string LE64(uint64_t v) { std::string s(8, '\0'); qs::EncodeFixed64(s.data(), v); return s; }
std::string WithCrc(const std::string& body) { return LE32(RefCrc(body)) + body; }

TEST(Crc32c, KnownValues) {
  EXPECT_EQ(qs::Crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(qs::Crc32c(""), 0u);
  EXPECT_EQ(qs::Crc32c(std::string(32, '\0')), 0x8A9136AAu);
  std::mt19937 rng(7);
  for (int i = 0; i < 200; ++i) {
    std::string s(rng() % 300, '\0');
    for (char& c : s) c = static_cast<char>(rng());
    ASSERT_EQ(qs::Crc32c(s), RefCrc(s)) << "len " << s.size();
    // Extending works like one pass over the concatenation.
    size_t cut = s.empty() ? 0 : rng() % s.size();
    EXPECT_EQ(qs::Crc32c(qs::Crc32c(0, s.data(), cut), s.data() + cut, s.size() - cut), RefCrc(s));
  }
}

TEST(Format, FileHeaderBytes) {
  std::string d = EncodeFileHeader(FileHeader{false, 0x01020304, 0x1122334455667788ull});
  std::string body = std::string("ZDBDATA1") + LE32(1) + LE32(0x01020304) + LE64(0x1122334455667788ull) + LE32(0);
  ASSERT_EQ(d.size(), kFileHeaderSize);
  EXPECT_EQ(d, body + LE32(RefCrc(body)));

  std::string i = EncodeFileHeader(FileHeader{true, 7, 99});
  std::string ibody = std::string("ZDBINDX1") + LE32(1) + LE32(7) + LE64(99) + LE32(0);
  EXPECT_EQ(i, ibody + LE32(RefCrc(ibody)));

  FileHeader h;
  ASSERT_TRUE(DecodeFileHeader(i, true, &h).ok());
  EXPECT_TRUE(h.is_index);
  EXPECT_EQ(h.segment_id, 7u);
  EXPECT_EQ(h.created, 99u);
  EXPECT_TRUE(DecodeFileHeader(i, false, &h).IsCorruption());           // wrong kind
  EXPECT_TRUE(DecodeFileHeader(i.substr(0, 31), true, &h).IsCorruption());
  for (size_t pos = 0; pos < kFileHeaderSize; ++pos) {
    std::string bad = i;
    bad[pos] ^= 1;
    EXPECT_TRUE(DecodeFileHeader(bad, true, &h).IsCorruption()) << pos;
  }
  // A valid checksum over an unknown version is still refused.
  std::string v2 = std::string("ZDBINDX1") + LE32(2) + LE32(7) + LE64(99) + LE32(0);
  EXPECT_TRUE(DecodeFileHeader(v2 + LE32(RefCrc(v2)), true, &h).IsCorruption());
}

TEST(Format, DataEntryBytes) {
  DataEntry e;
  e.flags = 0;
  e.timestamp = 0x0102030405060708ull;
  e.prev_segment = 3;
  e.prev_offset = 0x40;
  e.key = "key";
  e.value = "value!";
  std::string out = "prefix";
  uint32_t crc = EncodeDataEntry(e, &out);
  std::string body = std::string("\x00\x03", 2) + LE32(6) + LE64(0x0102030405060708ull) + LE32(3) + LE32(0x40) +
                     LE32(0) + "key" + "value!";
  EXPECT_EQ(out, "prefix" + WithCrc(body));
  EXPECT_EQ(crc, RefCrc(body));
  EXPECT_EQ(DataEntrySize(3, 6), 30u + 3 + 6);
  EXPECT_EQ(out.size() - 6, DataEntrySize(3, 6));

  std::string_view enc = std::string_view(out).substr(6);
  DataEntry d;
  size_t total = 0;
  ASSERT_TRUE(DecodeDataHeader(enc.substr(0, kDataEntryHeaderSize), &d, &total).ok());
  EXPECT_EQ(total, enc.size());
  ASSERT_TRUE(DecodeDataEntry(enc, &d).ok());
  EXPECT_EQ(d.key, "key");
  EXPECT_EQ(d.value, "value!");
  EXPECT_EQ(d.timestamp, 0x0102030405060708ull);
  EXPECT_EQ(d.prev_segment, 3u);
  EXPECT_EQ(d.prev_offset, 0x40u);
  EXPECT_EQ(d.crc, crc);
  EXPECT_EQ(d.flags, 0);

  // Every single-byte flip is caught; so is a short buffer.
  for (size_t pos = 0; pos < enc.size(); ++pos) {
    std::string bad(enc);
    bad[pos] ^= 0x10;
    EXPECT_FALSE(DecodeDataEntry(bad, &d).ok()) << pos;
  }
  EXPECT_TRUE(DecodeDataEntry(enc.substr(0, enc.size() - 1), &d).IsCorruption());
  EXPECT_TRUE(DecodeDataHeader(enc.substr(0, 29), &d, &total).IsCorruption());
}

TEST(Format, TombstoneAndEmptyValue) {
  DataEntry e;
  e.flags = kFlagDeleted;
  e.timestamp = 5;
  e.key = "k";
  std::string out;
  EncodeDataEntry(e, &out);
  std::string body = std::string("\x01\x01", 2) + LE32(0) + LE64(5) + LE32(kNoSegment) + LE32(0) + LE32(0) + "k";
  EXPECT_EQ(out, WithCrc(body));
  DataEntry d;
  ASSERT_TRUE(DecodeDataEntry(out, &d).ok());
  EXPECT_EQ(d.flags, kFlagDeleted);
  EXPECT_EQ(d.prev_segment, kNoSegment);
  EXPECT_TRUE(d.value.empty());
}

TEST(Format, DataHeaderRejectsBadFields) {
  DataEntry d;
  size_t total;
  // Zero key length.
  std::string body = std::string("\x00\x00", 2) + LE32(0) + LE64(0) + LE32(0) + LE32(0) + LE32(0);
  EXPECT_TRUE(DecodeDataHeader(WithCrc(body), &d, &total).IsCorruption());
  // Unknown flag bit, even with a valid checksum.
  body = std::string("\x02\x01", 2) + LE32(0) + LE64(0) + LE32(0) + LE32(0) + LE32(0) + "k";
  EXPECT_TRUE(DecodeDataEntry(WithCrc(body), &d).IsCorruption());
}

TEST(Format, IndexEntryBytes) {
  IndexEntry e;
  e.flags = kFlagDeleted;
  e.data_offset = 32;
  e.length = 39;
  e.timestamp = 1700000000;
  e.data_crc = 0xDEADBEEF;
  e.key = "abc";
  std::string out;
  EncodeIndexEntry(e, &out);
  std::string body = std::string("\x01\x03", 2) + LE32(32) + LE32(39) + LE64(1700000000) + LE32(0xDEADBEEF) + "abc";
  EXPECT_EQ(out, WithCrc(body));
  EXPECT_EQ(IndexEntrySize(3), 29u);
  EXPECT_EQ(out.size(), IndexEntrySize(3));

  IndexEntry d;
  size_t total = 0;
  ASSERT_TRUE(DecodeIndexHeader(out, &d, &total).ok());
  EXPECT_EQ(total, 29u);
  ASSERT_TRUE(DecodeIndexEntry(out, &d).ok());
  EXPECT_EQ(d.flags, kFlagDeleted);
  EXPECT_EQ(d.data_offset, 32u);
  EXPECT_EQ(d.length, 39u);
  EXPECT_EQ(d.timestamp, 1700000000u);
  EXPECT_EQ(d.data_crc, 0xDEADBEEFu);
  EXPECT_EQ(d.key, "abc");
  for (size_t pos = 0; pos < out.size(); ++pos) {
    std::string bad = out;
    bad[pos] ^= 0x01;
    EXPECT_FALSE(DecodeIndexEntry(bad, &d).ok()) << pos;
  }
  EXPECT_TRUE(DecodeIndexEntry(out.substr(0, 28), &d).IsCorruption());
}

TEST(Format, FileNames) {
  EXPECT_EQ(DataFileName(42), "zdb-data-00042");
  EXPECT_EQ(IndexFileName(0), "zdb-index-00000");
  EXPECT_EQ(DataFileName(1234567), "zdb-data-1234567");
  bool is_index = false;
  uint32_t id = 0;
  ASSERT_TRUE(ParseSegmentFileName("zdb-data-00042", &is_index, &id));
  EXPECT_FALSE(is_index);
  EXPECT_EQ(id, 42u);
  ASSERT_TRUE(ParseSegmentFileName("zdb-index-1234567", &is_index, &id));
  EXPECT_TRUE(is_index);
  EXPECT_EQ(id, 1234567u);
  for (const char* bad : {"zdb-data-", "zdb-data-12a", "zdb-data-4294967295", "zdb-data-99999999999", "zdb-namespace",
                          "zdb-index-00001.tmp", "xzdb-data-00001"}) {
    EXPECT_FALSE(ParseSegmentFileName(bad, &is_index, &id)) << bad;
  }
}

TEST(Format, NamespaceDescriptorBytes) {
  NamespaceSettings s;
  s.password = "pw";
  s.is_public = false;
  s.worm = true;
  s.locked = false;
  s.frozen = true;
  s.maxsize = 0x1000;
  s.mode = Mode::kSeq;
  std::string enc = EncodeSettings("ns1", s);
  std::string body = std::string("ZDBNS001") + LE32(1) + std::string("\x01\x0A\x00\x00", 4) + LE64(0x1000) +
                     std::string("\x03", 1) + "ns1" + std::string("\x02", 1) + "pw";
  EXPECT_EQ(enc, body + LE32(RefCrc(body)));

  std::string name;
  NamespaceSettings d;
  ASSERT_TRUE(DecodeSettings(enc, &name, &d).ok());
  EXPECT_EQ(name, "ns1");
  EXPECT_EQ(d.password, "pw");
  EXPECT_FALSE(d.is_public);
  EXPECT_TRUE(d.worm);
  EXPECT_FALSE(d.locked);
  EXPECT_TRUE(d.frozen);
  EXPECT_EQ(d.maxsize, 0x1000u);
  EXPECT_EQ(d.mode, Mode::kSeq);

  // Minimal descriptor: empty name and password, 30 bytes.
  NamespaceSettings def;
  std::string min = EncodeSettings("", def);
  EXPECT_EQ(min.size(), 30u);
  EXPECT_EQ(static_cast<uint8_t>(min[13]), 1);  // public
  ASSERT_TRUE(DecodeSettings(min, &name, &d).ok());
  EXPECT_TRUE(d.password.empty());
  EXPECT_TRUE(d.is_public);

  for (size_t pos = 0; pos < enc.size(); ++pos) {
    std::string bad = enc;
    bad[pos] ^= 0x04;
    EXPECT_TRUE(DecodeSettings(bad, &name, &d).IsCorruption()) << pos;
  }
  EXPECT_TRUE(DecodeSettings(enc.substr(0, enc.size() - 1), &name, &d).IsCorruption());
  // Bad mode with a valid checksum.
  std::string bm = body;
  bm[12] = 2;
  EXPECT_TRUE(DecodeSettings(bm + LE32(RefCrc(bm)), &name, &d).IsCorruption());
}

}  // namespace
}  // namespace zdb
