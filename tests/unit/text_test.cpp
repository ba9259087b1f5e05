#include "base/text.hpp"

#include <gtest/gtest.h>

namespace tandem::text {
namespace {

TEST(Utf8, WellFormedAccepted) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("Open AnyConnect VPN Agent v9.01-3"));
  EXPECT_TRUE(is_valid_utf8("gr\xC3\xBC\xC3\x9F"));  // "grüß"
  EXPECT_TRUE(is_valid_utf8("\xE2\x82\xAC"));        // U+20AC
  EXPECT_TRUE(is_valid_utf8("\xF0\x9F\x98\x80"));    // U+1F600
  EXPECT_TRUE(is_valid_utf8("\xF4\x8F\xBF\xBF"));    // U+10FFFF, the last one
}

TEST(Utf8, IllFormedRefused) {
  EXPECT_FALSE(is_valid_utf8("\xFF"));
  EXPECT_FALSE(is_valid_utf8("abc\x80"));           // lone continuation byte
  EXPECT_FALSE(is_valid_utf8("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xE0\x80\xAF"));      // overlong, 3 bytes
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));      // surrogate U+D800
  EXPECT_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));  // past U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\xE2\x82"));          // truncated
  EXPECT_FALSE(is_valid_utf8("\xC3"));
}

TEST(Sanitize, LeavesPlainTextAlone) {
  EXPECT_EQ(sanitize("Open AnyConnect VPN Agent v9.01-3"), "Open AnyConnect VPN Agent v9.01-3");
  EXPECT_EQ(sanitize("gr\xC3\xBC\xC3\x9F"), "gr\xC3\xBC\xC3\x9F");
}

TEST(Sanitize, ReplacesIllFormedBytesAndControls) {
  EXPECT_EQ(sanitize("a\xFF"
                     "b"),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(sanitize("a\nb\tc\x7F"
                     "d"),
            "a?b?c?d");
  EXPECT_EQ(sanitize("\xC2\x85"), "?");  // C1 control NEL
  std::string out = sanitize(std::string("\xC0\xAF\xED\xA0\x80", 5));
  EXPECT_TRUE(is_valid_utf8(out));
  EXPECT_EQ(out.find('/'), std::string::npos);  // an overlong slash never becomes a slash
}

TEST(Sanitize, NulBytesDoNotEndTheText) { EXPECT_EQ(sanitize(std::string("a\0b", 3)), "a?b"); }

TEST(Sanitize, BoundsTheLengthAtACharacterBoundary) {
  std::string long_text(1000, 'x');
  std::string out = sanitize(long_text, 16);
  EXPECT_EQ(out, std::string(13, 'x') + "...");
  // Multi-byte characters are never split.
  std::string euros;
  for (int i = 0; i < 10; ++i) euros += "\xE2\x82\xAC";
  out = sanitize(euros, 10);
  EXPECT_LE(out.size(), 10u);
  EXPECT_TRUE(is_valid_utf8(out));
  EXPECT_EQ(out, "\xE2\x82\xAC\xE2\x82\xAC...");
  // Exactly the limit fits without an ellipsis.
  EXPECT_EQ(sanitize(std::string(16, 'y'), 16), std::string(16, 'y'));
}

TEST(Sanitize, AnyBytesGiveValidBoundedText) {
  // Every single byte and every pair: the output is always valid and bounded.
  for (int a = 0; a < 256; ++a) {
    for (int b = 0; b < 256; b += 7) {
      std::string in{static_cast<char>(a), static_cast<char>(b), '\xE2', '\x82'};
      std::string out = sanitize(in, 8);
      ASSERT_TRUE(is_valid_utf8(out)) << a << "," << b;
      ASSERT_LE(out.size(), 8u);
    }
  }
}

}  // namespace
}  // namespace tandem::text
