#include "common/resp_writer.h"

#include <charconv>

namespace qs::resp {

namespace {

// Appends prefix, decimal v and CRLF without going through iostreams or a
// temporary std::string.
template <typename T>
void AppendNumberLine(std::string* out, char prefix, T v) {
  char tmp[24];
  auto r = std::to_chars(tmp, tmp + sizeof(tmp), v);
  out->push_back(prefix);
  out->append(tmp, r.ptr);
  out->append("\r\n", 2);
}

}  // namespace

void AppendSimple(std::string* out, std::string_view s) {
  out->push_back('+');
  out->append(s);
  out->append("\r\n", 2);
}

void AppendError(std::string* out, std::string_view s) {
  // A CR or LF inside the message would end the reply early and make the
  // client read the rest as another reply, so they become spaces.
  out->push_back('-');
  size_t start = out->size();
  out->append(s);
  for (size_t i = start; i < out->size(); i++) {
    char& c = (*out)[i];
    if (c == '\r' || c == '\n') c = ' ';
  }
  out->append("\r\n", 2);
}

void AppendInteger(std::string* out, int64_t v) { AppendNumberLine(out, ':', v); }

void AppendBulk(std::string* out, std::string_view s) {
  AppendBulkHeader(out, s.size());
  out->append(s);
  out->append("\r\n", 2);
}

void AppendNil(std::string* out) { out->append("$-1\r\n", 5); }

void AppendNilArray(std::string* out) { out->append("*-1\r\n", 5); }

void AppendArrayHeader(std::string* out, int64_t n) { AppendNumberLine(out, '*', n); }

void AppendOk(std::string* out) { out->append("+OK\r\n", 5); }

void AppendBulkHeader(std::string* out, size_t len) { AppendNumberLine(out, '$', len); }

}  // namespace qs::resp
