#pragma once
// A director's redirect as tandem-load follows it (docs/director.md, "What the director
// answers"): `302 Found` with an absolute `Location: https://<IP literal>[:port]<path and query>`.
// Pure, no I/O. Only literal addresses: the tool never resolves a name, so a test always knows
// exactly where each connection goes. Anything else is an error naming what is wrong; the caller
// counts it as a failed session.
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace tandem::load {

struct RedirectTarget {
  std::string ip;             // "10.200.0.1", "::1" (no brackets)
  unsigned short port = 443;  // https default when the Location names none
  std::string authority;      // "10.200.0.1:4443", "[::1]:4443"; ":443" left out (Host header)
  std::string target;         // origin form: "/path?query", at least "/"; no fragment
};

// The statuses that carry a Location to follow.
bool is_redirect_status(int status);

// Parses an absolute https Location whose host is an IPv4 literal or a bracketed IPv6 literal.
Result<RedirectTarget> parse_location(std::string_view location);

}  // namespace tandem::load
