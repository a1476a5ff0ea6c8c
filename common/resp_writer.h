// Appends RESP v2 replies to an output buffer. Every function appends exactly
// one complete reply element; callers batch replies and write them once.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace qs::resp {

void AppendSimple(std::string* out, std::string_view s);  // "+s\r\n"
void AppendError(std::string* out, std::string_view s);   // "-s\r\n" (CR/LF in s replaced by spaces)
void AppendInteger(std::string* out, int64_t v);          // ":v\r\n"
void AppendBulk(std::string* out, std::string_view s);    // "$len\r\ns\r\n"
void AppendNil(std::string* out);                         // "$-1\r\n"
void AppendNilArray(std::string* out);                    // "*-1\r\n"
void AppendArrayHeader(std::string* out, int64_t n);      // "*n\r\n"
void AppendOk(std::string* out);                          // "+OK\r\n"

// Writes a bulk header only ("$len\r\n"); the caller appends len bytes and
// then "\r\n". Lets large values be read straight into the output buffer.
void AppendBulkHeader(std::string* out, size_t len);

}  // namespace qs::resp
