// qs::HexEncode / HexDecode: every byte value round trips, the digits are
// lower case high nibble first, and malformed text is refused.
#include "common/hex.h"

#include <gtest/gtest.h>

namespace {

TEST(HexTest, EncodesLowerCaseHighNibbleFirst) {
  EXPECT_EQ(qs::HexEncode(""), "");
  EXPECT_EQ(qs::HexEncode(std::string("\x00\x01\x7f\x80\xab\xff", 6)), "00017f80abff");
  std::string s;
  qs::AppendHexByte(&s, 0x5c);
  EXPECT_EQ(s, "5c");
}

TEST(HexTest, EveryByteRoundTrips) {
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  std::string hex = qs::HexEncode(all);
  ASSERT_EQ(hex.size(), 512u);
  std::string back;
  ASSERT_TRUE(qs::HexDecode(hex, &back));
  EXPECT_EQ(back, all);
}

TEST(HexTest, DecodesEitherCase) {
  std::string out;
  ASSERT_TRUE(qs::HexDecode("ABcd09", &out));
  EXPECT_EQ(out, std::string("\xab\xcd\x09", 3));
  EXPECT_EQ(qs::HexDigitValue('F'), 15);
  EXPECT_EQ(qs::HexDigitValue('f'), 15);
  EXPECT_EQ(qs::HexDigitValue('0'), 0);
}

TEST(HexTest, RefusesMalformedText) {
  std::string out;
  EXPECT_FALSE(qs::HexDecode("abc", &out));   // odd length
  EXPECT_FALSE(qs::HexDecode("zz", &out));    // not digits
  EXPECT_FALSE(qs::HexDecode("0g", &out));
  EXPECT_FALSE(qs::HexDecode("0 ", &out));
  for (char c : std::string("gG/:@`\x00 -", 9)) EXPECT_EQ(qs::HexDigitValue(c), -1) << int(c);
}

}  // namespace
