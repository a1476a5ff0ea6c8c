// The zstor daemon's reply codecs: every reply type survives Encode, the
// wire (read back by hiredis, as the CLI reads it) and Decode unchanged;
// every malformed shape decodes to an error naming what is wrong, never to
// a crash or a wrongly filled field; error replies map to Status by code.
#include "zstor/replies.h"

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <climits>
#include <functional>
#include <string>
#include <vector>

namespace zstor {
namespace {

using qs::Reply;
using qs::Status;

Reply Convert(const redisReply* r) {
  Reply out;
  switch (r->type) {
    case REDIS_REPLY_STATUS: out.type = Reply::Type::kStatus; out.str.assign(r->str, r->len); break;
    case REDIS_REPLY_ERROR: out.type = Reply::Type::kError; out.str.assign(r->str, r->len); break;
    case REDIS_REPLY_STRING: out.type = Reply::Type::kString; out.str.assign(r->str, r->len); break;
    case REDIS_REPLY_INTEGER: out.type = Reply::Type::kInteger; out.integer = r->integer; break;
    case REDIS_REPLY_ARRAY:
      out.type = Reply::Type::kArray;
      for (size_t i = 0; i < r->elements; ++i) out.elements.push_back(Convert(r->element[i]));
      break;
    default: out.type = Reply::Type::kNil; break;
  }
  return out;
}

// The bytes as a client reads them: exactly one complete reply.
Reply Wire(const std::string& bytes) {
  redisReader* reader = redisReaderCreate();
  EXPECT_EQ(redisReaderFeed(reader, bytes.data(), bytes.size()), REDIS_OK);
  void* raw = nullptr;
  EXPECT_EQ(redisReaderGetReply(reader, &raw), REDIS_OK);
  EXPECT_NE(raw, nullptr) << "incomplete reply: " << bytes;
  Reply r = raw != nullptr ? Convert(static_cast<redisReply*>(raw)) : Reply();
  if (raw != nullptr) freeReplyObject(raw);
  void* extra = nullptr;
  EXPECT_EQ(redisReaderGetReply(reader, &extra), REDIS_OK);
  EXPECT_EQ(extra, nullptr) << "more than one reply: " << bytes;
  redisReaderFree(reader);
  return r;
}

Reply Int(int64_t v) {
  Reply r;
  r.type = Reply::Type::kInteger;
  r.integer = v;
  return r;
}
Reply Str(std::string s) {
  Reply r;
  r.type = Reply::Type::kString;
  r.str = std::move(s);
  return r;
}
Reply Arr(std::vector<Reply> e) {
  Reply r;
  r.type = Reply::Type::kArray;
  r.elements = std::move(e);
  return r;
}
Reply Err(std::string s) {
  Reply r;
  r.type = Reply::Type::kError;
  r.str = std::move(s);
  return r;
}

// Passes when s is an IOError whose message contains part.
::testing::AssertionResult MalformedWith(const Status& s, const std::string& part) {
  if (s.ok()) return ::testing::AssertionFailure() << "decoded a malformed reply";
  if (s.code() != Status::Code::kIOError || s.message().find(part) == std::string::npos)
    return ::testing::AssertionFailure() << s.ToString() << " does not say '" << part << "'";
  return ::testing::AssertionSuccess();
}

CheckReport SampleCheck() {
  CheckReport c;
  c.size = (uint64_t{1} << 40) + 7;
  c.chunks = 3;
  c.fragments = 60;
  c.fragments_ok = 58;
  c.min_chunk_ok = 18;
  c.k = 16;
  c.m = 4;
  return c;
}

SweepReport SampleSweep() {
  SweepReport s;
  s.records = 1;
  s.referenced = 2;
  s.intent = 3;
  s.backends = 4;
  s.scanned = 5;
  s.young = 6;
  s.orphans = 7;
  s.deleted = 8;
  s.bytes = uint64_t{1} << 35;
  s.complete = false;
  s.skipped = {"127.0.0.1:9901: down", std::string("b: \r\n binary \0 name", 19)};
  return s;
}

TEST(RepliesTest, OkRoundTrips) {
  std::string out;
  EncodeOk(&out);
  EXPECT_EQ(out, "+OK\r\n");
  EXPECT_TRUE(DecodeOk(Wire(out)).ok());
  EXPECT_TRUE(MalformedWith(DecodeOk(Int(1)), "expected +OK, got the integer 1"));
  Reply pong;
  pong.type = Reply::Type::kStatus;
  pong.str = "PONG";
  EXPECT_TRUE(MalformedWith(DecodeOk(pong), "expected +OK, got a status"));
  EXPECT_TRUE(DecodeOk(Err("NOTFOUND no object stored at /x")).IsNotFound());
}

TEST(RepliesTest, CountRoundTrips) {
  for (uint64_t n : {uint64_t{0}, uint64_t{1}, uint64_t{INT64_MAX}}) {
    std::string out;
    EncodeCount(n, &out);
    auto r = DecodeCount(Wire(out));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(*r, n);
  }
  EXPECT_TRUE(MalformedWith(DecodeCount(Int(-1)).status(), "malformed count reply: count: -1 is out of range"));
  EXPECT_TRUE(MalformedWith(DecodeCount(Str("3")).status(), "count: expected an integer, got a string"));
  EXPECT_TRUE(MalformedWith(DecodeCount(Reply()).status(), "got nil"));
  EXPECT_TRUE(DecodeCount(Err("UNAVAILABLE repair needs the monitor")).status().code() == Status::Code::kUnavailable);
}

TEST(RepliesTest, CheckReportRoundTrips) {
  std::string out;
  EncodeCheckReport(SampleCheck(), &out);
  auto r = DecodeCheckReport(Wire(out));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  CheckReport want = SampleCheck();
  EXPECT_EQ(r->size, want.size);
  EXPECT_EQ(r->chunks, want.chunks);
  EXPECT_EQ(r->fragments, want.fragments);
  EXPECT_EQ(r->fragments_ok, want.fragments_ok);
  EXPECT_EQ(r->min_chunk_ok, want.min_chunk_ok);
  EXPECT_EQ(r->k, want.k);
  EXPECT_EQ(r->m, want.m);
}

TEST(RepliesTest, MalformedCheckReportsAreErrors) {
  auto ints = [](std::vector<int64_t> v) {
    std::vector<Reply> e;
    for (int64_t x : v) e.push_back(Int(x));
    return Arr(e);
  };
  EXPECT_TRUE(MalformedWith(DecodeCheckReport(Int(7)).status(), "malformed CHECK reply: expected an array, got the integer 7"));
  EXPECT_TRUE(MalformedWith(DecodeCheckReport(Reply()).status(), "expected an array, got nil"));
  EXPECT_TRUE(MalformedWith(DecodeCheckReport(ints({1, 2, 3, 4, 5, 6})).status(), "expected 7 elements, got 6"));
  EXPECT_TRUE(MalformedWith(DecodeCheckReport(ints({1, 2, 3, 4, 5, 6, 7, 8})).status(), "expected 7 elements, got 8"));
  EXPECT_TRUE(MalformedWith(DecodeCheckReport(ints({1, -2, 3, 4, 5, 6, 7})).status(), "chunks: -2 is out of range"));
  EXPECT_TRUE(MalformedWith(DecodeCheckReport(ints({1, 2, 3, 4, 5, int64_t{INT_MAX} + 1, 7})).status(), "k: 2147483648 is out of range"));
  Reply wrong_type = ints({1, 2, 3, 4, 5, 6, 7});
  wrong_type.elements[3] = Str("4");
  EXPECT_TRUE(MalformedWith(DecodeCheckReport(wrong_type).status(), "fragments_ok: expected an integer, got a string"));
  wrong_type.elements[3] = Arr({});
  EXPECT_TRUE(MalformedWith(DecodeCheckReport(wrong_type).status(), "fragments_ok: expected an integer, got an array of 0"));
  // An error reply is the daemon's error, by its code.
  auto r = DecodeCheckReport(Err("NOTFOUND no object stored at /x"));
  EXPECT_TRUE(r.status().IsNotFound());
  EXPECT_EQ(r.status().message(), "no object stored at /x");
}

TEST(RepliesTest, ObjectListRoundTrips) {
  std::vector<ObjectSummary> l = {{"/a", 0, 0, 0}, {"/with space/and\r\nnewline", uint64_t{1} << 50, 12, 1700000000}};
  for (const auto& want : {std::vector<ObjectSummary>{}, l}) {
    std::string out;
    EncodeObjectList(want, &out);
    auto r = DecodeObjectList(Wire(out));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(*r, want);
  }
}

TEST(RepliesTest, MalformedObjectListsAreErrors) {
  Reply row = Arr({Str("/a"), Int(1), Int(2), Int(3)});
  EXPECT_TRUE(MalformedWith(DecodeObjectList(Str("x")).status(), "malformed LIST reply: expected an array, got a string"));
  EXPECT_TRUE(MalformedWith(DecodeObjectList(Arr({row, Int(5)})).status(), "expected an array, got the integer 5"));
  EXPECT_TRUE(MalformedWith(DecodeObjectList(Arr({Arr({Str("/a"), Int(1), Int(2)})})).status(), "expected 4 elements, got 3"));
  EXPECT_TRUE(MalformedWith(DecodeObjectList(Arr({Arr({Int(1), Int(1), Int(2), Int(3)})})).status(), "key: expected a string, got the integer 1"));
  EXPECT_TRUE(MalformedWith(DecodeObjectList(Arr({Arr({Str("/a"), Int(-1), Int(2), Int(3)})})).status(), "size: -1 is out of range"));
  EXPECT_TRUE(MalformedWith(DecodeObjectList(Arr({Arr({Str("/a"), Int(1), Reply(), Int(3)})})).status(), "chunks: expected an integer, got nil"));
  EXPECT_TRUE(DecodeObjectList(Err("CORRUPTION record /a: bad tag")).status().IsCorruption());
}

TEST(RepliesTest, BackendRowsRoundTrip) {
  std::vector<BackendRow> rows = {{"data", "127.0.0.1:9901", "", 0, true, 12, 4096, 1 << 30},
                                  {"data", "[::1]:9902", "", 3, false, -1, -1, -1},
                                  {"meta", "unix:/run/zdb.sock", "", -1, true, 0, 0, 0}};
  std::string out;
  EncodeBackendRows(rows, &out);
  auto r = DecodeBackendRows(Wire(out));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, rows);
  // Why a backend is down is known in-process only: never sent.
  rows[1].error = "connection refused";
  out.clear();
  EncodeBackendRows(rows, &out);
  r = DecodeBackendRows(Wire(out));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)[1].error, "");
}

TEST(RepliesTest, MalformedBackendRowsAreErrors) {
  auto row = [](std::vector<Reply> e) { return Arr({Arr(std::move(e))}); };
  EXPECT_TRUE(MalformedWith(DecodeBackendRows(Int(0)).status(), "malformed STATUS reply: expected an array"));
  EXPECT_TRUE(MalformedWith(DecodeBackendRows(row({Str("data"), Str("b"), Int(0), Int(1), Int(0), Int(0)})).status(), "expected 7 elements, got 6"));
  EXPECT_TRUE(MalformedWith(DecodeBackendRows(row({Str("data"), Str("b"), Int(0), Int(2), Int(0), Int(0), Int(0)})).status(), "up: 2 is out of range"));
  EXPECT_TRUE(MalformedWith(DecodeBackendRows(row({Str("data"), Str("b"), Int(0), Int(1), Int(-2), Int(0), Int(0)})).status(), "fragments: -2 is out of range"));
  EXPECT_TRUE(MalformedWith(DecodeBackendRows(row({Str("data"), Str("b"), Int(-2), Int(1), Int(0), Int(0), Int(0)})).status(), "group: -2 is out of range"));
  EXPECT_TRUE(MalformedWith(DecodeBackendRows(row({Str("data"), Str("b"), Int(int64_t{INT_MAX} + 1), Int(1), Int(0), Int(0), Int(0)})).status(), "group: 2147483648 is out of range"));
  EXPECT_TRUE(MalformedWith(DecodeBackendRows(row({Str("spare"), Str("b"), Int(0), Int(1), Int(0), Int(0), Int(0)})).status(), "role: expected data or meta"));
  EXPECT_TRUE(MalformedWith(DecodeBackendRows(row({Str("data"), Int(9), Int(0), Int(1), Int(0), Int(0), Int(0)})).status(), "backend: expected a string"));
}

TEST(RepliesTest, StagingStatsRoundTrip) {
  StagingStats on{true, 3, 1, "upload of x: backend down", 1 << 20, 1 << 30};
  for (const auto& want : {StagingStats{}, on}) {
    std::string out;
    EncodeStagingStats(want, &out);
    auto r = DecodeStagingStats(Wire(out));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(*r, want);
  }
}

TEST(RepliesTest, MalformedStagingStatsAreErrors) {
  EXPECT_TRUE(MalformedWith(DecodeStagingStats(Arr({Int(1), Int(2), Int(3), Str(""), Int(5)})).status(), "malformed STAGING reply: expected 6 elements, got 5"));
  EXPECT_TRUE(MalformedWith(DecodeStagingStats(Arr({Int(1), Int(2), Int(3), Int(4), Int(5), Int(6)})).status(), "last_error: expected a string"));
  EXPECT_TRUE(MalformedWith(DecodeStagingStats(Arr({Int(1), Int(-2), Int(3), Str(""), Int(5), Int(6)})).status(), "jobs: -2 is out of range"));
  // A daemon without STAGING answers with the request error.
  EXPECT_EQ(DecodeStagingStats(Err("ERR unknown command 'STAGING'")).status().code(), Status::Code::kInvalidArgument);
}

TEST(RepliesTest, SweepReportRoundTrips) {
  for (const auto& want : {SweepReport{}, SampleSweep()}) {
    std::string out;
    EncodeSweepReport(want, &out);
    auto r = DecodeSweepReport(Wire(out));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->records, want.records);
    EXPECT_EQ(r->referenced, want.referenced);
    EXPECT_EQ(r->intent, want.intent);
    EXPECT_EQ(r->backends, want.backends);
    EXPECT_EQ(r->scanned, want.scanned);
    EXPECT_EQ(r->young, want.young);
    EXPECT_EQ(r->orphans, want.orphans);
    EXPECT_EQ(r->deleted, want.deleted);
    EXPECT_EQ(r->bytes, want.bytes);
    EXPECT_EQ(r->complete, want.complete);
    EXPECT_EQ(r->skipped, want.skipped);
  }
}

TEST(RepliesTest, MalformedSweepReportsAreErrors) {
  std::string out;
  EncodeSweepReport(SampleSweep(), &out);
  const Reply good = Wire(out);
  Reply r = good;
  r.elements.pop_back();
  EXPECT_TRUE(MalformedWith(DecodeSweepReport(r).status(), "malformed SWEEP reply: expected 11 elements, got 10"));
  r = good;
  r.elements[10] = Int(0);
  EXPECT_TRUE(MalformedWith(DecodeSweepReport(r).status(), "skipped: expected an array, got the integer 0"));
  r = good;
  r.elements[10].elements[1] = Int(3);
  EXPECT_TRUE(MalformedWith(DecodeSweepReport(r).status(), "skipped: expected a string, got the integer 3"));
  r = good;
  r.elements[9] = Int(2);
  EXPECT_TRUE(MalformedWith(DecodeSweepReport(r).status(), "complete: 2 is out of range"));
  r = good;
  r.elements[6] = Int(-7);
  EXPECT_TRUE(MalformedWith(DecodeSweepReport(r).status(), "orphans: -7 is out of range"));
  EXPECT_TRUE(MalformedWith(DecodeSweepReport(Str("")).status(), "expected an array, got a string"));
}

TEST(RepliesTest, ErrorsTravelByCode) {
  const std::vector<Status> all = {
      Status::NotFound("no object stored at /x"), Status::Corruption("chunk 3: bad tag"),
      Status::InvalidArgument("staging is off (config key 'zdb_data_dir_path')"), Status::IOError("write: EIO"),
      Status::NoSpace("backend full"), Status::PermissionDenied("denied"), Status::Unavailable("3 backends down"),
      Status::AlreadyExists("exists"), Status::Busy("busy"), Status::LimitExceeded("quota"), Status::NotSupported("no PROVE"),
      Status::NotFound("")};
  for (const Status& s : all) {
    std::string out;
    EncodeError(s, &out);
    Reply r = Wire(out);
    ASSERT_TRUE(r.is_error()) << out;
    EXPECT_EQ(r.str.substr(0, r.str.find(' ')), ErrorCode(s.code())) << out;
    Status back = DecodeError(r.str);
    EXPECT_EQ(back.code(), s.code()) << out;
    EXPECT_EQ(back.message(), s.message()) << out;
  }
  std::string out;
  EncodeError(Status::NotFound("no object stored at /x"), &out);
  EXPECT_EQ(out, "-NOTFOUND no object stored at /x\r\n");
  out.clear();
  EncodeError(Status::Corruption("two\r\nlines"), &out);
  EXPECT_EQ(out, "-CORRUPTION two  lines\r\n");
  out.clear();
  EncodeRequestError("unknown command 'FROB'", &out);
  EXPECT_EQ(out, "-ERR unknown command 'FROB'\r\n");
  Status req = DecodeError("ERR wrong number of arguments for STORE");
  EXPECT_EQ(req.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(req.message(), "wrong number of arguments for STORE");
  // Not a code: the whole text, as an I/O error; never a wrong code from a
  // word that merely looks like one.
  for (const char* text : {"no object stored at /x", "notfound lower case", "NOTFOUNDX y", "", "  "}) {
    Status s = DecodeError(text);
    EXPECT_EQ(s.code(), Status::Code::kIOError) << text;
    EXPECT_EQ(s.message(), std::string(text).empty() ? "error reply without a text" : text) << text;
  }
}

}  // namespace
}  // namespace zstor
