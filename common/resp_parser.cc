#include "common/resp_parser.h"

#include <algorithm>
#include <cstring>

#include "common/hex.h"

namespace qs {

namespace {

// "-9223372036854775808" is the longest valid length; a length line with more
// bytes than this and no CR yet can never become valid, so fail early instead
// of buffering an endless line.
constexpr size_t kMaxLengthDigits = 20;

// Cap on the argv capacity reserved from a declared count: "*1048576\r\n" is
// 11 bytes and must not make us allocate 16 MiB before any argument arrives.
constexpr size_t kMaxReserve = 1024;

// Strict decimal parse of buf[0, n): optional '-', digits, no '+', no spaces,
// no leading zeros (other than "0" itself), no overflow. Same acceptance as
// Redis so a client sees the same errors from both servers.
bool ParseLength(const char* s, size_t n, int64_t* out) {
  if (n == 0) return false;
  bool neg = false;
  size_t i = 0;
  if (s[0] == '-') {
    neg = true;
    i = 1;
    if (n == 1) return false;
  }
  if (s[i] == '0') {
    if (n == 1) {
      *out = 0;
      return true;
    }
    return false;  // "01", "-0", "-01"
  }
  uint64_t v = 0;
  for (; i < n; i++) {
    unsigned d = static_cast<unsigned char>(s[i]) - '0';
    if (d > 9) return false;
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  if (neg) {
    if (v > static_cast<uint64_t>(INT64_MAX) + 1) return false;
    *out = static_cast<int64_t>(0 - v);
  } else {
    if (v > static_cast<uint64_t>(INT64_MAX)) return false;
    *out = static_cast<int64_t>(v);
  }
  return true;
}

// Whitespace separating inline arguments. '\n' never occurs inside a line.
bool IsInlineSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

// One inline argument under construction. As long as its bytes form one
// contiguous run of the input it stays a view (zero copy); the first escape
// or quote that breaks the run copies it into an owned string.
struct InlineToken {
  const char* buf;
  size_t begin = 0;
  size_t len = 0;
  bool owned = false;
  std::string data;

  explicit InlineToken(const char* b) : buf(b) {}

  void Own() {
    if (!owned) {
      data.assign(buf + begin, len);
      owned = true;
    }
  }
  // Appends input byte buf[p].
  void Take(size_t p) {
    if (owned) {
      data.push_back(buf[p]);
    } else if (len == 0) {
      begin = p;
      len = 1;
    } else if (begin + len == p) {
      len++;
    } else {
      Own();
      data.push_back(buf[p]);
    }
  }
  // Appends a byte that is not in the input (an unescaped one).
  void Put(char c) {
    Own();
    data.push_back(c);
  }
};

}  // namespace

void RespParser::Reset() {
  error_.clear();
  needed_ = 0;
  pos_ = 0;
  nargs_ = -1;
  bulk_len_ = -1;
  scan_ = 0;
  spans_.clear();
  // inline_storage_ is kept: views handed out by the last kCommand point into
  // it and stay valid until the next Parse().
}

RespParser::Result RespParser::Fail(const char* msg) {
  error_ = msg;
  needed_ = 0;
  return Result::kError;
}

RespParser::Result RespParser::Parse(const char* buf, size_t len,
                                     size_t* consumed,
                                     std::vector<std::string_view>* argv) {
  *consumed = 0;
  argv->clear();
  // A protocol error is final: the stream position is lost, so every later
  // call reports the same error until Reset().
  if (!error_.empty()) return Result::kError;
  inline_storage_.clear();
  // The caller must hand back at least the bytes already parsed; if it did
  // not (it dropped or replaced the buffer), start over rather than read
  // past the end.
  if (len < pos_ || len < scan_) Reset();
  if (len == 0) return Result::kNeedMore;
  if (buf[0] == '*') return ParseMultibulk(buf, len, consumed, argv);
  return ParseInline(buf, len, consumed, argv);
}

// Looks for the CRLF ending the "*N" or "$L" line whose type byte is at pos_.
// Returns 1 with *cr at the CR when the line is complete, 0 when more bytes
// are needed, -1 when the line is malformed (bad terminator or too long).
// scan_ remembers how far we searched so repeated calls do not rescan.
int RespParser::FindLengthLine(const char* buf, size_t len, size_t* cr) {
  size_t start = std::max(scan_, pos_ + 1);
  size_t limit = std::min(len, pos_ + 1 + kMaxLengthDigits + 1);
  if (start < limit) {
    const void* p = std::memchr(buf + start, '\r', limit - start);
    if (p != nullptr) {
      size_t at = static_cast<const char*>(p) - buf;
      scan_ = at;
      if (at + 1 >= len) return 0;
      if (buf[at + 1] != '\n') return -1;
      *cr = at;
      return 1;
    }
    scan_ = limit;
  }
  if (scan_ > pos_ + 1 + kMaxLengthDigits) return -1;
  return 0;
}

RespParser::Result RespParser::ParseMultibulk(
    const char* buf, size_t len, size_t* consumed,
    std::vector<std::string_view>* argv) {
  static const char kBadMultibulk[] = "Protocol error: invalid multibulk length";
  static const char kBadBulk[] = "Protocol error: invalid bulk length";

  if (nargs_ < 0) {
    // Header "*N\r\n"; pos_ is 0 and buf[0] is '*'.
    size_t cr;
    int r = FindLengthLine(buf, len, &cr);
    if (r < 0) return Fail(kBadMultibulk);
    if (r == 0) return Result::kNeedMore;
    int64_t n;
    if (!ParseLength(buf + 1, cr - 1, &n)) return Fail(kBadMultibulk);
    // 0-db's answers: a command needs a name, and 1024 arguments are plenty.
    if (n <= 0) return Fail("Missing arguments");
    if (static_cast<uint64_t>(n) > limits_.max_args) return Fail("Too many arguments");
    pos_ = cr + 2;
    scan_ = pos_;
    nargs_ = n;
    spans_.clear();
    spans_.reserve(std::min<size_t>(static_cast<size_t>(n), kMaxReserve));
  }

  while (spans_.size() < static_cast<size_t>(nargs_)) {
    if (bulk_len_ < 0) {
      // Bulk header "$L\r\n" at pos_.
      if (pos_ >= len) return Result::kNeedMore;
      if (buf[pos_] != '$') {
        // Same text as Redis; the byte is copied raw (AppendError turns a
        // CR or LF into a space).
        error_ = "Protocol error: expected '$', got '";
        error_ += buf[pos_];
        error_ += '\'';
        needed_ = 0;
        return Result::kError;
      }
      size_t cr;
      int r = FindLengthLine(buf, len, &cr);
      if (r < 0) return Fail(kBadBulk);
      if (r == 0) return Result::kNeedMore;
      int64_t l;
      if (!ParseLength(buf + pos_ + 1, cr - pos_ - 1, &l) || l < 0 ||
          static_cast<uint64_t>(l) > limits_.max_bulk) {
        return Fail(kBadBulk);
      }
      // Refused from the header: the bytes of a request too large are
      // never buffered.
      if (cr + 2 + static_cast<size_t>(l) + 2 > limits_.max_request) {
        return Fail("Protocol error: request too large");
      }
      pos_ = cr + 2;
      scan_ = pos_;
      bulk_len_ = l;
      // Total bytes up to and including this bulk's CRLF: lets the server
      // grow its buffer once for a large value.
      needed_ = pos_ + static_cast<size_t>(l) + 2;
    }
    // Bulk data at pos_, then CRLF. Checking only the end keeps a large
    // value O(1) per call no matter how it is fragmented.
    size_t end = pos_ + static_cast<size_t>(bulk_len_);
    if (len <= end) return Result::kNeedMore;
    if (buf[end] != '\r') return Fail("Protocol error: expected CRLF after bulk");
    if (len <= end + 1) return Result::kNeedMore;
    if (buf[end + 1] != '\n') return Fail("Protocol error: expected CRLF after bulk");
    spans_.emplace_back(pos_, static_cast<size_t>(bulk_len_));
    pos_ = end + 2;
    scan_ = pos_;
    bulk_len_ = -1;
    needed_ = 0;
  }

  argv->reserve(spans_.size());
  for (const auto& s : spans_) argv->emplace_back(buf + s.first, s.second);
  *consumed = pos_;
  Reset();
  return Result::kCommand;
}

// Inline ("telnet") command: one line split like Redis's sdssplitargs, i.e.
// whitespace separated, with "double quotes" (\n \r \t \b \a \xHH and \<c>
// escapes) and 'single quotes' (only \' is an escape). A closing quote must
// be followed by whitespace or the end of the line.
RespParser::Result RespParser::ParseInline(const char* buf, size_t len,
                                           size_t* consumed,
                                           std::vector<std::string_view>* argv) {
  // A line may hold at most max_inline bytes before its '\n'; searching only
  // that far bounds the work per call, and scan_ avoids rescanning.
  size_t limit = std::min(len, limits_.max_inline + 1);
  size_t nl = len;
  if (scan_ < limit) {
    const void* p = std::memchr(buf + scan_, '\n', limit - scan_);
    if (p != nullptr) nl = static_cast<const char*>(p) - buf;
  }
  if (nl == len) {
    scan_ = std::max(scan_, limit);
    if (len > limits_.max_inline) {
      return Fail("Protocol error: too big inline request");
    }
    return Result::kNeedMore;
  }

  size_t end = nl;
  if (end > 0 && buf[end - 1] == '\r') end--;

  // Tokens are collected first and turned into views at the end, because
  // moving an owned std::string (small string optimisation) moves its bytes.
  struct Arg {
    bool owned;
    size_t off;  // into buf, or index into inline_storage_
    size_t len;
  };
  std::vector<Arg> args;
  size_t p = 0;
  for (;;) {
    while (p < end && IsInlineSpace(buf[p])) p++;
    if (p >= end) break;
    InlineToken tok(buf);
    bool in_dq = false, in_sq = false;
    for (;;) {
      if (in_dq) {
        if (p >= end) return Fail("Protocol error: unbalanced quotes in request");
        char c = buf[p];
        if (c == '\\' && p + 3 < end && buf[p + 1] == 'x' &&
            qs::HexDigitValue(buf[p + 2]) >= 0 && qs::HexDigitValue(buf[p + 3]) >= 0) {
          tok.Put(static_cast<char>(qs::HexDigitValue(buf[p + 2]) * 16 + qs::HexDigitValue(buf[p + 3])));
          p += 4;
        } else if (c == '\\' && p + 1 < end) {
          char e = buf[p + 1];
          switch (e) {
            case 'n': tok.Put('\n'); break;
            case 'r': tok.Put('\r'); break;
            case 't': tok.Put('\t'); break;
            case 'b': tok.Put('\b'); break;
            case 'a': tok.Put('\a'); break;
            default: tok.Put(e); break;
          }
          p += 2;
        } else if (c == '"') {
          p++;
          if (p < end && !IsInlineSpace(buf[p])) {
            return Fail("Protocol error: unbalanced quotes in request");
          }
          break;
        } else {
          tok.Take(p);
          p++;
        }
      } else if (in_sq) {
        if (p >= end) return Fail("Protocol error: unbalanced quotes in request");
        char c = buf[p];
        if (c == '\\' && p + 1 < end && buf[p + 1] == '\'') {
          tok.Put('\'');
          p += 2;
        } else if (c == '\'') {
          p++;
          if (p < end && !IsInlineSpace(buf[p])) {
            return Fail("Protocol error: unbalanced quotes in request");
          }
          break;
        } else {
          tok.Take(p);
          p++;
        }
      } else {
        if (p >= end || IsInlineSpace(buf[p])) break;
        char c = buf[p];
        if (c == '"') {
          in_dq = true;
        } else if (c == '\'') {
          in_sq = true;
        } else {
          tok.Take(p);
        }
        p++;
      }
    }
    if (tok.owned) {
      args.push_back({true, inline_storage_.size(), tok.data.size()});
      inline_storage_.push_back(std::move(tok.data));
    } else {
      args.push_back({false, tok.begin, tok.len});
    }
  }

  argv->reserve(args.size());
  for (const Arg& a : args) {
    if (a.owned) {
      argv->emplace_back(inline_storage_[a.off].data(), a.len);
    } else {
      argv->emplace_back(buf + a.off, a.len);
    }
  }
  *consumed = nl + 1;
  Reset();
  return Result::kCommand;
}

}  // namespace qs
