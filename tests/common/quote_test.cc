// qs::Quote: the literal reads back as the same string, in TOML (toml++)
// and as JSON escapes.
#include "common/quote.h"

#include <gtest/gtest.h>

#include <toml++/toml.h>

namespace {

TEST(QuoteTest, EveryAsciiByteReadsBackThroughToml) {
  std::string all;
  for (int c = 1; c < 0x80; ++c) all.push_back(static_cast<char>(c));
  auto t = toml::parse("k = " + qs::Quote(all) + "\n");
  EXPECT_EQ(t["k"].value<std::string>(), all);
}

TEST(QuoteTest, JsonEscapes) {
  EXPECT_EQ(qs::Quote("a\"b\\c\nd\re\tf"), "\"a\\\"b\\\\c\\nd\\re\\tf\"");
  EXPECT_EQ(qs::Quote(std::string("\x01\x7f", 2)), "\"\\u0001\\u007f\"");
  EXPECT_EQ(qs::Quote("é"), "\"é\"");
}

}  // namespace
