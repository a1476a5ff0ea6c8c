#include "common/resp_parser.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace qs {
namespace {

using Argv = std::vector<std::string>;
using R = RespParser::Result;

// Built with append: GCC 12 warns (-Wrestrict, a false positive) on
// "literal" + std::string temporaries in optimised builds.
std::string Header(char type, size_t n) {
  std::string out(1, type);
  out.append(std::to_string(n)).append("\r\n");
  return out;
}

std::string Bulk(std::string_view s) {
  std::string out = Header('$', s.size());
  out.append(s).append("\r\n");
  return out;
}

std::string Multibulk(const Argv& args) {
  std::string out = Header('*', args.size());
  for (const auto& a : args) out += Bulk(a);
  return out;
}

// What a connection saw: the commands parsed, in order, and how the stream
// ended (kNeedMore when the input ran out cleanly, or kError).
struct Outcome {
  std::vector<Argv> commands;
  R last = R::kNeedMore;
  std::string error;
  size_t leftover = 0;  // unconsumed bytes at the end
};

// Feeds `input` the way a server would: bytes arrive in chunks of the given
// sizes (cycled), each command's bytes are dropped after kCommand and the
// parser is called again on the rest before more bytes are read.
Outcome Feed(std::string_view input, const std::vector<size_t>& chunks,
             RespLimits limits = {}) {
  RespParser p(limits);
  Outcome o;
  std::string buf;
  size_t in = 0, ci = 0;
  for (;;) {
    size_t consumed = 12345;
    std::vector<std::string_view> argv;
    R r = p.Parse(buf.data(), buf.size(), &consumed, &argv);
    if (r == R::kCommand) {
      EXPECT_GT(consumed, 0u);
      EXPECT_LE(consumed, buf.size());
      Argv a;
      for (auto v : argv) a.emplace_back(v);
      o.commands.push_back(std::move(a));
      buf.erase(0, consumed);
      continue;
    }
    EXPECT_EQ(consumed, 0u);
    if (r == R::kError) {
      o.last = r;
      o.error = p.error();
      o.leftover = buf.size();
      return o;
    }
    if (in == input.size()) {
      o.last = R::kNeedMore;
      o.leftover = buf.size();
      return o;
    }
    size_t n = chunks.empty() ? input.size() : chunks[ci++ % chunks.size()];
    n = std::max<size_t>(1, std::min(n, input.size() - in));
    buf.append(input.substr(in, n));
    in += n;
  }
}

Outcome FeedAll(std::string_view input, RespLimits limits = {}) {
  return Feed(input, {}, limits);
}

// Parses one complete command from `input` in a single call.
R ParseOnce(std::string_view input, std::vector<std::string_view>* argv,
            size_t* consumed, std::string* error = nullptr,
            RespLimits limits = {}) {
  RespParser p(limits);
  R r = p.Parse(input.data(), input.size(), consumed, argv);
  if (error != nullptr) *error = p.error();
  return r;
}

TEST(RespParser, SimpleMultibulk) {
  std::string in = "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n";
  std::vector<std::string_view> argv;
  size_t consumed = 0;
  ASSERT_EQ(ParseOnce(in, &argv, &consumed), R::kCommand);
  EXPECT_EQ(consumed, in.size());
  ASSERT_EQ(argv.size(), 3u);
  EXPECT_EQ(argv[0], "SET");
  EXPECT_EQ(argv[1], "key");
  EXPECT_EQ(argv[2], "value");
}

TEST(RespParser, MultibulkArgsPointIntoBuffer) {
  std::string in = Multibulk({"GET", "some-key", ""});
  std::vector<std::string_view> argv;
  size_t consumed = 0;
  ASSERT_EQ(ParseOnce(in, &argv, &consumed), R::kCommand);
  ASSERT_EQ(argv.size(), 3u);
  // Zero copy: "GET" sits right after "*3\r\n$3\r\n".
  EXPECT_EQ(argv[0].data(), in.data() + 8);
  for (auto v : argv) {
    EXPECT_GE(v.data(), in.data());
    EXPECT_LE(v.data() + v.size(), in.data() + in.size());
  }
  EXPECT_EQ(argv[2], "");
}

TEST(RespParser, EmptyInputNeedsMore) {
  RespParser p;
  size_t consumed = 7;
  std::vector<std::string_view> argv{"junk"};
  EXPECT_EQ(p.Parse("", 0, &consumed, &argv), R::kNeedMore);
  EXPECT_EQ(consumed, 0u);
  EXPECT_TRUE(argv.empty());
}

TEST(RespParser, EmptyArgvCases) {
  struct Case {
    std::string in;
    size_t consumed;
  };
  for (const Case& c : std::vector<Case>{{"\r\n", 2},
                                         {"\n", 1},
                                         {"   \t \r\n", 7}}) {
    SCOPED_TRACE(c.in);
    std::vector<std::string_view> argv{"junk"};
    size_t consumed = 0;
    ASSERT_EQ(ParseOnce(c.in, &argv, &consumed), R::kCommand);
    EXPECT_EQ(consumed, c.consumed);
    EXPECT_TRUE(argv.empty());
  }
}

TEST(RespParser, SplitAtEveryPosition) {
  std::vector<std::pair<std::string, Argv>> cases = {
      {Multibulk({"SET", "k", "v"}), {"SET", "k", "v"}},
      {Multibulk({"PING"}), {"PING"}},
      {Multibulk({"", "x", ""}), {"", "x", ""}},
      {Multibulk({std::string("a\r\nb\0c\r\n", 8), "\r\n"}),
       {std::string("a\r\nb\0c\r\n", 8), "\r\n"}},
      {Multibulk({std::string(300, 'z'), "tail"}), {std::string(300, 'z'), "tail"}},
      {"PING\r\n", {"PING"}},
      {"set  k\t\"hello world\"\n", {"set", "k", "hello world"}},
      {"SET k 'it\\'s' \"\\x41\\n\"\r\n", {"SET", "k", "it's", "A\n"}},
  };
  for (const auto& [in, want] : cases) {
    SCOPED_TRACE(in);
    for (size_t split = 0; split <= in.size(); split++) {
      SCOPED_TRACE(split);
      Outcome o = Feed(in, {split, in.size()});
      ASSERT_EQ(o.last, R::kNeedMore) << o.error;
      ASSERT_EQ(o.commands.size(), 1u);
      EXPECT_EQ(o.commands[0], want);
      EXPECT_EQ(o.leftover, 0u);
    }
    Outcome o = Feed(in, {1});  // one byte at a time
    ASSERT_EQ(o.commands.size(), 1u);
    EXPECT_EQ(o.commands[0], want);
  }
}

TEST(RespParser, PipelinedSplitAtEveryPosition) {
  std::string in = Multibulk({"SET", "a", "1"}) + "PING\r\n" +
                   Multibulk({"GET", "a"}) + "\n" + "echo \"x y\"\r\n";
  std::vector<Argv> want = {{"SET", "a", "1"}, {"PING"}, {"GET", "a"}, {}, {"echo", "x y"}};
  for (size_t split = 0; split <= in.size(); split++) {
    SCOPED_TRACE(split);
    Outcome o = Feed(in, {split, in.size()});
    ASSERT_EQ(o.last, R::kNeedMore);
    EXPECT_EQ(o.commands, want);
  }
  for (size_t chunk : {1, 2, 3, 5, 7}) {
    Outcome o = Feed(in, {chunk});
    EXPECT_EQ(o.commands, want) << chunk;
  }
}

TEST(RespParser, Pipelined1000Commands) {
  std::string in;
  std::vector<Argv> want;
  for (int i = 0; i < 1000; i++) {
    Argv a = {"SET", "key:" + std::to_string(i), std::string(i % 37, 'v')};
    in += (i % 10 == 9) ? "SET " + a[1] + " \"" + a[2] + "\"\r\n" : Multibulk(a);
    want.push_back(a);
  }
  // One buffer, parsed by offset the way a server walks its read buffer.
  RespParser p;
  size_t off = 0;
  for (int i = 0; i < 1000; i++) {
    size_t consumed = 0;
    std::vector<std::string_view> argv;
    ASSERT_EQ(p.Parse(in.data() + off, in.size() - off, &consumed, &argv), R::kCommand) << i;
    ASSERT_EQ(argv.size(), 3u);
    EXPECT_EQ(argv[1], want[i][1]);
    EXPECT_EQ(argv[2], want[i][2]);
    off += consumed;
  }
  EXPECT_EQ(off, in.size());
  size_t consumed = 0;
  std::vector<std::string_view> argv;
  EXPECT_EQ(p.Parse(in.data() + off, 0, &consumed, &argv), R::kNeedMore);

  Outcome o = Feed(in, {4096});
  EXPECT_EQ(o.commands, want);
  Outcome o2 = Feed(in, {1, 13, 100});
  EXPECT_EQ(o2.commands, want);
}

TEST(RespParser, BinaryDataWithCrlfInsideBulk) {
  std::string v;
  for (int i = 0; i < 256; i++) v.push_back(static_cast<char>(i));
  v += "\r\n*1\r\n$3\r\n\r\n\r\n";
  std::string in = Multibulk({"SET", v, "\r\n"});
  Outcome o = Feed(in, {1});
  ASSERT_EQ(o.commands.size(), 1u);
  EXPECT_EQ(o.commands[0], (Argv{"SET", v, "\r\n"}));
  Outcome o2 = FeedAll(in);
  EXPECT_EQ(o2.commands, o.commands);
}

TEST(RespParser, BulkOfExactlyMaxBulk) {
  RespLimits lim;
  std::string value(lim.max_bulk, 'x');
  value[0] = 'a';
  value.back() = 'z';
  std::string in = "*2\r\n$3\r\nSET\r\n" + Bulk(value);
  std::vector<std::string_view> argv;
  size_t consumed = 0;
  ASSERT_EQ(ParseOnce(in, &argv, &consumed), R::kCommand);
  EXPECT_EQ(consumed, in.size());
  ASSERT_EQ(argv.size(), 2u);
  EXPECT_EQ(argv[1].size(), lim.max_bulk);
  EXPECT_EQ(argv[1].front(), 'a');
  EXPECT_EQ(argv[1].back(), 'z');
}

TEST(RespParser, BulkOfMaxBulkPlusOneIsRejectedFromHeader) {
  RespLimits lim;
  // Rejected as soon as the length line is complete, before any data.
  std::string in = "*2\r\n$3\r\nSET\r\n$" + std::to_string(lim.max_bulk + 1) + "\r\n";
  Outcome o = Feed(in, {1});
  EXPECT_EQ(o.last, R::kError);
  EXPECT_EQ(o.error, "Protocol error: invalid bulk length");
  std::string full = in + std::string(lim.max_bulk + 1, 'x') + "\r\n";
  o = FeedAll(full);
  EXPECT_EQ(o.last, R::kError);
  EXPECT_EQ(o.error, "Protocol error: invalid bulk length");
  EXPECT_TRUE(o.commands.empty());
}

TEST(RespParser, SmallMaxBulkBoundary) {
  RespLimits lim;
  lim.max_bulk = 10;
  EXPECT_EQ(FeedAll(Multibulk({std::string(10, 'a')}), lim).commands.size(), 1u);
  Outcome o = FeedAll(Multibulk({std::string(11, 'a')}), lim);
  EXPECT_EQ(o.last, R::kError);
  EXPECT_EQ(o.error, "Protocol error: invalid bulk length");
}

// An 8 MiB bulk arriving one byte per read must cost O(bytes): a parser that
// rescans the buffer on each call would do ~3.5e13 steps here and time out.
TEST(RespParser, HugeBulkOneByteAtATimeIsLinear) {
  RespLimits lim;
  std::string value(lim.max_bulk, '\0');
  for (size_t i = 0; i < value.size(); i++) value[i] = static_cast<char>(i * 131);
  std::string in = "*2\r\n$3\r\nSET\r\n" + Bulk(value);

  RespParser p;
  std::string buf;
  buf.reserve(in.size());
  auto start = std::chrono::steady_clock::now();
  size_t consumed = 0;
  std::vector<std::string_view> argv;
  R r = R::kNeedMore;
  size_t header = std::string("*2\r\n$3\r\nSET\r\n$8388608\r\n").size();
  for (size_t i = 0; i < in.size(); i++) {
    buf.push_back(in[i]);
    r = p.Parse(buf.data(), buf.size(), &consumed, &argv);
    if (i + 1 < in.size()) {
      ASSERT_EQ(r, R::kNeedMore) << i;
      if (buf.size() >= header) {
        ASSERT_EQ(p.bytes_needed(), in.size()) << i;
      }
    }
  }
  auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(r, R::kCommand);
  EXPECT_EQ(consumed, in.size());
  ASSERT_EQ(argv.size(), 2u);
  EXPECT_TRUE(argv[1] == value);
  EXPECT_EQ(p.bytes_needed(), 0u);
  EXPECT_LT(secs, 60.0);
}

TEST(RespParser, BytesNeeded) {
  RespParser p;
  std::string in = "*2\r\n$1\r\na\r\n$10\r\n0123";
  size_t consumed = 0;
  std::vector<std::string_view> argv;
  EXPECT_EQ(p.Parse(in.data(), 4, &consumed, &argv), R::kNeedMore);
  EXPECT_EQ(p.bytes_needed(), 0u);  // no bulk header seen yet
  EXPECT_EQ(p.Parse(in.data(), 9, &consumed, &argv), R::kNeedMore);
  EXPECT_EQ(p.bytes_needed(), 4u + 4 + 1 + 2);
  EXPECT_EQ(p.Parse(in.data(), in.size(), &consumed, &argv), R::kNeedMore);
  EXPECT_EQ(p.bytes_needed(), 11u + 5 + 10 + 2);
  in += "456789\r\n";
  EXPECT_EQ(p.Parse(in.data(), in.size(), &consumed, &argv), R::kCommand);
  EXPECT_EQ(consumed, in.size());
  EXPECT_EQ(p.bytes_needed(), 0u);
}

TEST(RespParser, MaxArgsLimit) {
  RespLimits lim;
  lim.max_args = 3;
  Outcome ok = FeedAll(Multibulk({"a", "b", "c"}), lim);
  ASSERT_EQ(ok.commands.size(), 1u);
  EXPECT_EQ(ok.commands[0].size(), 3u);
  Outcome bad = FeedAll("*4\r\n", lim);  // rejected from the header alone
  EXPECT_EQ(bad.last, R::kError);
  EXPECT_EQ(bad.error, "Too many arguments");

  RespLimits def;
  EXPECT_EQ(def.max_args, 1024u);  // 0-db's limit
  EXPECT_EQ(FeedAll(Header('*', def.max_args)).last, R::kNeedMore);
  Outcome big = FeedAll(Header('*', def.max_args + 1));
  EXPECT_EQ(big.last, R::kError);
  EXPECT_EQ(big.error, "Too many arguments");
}

// A command needs a name: 0-db answers an empty array with an error.
TEST(RespParser, EmptyArrayIsAnError) {
  for (const char* in : {"*0\r\n", "*-1\r\n", "*-2\r\n", "*0\r\n*1\r\n$4\r\nPING\r\n"}) {
    SCOPED_TRACE(in);
    Outcome o = FeedAll(in);
    EXPECT_EQ(o.last, R::kError);
    EXPECT_EQ(o.error, "Missing arguments");
    EXPECT_TRUE(o.commands.empty());
  }
}

// The whole request is bounded, not only each argument: refused from the
// bulk header that would cross the limit, before its bytes arrive.
TEST(RespParser, MaxRequestLimit) {
  RespLimits lim;
  lim.max_bulk = 100;
  lim.max_request = 200;
  std::string ok = Multibulk({"SET", "k", std::string(100, 'v')});
  ASSERT_LE(ok.size(), 200u);
  Outcome o = FeedAll(ok, lim);
  ASSERT_EQ(o.commands.size(), 1u);
  EXPECT_EQ(o.commands[0][2], std::string(100, 'v'));
  // Three bulks of 90 bytes: each under max_bulk, together over max_request.
  std::string in = "*3\r\n$90\r\n" + std::string(90, 'a') + "\r\n$90\r\n" + std::string(90, 'b') + "\r\n$90\r\n";
  Outcome big = FeedAll(in, lim);
  EXPECT_EQ(big.last, R::kError);
  EXPECT_EQ(big.error, "Protocol error: request too large");
  EXPECT_TRUE(big.commands.empty());
  // Exactly at the limit is accepted, one byte more is not.
  lim.max_bulk = 200;
  std::string exact = "*1\r\n$188\r\n" + std::string(188, 'x') + "\r\n";
  ASSERT_EQ(exact.size(), 200u);
  Outcome at = FeedAll(exact, lim);
  ASSERT_EQ(at.commands.size(), 1u) << at.error;
  Outcome over = FeedAll("*1\r\n$189\r\n", lim);
  EXPECT_EQ(over.error, "Protocol error: request too large");
}

TEST(RespParser, ManyEmptyArguments) {
  RespLimits lim;
  lim.max_args = 100000;
  std::string in = "*100000\r\n";
  for (int i = 0; i < 100000; i++) in += "$0\r\n\r\n";
  Outcome o = Feed(in, {65536}, lim);
  ASSERT_EQ(o.commands.size(), 1u) << o.error;
  EXPECT_EQ(o.commands[0].size(), 100000u);
}

TEST(RespParser, MalformedInputs) {
  const std::string kMb = "Protocol error: invalid multibulk length";
  const std::string kBulk = "Protocol error: invalid bulk length";
  const std::string kCrlf = "Protocol error: expected CRLF after bulk";
  std::vector<std::pair<std::string, std::string>> cases = {
      {"*x\r\n", kMb},
      {"*\r\n", kMb},
      {"*+1\r\n", kMb},
      {"*01\r\n", kMb},
      {"* 1\r\n", kMb},
      {"*1 \r\n", kMb},
      {"*1\rX", kMb},
      {"*99999999999999999999\r\n", kMb},
      {"*123456789012345678901234567890", kMb},  // no CR, already too long
      {"*1\r\n$x\r\n", kBulk},
      {"*1\r\n$\r\n", kBulk},
      {"*1\r\n$-1\r\n", kBulk},
      {"*1\r\n$-5\r\n", kBulk},
      {"*1\r\n$01\r\n", kBulk},
      {"*1\r\n$3\rx", kBulk},
      {"*1\r\n$9223372036854775807\r\n", kBulk},
      {"*1\r\n$1234567890123456789012345", kBulk},
      {"*1\r\n$3\r\nabcd\r\n", kCrlf},
      {"*1\r\n$3\r\nabc\rX", kCrlf},
      {"*1\r\n$3\r\nabc\n\r", kCrlf},
      {"*1\r\n$3\r\nabcX\n", kCrlf},
      {"*1\r\n:3\r\n", "Protocol error: expected '$', got ':'"},
      {"*2\r\n$1\r\na\r\n+OK\r\n", "Protocol error: expected '$', got '+'"},
      {"*1\r\n\r\n", "Protocol error: expected '$', got '\r'"},
      {"SET \"abc\r\n", "Protocol error: unbalanced quotes in request"},
      {"SET 'abc\r\n", "Protocol error: unbalanced quotes in request"},
      {"SET \"abc\"def\r\n", "Protocol error: unbalanced quotes in request"},
      {"SET 'abc'def\n", "Protocol error: unbalanced quotes in request"},
      {"SET \"abc\\\"\n", "Protocol error: unbalanced quotes in request"},
      {"a\"b c\"d\n", "Protocol error: unbalanced quotes in request"},
  };
  for (const auto& [in, want] : cases) {
    SCOPED_TRACE(in);
    Outcome whole = FeedAll(in);
    EXPECT_EQ(whole.last, R::kError);
    EXPECT_EQ(whole.error, want);
    EXPECT_TRUE(whole.commands.empty());
    Outcome bytes = Feed(in, {1});
    EXPECT_EQ(bytes.last, R::kError);
    EXPECT_EQ(bytes.error, want);
  }
}

TEST(RespParser, ErrorAfterGoodCommandInPipeline) {
  Outcome o = FeedAll(Multibulk({"PING"}) + "*1\r\n$2\r\nabc\r\n");
  ASSERT_EQ(o.commands.size(), 1u);
  EXPECT_EQ(o.last, R::kError);
  EXPECT_EQ(o.error, "Protocol error: expected CRLF after bulk");
}

TEST(RespParser, ErrorIsStickyUntilReset) {
  RespParser p;
  size_t consumed = 0;
  std::vector<std::string_view> argv;
  std::string bad = "*z\r\n";
  ASSERT_EQ(p.Parse(bad.data(), bad.size(), &consumed, &argv), R::kError);
  std::string good = "PING\r\n";
  EXPECT_EQ(p.Parse(good.data(), good.size(), &consumed, &argv), R::kError);
  EXPECT_EQ(p.error(), "Protocol error: invalid multibulk length");
  p.Reset();
  EXPECT_TRUE(p.error().empty());
  ASSERT_EQ(p.Parse(good.data(), good.size(), &consumed, &argv), R::kCommand);
  ASSERT_EQ(argv.size(), 1u);
  EXPECT_EQ(argv[0], "PING");
}

TEST(RespParser, ResetDropsPartialCommand) {
  RespParser p;
  size_t consumed = 0;
  std::vector<std::string_view> argv;
  std::string part = "*2\r\n$3\r\nGET\r\n$5\r\nab";
  ASSERT_EQ(p.Parse(part.data(), part.size(), &consumed, &argv), R::kNeedMore);
  EXPECT_GT(p.bytes_needed(), 0u);
  p.Reset();
  EXPECT_EQ(p.bytes_needed(), 0u);
  std::string next = Multibulk({"PING"});
  ASSERT_EQ(p.Parse(next.data(), next.size(), &consumed, &argv), R::kCommand);
  ASSERT_EQ(argv.size(), 1u);
  EXPECT_EQ(argv[0], "PING");
}

TEST(RespParser, InlineQuotesAndEscapes) {
  std::vector<std::pair<std::string, Argv>> cases = {
      {"PING\r\n", {"PING"}},
      {"PING\n", {"PING"}},
      {"  get   foo  \r\n", {"get", "foo"}},
      {"a\tb\t\tc\n", {"a", "b", "c"}},
      {"set k \"hello world\"\r\n", {"set", "k", "hello world"}},
      {"set k \"\"\r\n", {"set", "k", ""}},
      {"set k ''\r\n", {"set", "k", ""}},
      {"echo \"a\\nb\\r\\tc\\\"d\\\\e\"\n", {"echo", "a\nb\r\tc\"d\\e"}},
      {"echo \"\\x41\\x62\\xff\\x00!\"\n", {"echo", std::string("Ab\xff\0!", 5)}},
      {"echo \"\\x4\"\n", {"echo", "x4"}},        // not a full \xHH: plain \x
      {"echo \"\\xZZ\"\n", {"echo", "xZZ"}},
      {"echo \"\\b\\a\\q\"\n", {"echo", "\b\aq"}},
      {"echo 'a\\'b'\n", {"echo", "a'b"}},
      {"echo 'a\\nb \"c\"'\n", {"echo", "a\\nb \"c\""}},  // no escapes in ''
      {"echo \"it's\" 'say \"hi\"'\n", {"echo", "it's", "say \"hi\""}},
      {"foo\"bar baz\" x\n", {"foobar baz", "x"}},
      {"x\r\r\n", {"x"}},
      {"x\ry\n", {"x", "y"}},
      {"utf8 \xc3\xa9t\xc3\xa9\n", {"utf8", "\xc3\xa9t\xc3\xa9"}},
  };
  for (const auto& [in, want] : cases) {
    SCOPED_TRACE(in);
    Outcome o = FeedAll(in);
    ASSERT_EQ(o.last, R::kNeedMore) << o.error;
    ASSERT_EQ(o.commands.size(), 1u);
    EXPECT_EQ(o.commands[0], want);
  }
}

TEST(RespParser, InlineZeroCopyWhenPossible) {
  std::string in = "SET \"plain quoted\" \"esc\\n\" bare\r\n";
  std::vector<std::string_view> argv;
  size_t consumed = 0;
  RespParser p;
  ASSERT_EQ(p.Parse(in.data(), in.size(), &consumed, &argv), R::kCommand);
  EXPECT_EQ(consumed, in.size());
  ASSERT_EQ(argv.size(), 4u);
  auto inside = [&](std::string_view v) {
    return v.data() >= in.data() && v.data() + v.size() <= in.data() + in.size();
  };
  EXPECT_TRUE(inside(argv[0]));
  EXPECT_TRUE(inside(argv[1]));
  EXPECT_EQ(argv[1], "plain quoted");
  EXPECT_FALSE(inside(argv[2]));  // unescaped copy in parser storage
  EXPECT_EQ(argv[2], "esc\n");
  EXPECT_TRUE(inside(argv[3]));
  EXPECT_EQ(argv[3], "bare");
}

TEST(RespParser, InlineManyEscapedArgsStayValid) {
  // Many short owned arguments: their views must survive storage growth.
  std::string in = "CMD";
  Argv want = {"CMD"};
  for (int i = 0; i < 200; i++) {
    in += " \"a\\t" + std::to_string(i) + "\"";
    want.push_back("a\t" + std::to_string(i));
  }
  in += "\n";
  std::vector<std::string_view> argv;
  size_t consumed = 0;
  RespParser p;
  ASSERT_EQ(p.Parse(in.data(), in.size(), &consumed, &argv), R::kCommand);
  Argv got(argv.begin(), argv.end());
  EXPECT_EQ(got, want);
}

TEST(RespParser, InlineTooBig) {
  RespLimits lim;
  lim.max_inline = 16;
  // Exactly max_inline bytes before the newline is fine.
  Outcome ok = FeedAll(std::string(16, 'a') + "\n", lim);
  ASSERT_EQ(ok.commands.size(), 1u);
  EXPECT_EQ(ok.commands[0], Argv{std::string(16, 'a')});
  // A full line that is too long is rejected even if its newline is present.
  Outcome longline = FeedAll(std::string(17, 'a') + "\n", lim);
  EXPECT_EQ(longline.error, "Protocol error: too big inline request");
  // Without a newline the error comes as soon as the limit is passed.
  Outcome o = Feed(std::string(17, 'a'), {1}, lim);
  EXPECT_EQ(o.last, R::kError);
  EXPECT_EQ(o.error, "Protocol error: too big inline request");
  Outcome waiting = Feed(std::string(16, 'a'), {1}, lim);
  EXPECT_EQ(waiting.last, R::kNeedMore);

  // Default limit: 64 KiB.
  Outcome def = FeedAll(std::string(RespLimits{}.max_inline + 1, 'b'));
  EXPECT_EQ(def.error, "Protocol error: too big inline request");
}

TEST(RespParser, InlineLongLineByteAtATimeIsLinear) {
  // A 64 KiB inline line fed byte by byte: the newline search must resume
  // where it stopped.
  std::string in(RespLimits{}.max_inline - 2, 'q');
  in += "\r\n";
  Outcome o = Feed(in, {1});
  ASSERT_EQ(o.commands.size(), 1u);
  EXPECT_EQ(o.commands[0][0].size(), in.size() - 2);
}

TEST(RespParser, ShorterBufferThanBeforeRestarts) {
  // Contract breach by the caller (buffer shrank): no out-of-range reads,
  // the parser starts over on what it is given.
  RespParser p;
  size_t consumed = 0;
  std::vector<std::string_view> argv;
  std::string a = "*1\r\n$4\r\nPI";
  ASSERT_EQ(p.Parse(a.data(), a.size(), &consumed, &argv), R::kNeedMore);
  std::string b = "PING\n";
  ASSERT_EQ(p.Parse(b.data(), b.size(), &consumed, &argv), R::kCommand);
  ASSERT_EQ(argv.size(), 1u);
  EXPECT_EQ(argv[0], "PING");
}

}  // namespace
}  // namespace qs
