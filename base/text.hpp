#pragma once
// Client-supplied text made safe to store, replicate, show and log. Every string a client sends
// is hostile until it has been through here: it may be any bytes, of any length.
#include <cstddef>
#include <string>
#include <string_view>

namespace tandem::text {

// Default bound for short client text we keep (User-Agent, hostnames, platform strings).
inline constexpr std::size_t kMaxClientText = 256;
// Bound for usernames as they are stored and logged.
inline constexpr std::size_t kMaxUsername = 64;

// True when `s` is well-formed UTF-8 (no overlong forms, no surrogates, nothing past U+10FFFF).
bool is_valid_utf8(std::string_view s) noexcept;

// Valid UTF-8 of at most `max_bytes` bytes: every ill-formed byte becomes U+FFFD, every control
// character (C0, DEL, C1) becomes '?', and a longer result is cut at a character boundary with
// "..." at its end. Pure; the same input always gives the same output.
std::string sanitize(std::string_view s, std::size_t max_bytes = kMaxClientText);

}  // namespace tandem::text
