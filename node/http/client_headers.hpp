#pragma once
// The AnyConnect-specific request headers Cisco Secure Client and openconnect send, read and
// checked as hostile input (docs/cisco-clients.md), and the session token carried in the
// `webvpn` cookie. Pure.
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "node/http/request.hpp"

namespace tandem::http {

struct ClientHeaders {
  std::string platform;         // X-AnyConnect-Platform ("win", "mac-intel", "linux-64", ...)
  std::string cstp_protocol;    // X-CSTP-Protocol (Cisco's CONNECT sends a copyright string)
  bool aggregate_auth = false;  // X-Aggregate-Auth: 1 (the XML config-auth dialect)
  bool transcend = false;       // X-Transcend-Version: 1
};

inline constexpr std::size_t kMaxPlatform = 32;
inline constexpr std::size_t kMaxCstpProtocol = 128;
inline constexpr std::size_t kMaxSessionToken = 512;

// A platform name: 1-kMaxPlatform characters of A-Z a-z 0-9 . _ - ("win", "linux-64").
bool is_platform_name(std::string_view s);

// Absent headers are fine (empty / false). A header that is repeated, too long or outside its
// character set is an error naming it: the caller refuses the request and logs why.
Result<ClientHeaders> read_client_headers(const Request& req);

// The session token from the Cookie header(s): the value of `webvpn`, with surrounding double
// quotes removed (an RFC 6265 quoted cookie-value). Empty `webvpn=` entries (a cleared cookie a
// jar still sends) are skipped. Errors: Errc::not_found when there is no non-empty `webvpn`
// cookie; Errc::invalid when two different tokens are sent, or the value is too long or holds
// a byte a cookie-value may not.
Result<std::string> session_token(const Request& req);

}  // namespace tandem::http
