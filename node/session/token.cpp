#include "node/session/token.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <stdexcept>

namespace tandem::session {
namespace {

constexpr std::size_t kSecretBytes = 32;
constexpr std::size_t kSecretChars = 43;  // ceil(32 * 8 / 6), no padding
constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

using Secret = std::array<std::uint8_t, kSecretBytes>;

std::string base64url(const Secret& bytes) {
  std::string out;
  out.reserve(kSecretChars);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t v =
        std::uint32_t{bytes[i]} << 16 | std::uint32_t{bytes[i + 1]} << 8 | bytes[i + 2];
    for (int shift = 18; shift >= 0; shift -= 6) out += kAlphabet[v >> shift & 63];
  }
  // 32 = 30 + 2: the last two bytes make three characters.
  const std::uint32_t v = std::uint32_t{bytes[i]} << 16 | std::uint32_t{bytes[i + 1]} << 8;
  for (int shift = 18; shift >= 6; shift -= 6) out += kAlphabet[v >> shift & 63];
  return out;
}

int base64url_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

std::optional<Secret> decode_secret(std::string_view text) {
  if (text.size() != kSecretChars) return std::nullopt;
  Secret out{};
  std::uint32_t acc = 0;
  int bits = 0;
  std::size_t n = 0;
  for (char c : text) {
    const int v = base64url_value(c);
    if (v < 0) return std::nullopt;
    acc = acc << 6 | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = static_cast<std::uint8_t>(acc >> bits);
      acc &= (1u << bits) - 1;
    }
  }
  // 43 characters carry 258 bits; the 2 spare bits must be zero, so that exactly one text maps
  // to each secret.
  if (n != kSecretBytes || acc != 0) return std::nullopt;
  return out;
}

TokenHash sha256(const Secret& secret) {
  TokenHash h{};
  SHA256(secret.data(), secret.size(), h.data());
  return h;
}

std::optional<std::uint64_t> parse_index(std::string_view text) {
  // Session indices start at 1; one spelling per index (no leading zeros, no sign).
  if (text.empty() || text.size() > 20 || text[0] == '0') return std::nullopt;
  std::uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

}  // namespace

IssuedToken issue_token(std::uint64_t index) {
  if (index == 0) throw std::invalid_argument("issue_token: session index 0 is not valid");
  Secret secret{};
  // No fallback: a token from a failed CSPRNG would be guessable.
  if (RAND_bytes(secret.data(), static_cast<int>(secret.size())) != 1) {
    throw std::runtime_error("issue_token: RAND_bytes failed");
  }
  IssuedToken token{std::to_string(index) + '-' + base64url(secret), sha256(secret)};
  OPENSSL_cleanse(secret.data(), secret.size());
  return token;
}

std::string new_acct_session_id() {
  std::array<std::uint8_t, 8> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1)
    throw std::runtime_error("new_acct_session_id: RAND_bytes failed");
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  for (std::uint8_t byte : bytes) {
    out += kDigits[byte >> 4];
    out += kDigits[byte & 15];
  }
  return out;
}

std::optional<ParsedToken> parse_token(std::string_view text) {
  const std::size_t dash = text.find('-');  // the index has no '-', the secret may
  if (dash == std::string_view::npos) return std::nullopt;
  const auto index = parse_index(text.substr(0, dash));
  if (!index) return std::nullopt;
  auto secret = decode_secret(text.substr(dash + 1));
  if (!secret) return std::nullopt;
  ParsedToken parsed{*index, sha256(*secret)};
  OPENSSL_cleanse(secret->data(), secret->size());
  return parsed;
}

bool hashes_equal(const TokenHash& a, const TokenHash& b) {
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string hex(const TokenHash& h) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(h.size() * 2);
  for (std::uint8_t byte : h) {
    out += kDigits[byte >> 4];
    out += kDigits[byte & 15];
  }
  return out;
}

}  // namespace tandem::session
