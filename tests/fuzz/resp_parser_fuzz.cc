// libFuzzer target for RespParser.
//
// Input layout: byte 0 picks small limits (so limit paths are reachable with
// short inputs), byte 1 seeds the read-size sequence, the rest is the stream.
// The stream is parsed twice: once with all bytes available, once arriving in
// pseudo-random chunks through a server-like loop. Both must yield the same
// commands and the same final state, because a parse result may depend only
// on the bytes, never on how they were split.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/resp_parser.h"

namespace {

using qs::RespLimits;
using qs::RespParser;
using R = RespParser::Result;

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "invariant failed: %s\n", what);
    std::abort();
  }
}

struct Run {
  std::vector<std::vector<std::string>> commands;
  R last = R::kNeedMore;
  std::string error;
};

// Calls Parse on an exact-size heap copy of the window so ASan reports any
// read past len, and checks the per-call invariants.
R ParseChecked(RespParser* p, const std::string& window, size_t* consumed,
               std::vector<std::string>* out) {
  size_t len = window.size();
  std::unique_ptr<char[]> copy(new char[len == 0 ? 1 : len]);
  if (len != 0) std::memcpy(copy.get(), window.data(), len);
  const char* buf = copy.get();

  std::vector<std::string_view> argv;
  *consumed = 777;
  R r = p->Parse(buf, len, consumed, &argv);
  if (r != R::kCommand) {
    Check(*consumed == 0, "consumed is 0 unless kCommand");
    Check(argv.empty(), "argv empty unless kCommand");
    if (r == R::kError) Check(!p->error().empty(), "error text set");
    return r;
  }
  Check(*consumed > 0, "a command consumes bytes");
  Check(*consumed <= len, "consumed <= len");
  Check(p->bytes_needed() == 0, "bytes_needed reset after a command");
  for (std::string_view a : argv) {
    // A view is either fully inside the command's bytes or fully outside
    // the buffer (parser storage); touching every byte lets ASan validate it.
    const char* b = a.data();
    bool in_buf = b >= buf && b <= buf + len;
    if (in_buf) {
      Check(a.size() <= static_cast<size_t>(buf + *consumed - b),
            "argv view inside consumed bytes");
    } else {
      Check(b + a.size() <= buf || b >= buf + len, "argv view not straddling buffer");
    }
    volatile unsigned sum = 0;
    for (char c : a) sum = sum + static_cast<unsigned char>(c);
    (void)sum;
  }
  if (buf[0] == '*') {
    // Lengths are canonical (no leading zeros or '+'), so a non-empty
    // multibulk command re-encodes to exactly the bytes it consumed.
    if (!argv.empty()) {
      std::string enc = "*" + std::to_string(argv.size()) + "\r\n";
      for (std::string_view a : argv) {
        enc += "$" + std::to_string(a.size()) + "\r\n";
        enc.append(a);
        enc += "\r\n";
      }
      Check(enc == std::string_view(buf, *consumed), "multibulk re-encodes");
    }
  } else {
    // An inline command is exactly one line.
    Check(buf[*consumed - 1] == '\n', "inline ends at newline");
    Check(std::memchr(buf, '\n', *consumed - 1) == nullptr, "first newline");
  }
  out->clear();
  for (std::string_view a : argv) out->emplace_back(a);
  return r;
}

Run ParseWhole(const RespLimits& lim, std::string_view data) {
  RespParser p(lim);
  Run run;
  std::string window(data);
  for (;;) {
    size_t consumed;
    std::vector<std::string> argv;
    R r = ParseChecked(&p, window, &consumed, &argv);
    if (r != R::kCommand) {
      run.last = r;
      run.error = p.error();
      return run;
    }
    run.commands.push_back(std::move(argv));
    window.erase(0, consumed);
  }
}

Run ParseChunked(const RespLimits& lim, std::string_view data, uint32_t seed) {
  RespParser p(lim);
  Run run;
  std::string window;
  size_t in = 0;
  uint32_t x = seed * 2654435761u + 1;
  for (;;) {
    size_t consumed;
    std::vector<std::string> argv;
    size_t needed_before = p.bytes_needed();
    R r = ParseChecked(&p, window, &consumed, &argv);
    if (r == R::kCommand) {
      run.commands.push_back(std::move(argv));
      window.erase(0, consumed);
      continue;
    }
    if (r == R::kError) {
      run.last = r;
      run.error = p.error();
      // A failed parser stays failed.
      size_t c2;
      std::vector<std::string> a2;
      Check(ParseChecked(&p, window, &c2, &a2) == R::kError, "error is sticky");
      Check(p.error() == run.error, "sticky error text");
      return run;
    }
    if (p.bytes_needed() != 0) {
      Check(p.bytes_needed() > window.size(), "bytes_needed beyond what we have");
      // Once known, the target does not move while the same bulk is pending.
      Check(needed_before == 0 || needed_before <= p.bytes_needed(),
            "bytes_needed monotonic");
    }
    if (in == data.size()) {
      run.last = r;
      return run;
    }
    // Mostly tiny reads, sometimes large, to mix byte-at-a-time and bulk.
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    size_t n = (x % 8 == 0) ? 1 + x % 512 : 1 + x % 4;
    n = std::min(n, data.size() - in);
    window.append(data.substr(in, n));
    in += n;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  RespLimits lim;
  uint8_t cfg = data[0];
  uint32_t seed = data[1];
  if (cfg & 0x80) {
    // Small limits so "too big" paths are reachable; otherwise defaults.
    lim.max_args = 1 + (cfg & 0x07);
    lim.max_bulk = (cfg >> 3) & 0x0f;
    lim.max_inline = 1 + ((cfg & 0x78) >> 1);
    lim.max_request = 8 + 4 * (seed & 0x0f);  // whole-request limit, reachable too
  }
  std::string_view stream(reinterpret_cast<const char*>(data) + 2, size - 2);

  Run whole = ParseWhole(lim, stream);
  Run chunked = ParseChunked(lim, stream, seed);
  Check(whole.commands == chunked.commands, "same commands whole vs chunked");
  Check(whole.last == chunked.last, "same final state whole vs chunked");
  Check(whole.error == chunked.error, "same error whole vs chunked");
  return 0;
}
