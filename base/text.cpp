#include "base/text.hpp"

#include <algorithm>

namespace tandem::text {
namespace {

// Length of the well-formed UTF-8 sequence at the start of `s`, or 0 if it is ill-formed.
// Ranges from the Unicode standard's table of well-formed byte sequences (Table 3-7).
std::size_t sequence_length(std::string_view s, char32_t& cp) noexcept {
  auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char b0 = byte(0);
  if (b0 < 0x80) {
    cp = b0;
    return 1;
  }
  std::size_t n = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    n = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    n = 3;
    if (b0 == 0xE0) lo = 0xA0;  // no overlong forms
    if (b0 == 0xED) hi = 0x9F;  // no surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    n = 4;
    if (b0 == 0xF0) lo = 0x90;  // no overlong forms
    if (b0 == 0xF4) hi = 0x8F;  // nothing past U+10FFFF
  } else {
    return 0;
  }
  if (s.size() < n) return 0;
  if (byte(1) < lo || byte(1) > hi) return 0;
  for (std::size_t i = 2; i < n; ++i)
    if (byte(i) < 0x80 || byte(i) > 0xBF) return 0;
  cp = b0 & (0x7F >> n);
  for (std::size_t i = 1; i < n; ++i) cp = (cp << 6) | (byte(i) & 0x3F);
  return n;
}

bool is_control(char32_t cp) noexcept { return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F); }

}  // namespace

bool is_valid_utf8(std::string_view s) noexcept {
  char32_t cp = 0;
  while (!s.empty()) {
    const std::size_t n = sequence_length(s, cp);
    if (n == 0) return false;
    s.remove_prefix(n);
  }
  return true;
}

std::string sanitize(std::string_view s, std::size_t max_bytes) {
  static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD
  static constexpr std::string_view kEllipsis = "...";
  std::string out;
  out.reserve(std::min(s.size(), max_bytes));
  // Where the text must be cut if more follows: the last boundary leaving room for "...".
  std::size_t cut = 0;
  char32_t cp = 0;
  while (!s.empty()) {
    const std::size_t n = sequence_length(s, cp);
    std::string_view piece;
    if (n == 0) {
      piece = kReplacement;
      s.remove_prefix(1);
    } else if (is_control(cp)) {
      piece = "?";
      s.remove_prefix(n);
    } else {
      piece = s.substr(0, n);
      s.remove_prefix(n);
    }
    if (out.size() + piece.size() > max_bytes) {
      out.resize(cut);
      if (max_bytes >= kEllipsis.size()) out.append(kEllipsis);
      return out;
    }
    out.append(piece);
    if (out.size() + kEllipsis.size() <= max_bytes) cut = out.size();
  }
  return out;
}

}  // namespace tandem::text
