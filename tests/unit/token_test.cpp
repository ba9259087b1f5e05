#include "node/session/token.hpp"

#include <gtest/gtest.h>

#include <set>

namespace tandem::session {
namespace {

TEST(Token, IssuedTextHasIndexAndUnpaddedBase64urlSecret) {
  const IssuedToken t = issue_token(42);
  ASSERT_EQ(t.text.rfind("42-", 0), 0u) << t.text;
  const std::string secret = t.text.substr(3);
  EXPECT_EQ(secret.size(), 43u);
  EXPECT_EQ(
      secret.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
      std::string::npos)
      << secret;
}

TEST(Token, RoundTrips) {
  for (std::uint64_t index : {std::uint64_t{1}, std::uint64_t{7}, UINT64_MAX}) {
    const IssuedToken t = issue_token(index);
    const auto parsed = parse_token(t.text);
    ASSERT_TRUE(parsed.has_value()) << t.text;
    EXPECT_EQ(parsed->index, index);
    EXPECT_TRUE(hashes_equal(parsed->secret_hash, t.hash));
  }
}

TEST(Token, SecretsAreFresh) {
  std::set<std::string> texts;
  for (int i = 0; i < 100; ++i) texts.insert(issue_token(1).text);
  EXPECT_EQ(texts.size(), 100u);
}

TEST(Token, ForgedSecretForTheRightIndexHashesDifferently) {
  const IssuedToken real = issue_token(5);
  std::string forged = real.text;
  forged[5] = forged[5] == 'A' ? 'B' : 'A';  // one character of the secret changed
  const auto parsed = parse_token(forged);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->index, 5u);
  EXPECT_FALSE(hashes_equal(parsed->secret_hash, real.hash));
  // Another session's genuine secret under this index does not match either.
  const IssuedToken other = issue_token(6);
  const auto swapped = parse_token("5-" + other.text.substr(2));
  ASSERT_TRUE(swapped.has_value());
  EXPECT_FALSE(hashes_equal(swapped->secret_hash, real.hash));
}

TEST(Token, HashIsSha256OfTheDecodedSecret) {
  // 32 zero bytes encode as 43 'A's; SHA-256 of 32 zero bytes is a known value.
  const auto parsed = parse_token("1-" + std::string(43, 'A'));
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(hex(parsed->secret_hash),
            "66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925");
}

TEST(Token, MalformedTokensAreRejected) {
  const std::string secret = issue_token(3).text.substr(2);
  const std::string bad[] = {
      "",
      "3",
      "3-",
      "-" + secret,
      "0-" + secret,   // indices start at 1
      "03-" + secret,  // one spelling per index
      "+3-" + secret,
      " 3-" + secret,
      "3x-" + secret,
      "18446744073709551616-" + secret,  // 2^64
      "3-" + secret.substr(1),           // 42 characters
      "3-" + secret + "A",               // 44 characters
      "3-" + secret + "=",               // padding
      "3-" + secret.substr(0, 42) + "=",
      "3-" + secret.substr(0, 42) + "+",  // standard base64, not url-safe
      "3-" + secret.substr(0, 42) + "/",
      "3-" + secret.substr(0, 42) + "B",  // spare low bits set: non-canonical encoding
      "3-" + secret + "\n",
      "3 -" + secret,
  };
  for (const std::string& t : bad) EXPECT_FALSE(parse_token(t).has_value()) << t;
}

TEST(Token, IndexZeroIsNeverIssued) { EXPECT_THROW(issue_token(0), std::invalid_argument); }

TEST(Token, HexIsLowercase) {
  TokenHash h{};
  h[0] = 0xAB;
  h[31] = 0x0f;
  EXPECT_EQ(hex(h), "ab" + std::string(60, '0') + "0f");
}

}  // namespace
}  // namespace tandem::session
