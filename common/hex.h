// Hexadecimal text for bytes: lower case, two digits a byte, high nibble
// first. The one encoding zdb (nonces, SHA-1 and HMAC replies, log-safe
// names) and zstor (keys, digests, passwords) share.
#pragma once

#include <string>
#include <string_view>

namespace qs {

// "\x01\xab" -> "01ab".
std::string HexEncode(std::string_view bytes);
// Appends the two digits of one byte to *out.
void AppendHexByte(std::string* out, unsigned char byte);
// The value of one hex digit (either case), or -1 when c is not one.
int HexDigitValue(char c);
// "01AB" or "01ab" -> "\x01\xab". False (and *out unspecified) when the text
// has an odd length or a character that is not a hex digit.
bool HexDecode(std::string_view hex, std::string* out);

}  // namespace qs
