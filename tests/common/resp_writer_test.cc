#include "common/resp_writer.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "common/resp_parser.h"

namespace qs::resp {
namespace {

TEST(RespWriter, Simple) {
  std::string out;
  AppendSimple(&out, "PONG");
  EXPECT_EQ(out, "+PONG\r\n");
  AppendOk(&out);
  EXPECT_EQ(out, "+PONG\r\n+OK\r\n");  // appends, never replaces
}

TEST(RespWriter, Error) {
  std::string out = "x";
  AppendError(&out, "ERR unknown command");
  EXPECT_EQ(out, "x-ERR unknown command\r\n");
}

TEST(RespWriter, ErrorCrLfBecomeSpaces) {
  std::string out;
  AppendError(&out, "ERR bad\r\nthing\nhere\r");
  EXPECT_EQ(out, "-ERR bad  thing here \r\n");
  // The prefix already in the buffer is not touched.
  std::string out2 = "+a\r\n";
  AppendError(&out2, "\n");
  EXPECT_EQ(out2, "+a\r\n- \r\n");
}

TEST(RespWriter, Integer) {
  std::string out;
  AppendInteger(&out, 0);
  AppendInteger(&out, -1);
  AppendInteger(&out, 1234567890123LL);
  AppendInteger(&out, std::numeric_limits<int64_t>::min());
  AppendInteger(&out, std::numeric_limits<int64_t>::max());
  EXPECT_EQ(out,
            ":0\r\n:-1\r\n:1234567890123\r\n:-9223372036854775808\r\n"
            ":9223372036854775807\r\n");
}

TEST(RespWriter, Bulk) {
  std::string out;
  AppendBulk(&out, "hello");
  EXPECT_EQ(out, "$5\r\nhello\r\n");
  out.clear();
  AppendBulk(&out, "");
  EXPECT_EQ(out, "$0\r\n\r\n");
  out.clear();
  std::string bin("a\r\n\0b", 5);
  AppendBulk(&out, bin);
  EXPECT_EQ(out, std::string("$5\r\na\r\n\0b\r\n", 11));
}

TEST(RespWriter, BulkHeaderThenPayload) {
  std::string out;
  std::string big(100000, 'x');
  AppendBulkHeader(&out, big.size());
  EXPECT_EQ(out, "$100000\r\n");
  out += big;
  out += "\r\n";
  std::string ref;
  AppendBulk(&ref, big);
  EXPECT_EQ(out, ref);
}

TEST(RespWriter, NilsAndArrays) {
  std::string out;
  AppendNil(&out);
  AppendNilArray(&out);
  AppendArrayHeader(&out, 0);
  AppendArrayHeader(&out, 3);
  AppendArrayHeader(&out, 1000000);
  EXPECT_EQ(out, "$-1\r\n*-1\r\n*0\r\n*3\r\n*1000000\r\n");
}

// A request written with the writer's bulk/array helpers parses back to the
// same argv, so clients in this tree (which reuse them) speak our protocol.
TEST(RespWriter, RoundTripThroughParser) {
  std::vector<std::string> args = {"SET", "key", std::string("v\0\r\n", 4), ""};
  std::string out;
  AppendArrayHeader(&out, static_cast<int64_t>(args.size()));
  for (const auto& a : args) AppendBulk(&out, a);
  qs::RespParser p;
  size_t consumed = 0;
  std::vector<std::string_view> argv;
  ASSERT_EQ(p.Parse(out.data(), out.size(), &consumed, &argv),
            qs::RespParser::Result::kCommand);
  EXPECT_EQ(consumed, out.size());
  ASSERT_EQ(argv.size(), args.size());
  for (size_t i = 0; i < args.size(); i++) EXPECT_EQ(argv[i], args[i]);
}

}  // namespace
}  // namespace qs::resp
