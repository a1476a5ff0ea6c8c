// Incremental RESP v2 request parser (docs/zdb-protocol.md, "Framing").
// Accepts multibulk arrays of bulk strings ("*N\r\n$L\r\n...") and inline
// commands ("PING\r\n", telnet style, whitespace separated, quotes allowed).
// Argument views point into the caller's buffer (zero copy) unless an inline
// argument needed unescaping, in which case it points into parser storage.
// Views stay valid until the next Parse() call or until the caller changes
// the consumed part of the buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace qs {

struct RespLimits {
  size_t max_args = 1024;               // arguments in one command (0-db's limit)
  size_t max_bulk = 8 * 1024 * 1024;    // bytes in one argument
  size_t max_inline = 64 * 1024;        // bytes in one inline command line
  size_t max_request = 16 * 1024 * 1024;  // bytes of one multibulk command, framing included
};

class RespParser {
 public:
  enum class Result {
    kNeedMore,  // buffer holds no complete command yet; read more and retry
    kCommand,   // *argv holds one command; *consumed bytes belong to it
    kError,     // protocol error; error() tells why; the connection should close
  };

  explicit RespParser(RespLimits limits = {}) : limits_(limits) {}

  // Parses the first command in buf[0, len). On kCommand sets *consumed to the
  // bytes of that command (the caller drops them before the next call) and
  // fills *argv (may be empty for an empty inline line). On kNeedMore,
  // *consumed is 0 and the parser remembers its progress so a huge bulk is
  // not rescanned: the caller must pass the same bytes again, plus more.
  Result Parse(const char* buf, size_t len, size_t* consumed,
               std::vector<std::string_view>* argv);

  // The reason of the last kError, as a RESP error text without "-" or CRLF,
  // e.g. "Protocol error: invalid bulk length".
  const std::string& error() const { return error_; }

  // Bytes the parser knows it needs in total before it can return kCommand
  // (0 when unknown). Lets a server size its read buffer once.
  size_t bytes_needed() const { return needed_; }

  void Reset();

 private:
  RespLimits limits_;
  std::string error_;
  size_t needed_ = 0;
  // Progress through a partially received multibulk command.
  size_t pos_ = 0;          // offset of the next unparsed byte
  int64_t nargs_ = -1;      // declared argument count, -1 before the header
  int64_t bulk_len_ = -1;   // length of the bulk being waited for, -1 if none
  size_t scan_ = 0;         // bytes of the current line already searched for its end
  std::vector<std::pair<size_t, size_t>> spans_;  // (offset, length) of args
  std::vector<std::string> inline_storage_;

  Result Fail(const char* msg);
  Result ParseMultibulk(const char* buf, size_t len, size_t* consumed,
                        std::vector<std::string_view>* argv);
  Result ParseInline(const char* buf, size_t len, size_t* consumed,
                     std::vector<std::string_view>* argv);
  // Finds the CRLF ending the length line that starts at pos_; see .cc.
  int FindLengthLine(const char* buf, size_t len, size_t* cr);
};

}  // namespace qs
