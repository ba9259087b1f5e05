#pragma once
// Session tokens (S9): "<index>-<secret>", secret = 32 bytes from the CSPRNG, base64url without
// padding (openconnect's --cookie mis-reads '='). Only SHA-256(secret) is ever stored.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tandem::session {

using TokenHash = std::array<std::uint8_t, 32>;

struct IssuedToken {
  std::string text;  // given to the client once
  TokenHash hash;    // kept in the session record
};

// `index` must be > 0. Throws std::runtime_error if the CSPRNG fails: no weak token is ever made.
IssuedToken issue_token(std::uint64_t index);

// A new RADIUS Acct-Session-Id: 16 upper-case hex digits from the CSPRNG, unique across nodes
// and restarts without coordination (docs/radius-accounting.md).
std::string new_acct_session_id();

struct ParsedToken {
  std::uint64_t index;
  TokenHash secret_hash;  // SHA-256 of the decoded secret
};

// Pure: structure check and hashing; nullopt for anything malformed.
std::optional<ParsedToken> parse_token(std::string_view text);

// Constant-time comparison.
bool hashes_equal(const TokenHash& a, const TokenHash& b);

std::string hex(const TokenHash& h);

}  // namespace tandem::session
