#pragma once
// RADIUS packets as pure functions (docs/radius.md, "Packets"): an Access-Request signed with a
// Message-Authenticator and its User-Password hidden (RFC 2865 §5.2, RFC 3579 §3.2), an
// Accounting-Request (RFC 2866 §3), and the check of a server's answer. No I/O: the exchange
// (exchange.hpp) sends the bytes and hands back what arrives.
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace tandem::radius {

enum class Code : std::uint8_t {
  access_request = 1,
  access_accept = 2,
  access_reject = 3,
  accounting_request = 4,
  accounting_response = 5,
  access_challenge = 11,
};

inline constexpr std::uint8_t kMessageAuthenticator = 80;  // RFC 3579 §3.2
inline constexpr std::size_t kHeaderSize = 20;
inline constexpr std::size_t kMaxPacketSize = 4096;  // RFC 2865 §3
inline constexpr std::size_t kMaxPasswordSize = 128;

using Authenticator = std::array<std::uint8_t, 16>;

// An attribute as it travels: its type and value bytes (at most 253).
struct RawAttribute {
  std::uint8_t type = 0;
  std::string value;
  bool operator==(const RawAttribute&) const = default;
};
RawAttribute integer_attribute(std::uint8_t type, std::uint32_t value);  // network byte order

// A request ready to send, with what the check of its answer needs.
struct Request {
  Code code = Code::access_request;
  std::uint8_t id = 0;
  Authenticator authenticator{};
  std::vector<std::uint8_t> bytes;
};

// An Access-Request. `random` is its Request Authenticator (16 unpredictable bytes, from the
// caller). A User-Password attribute is given in clear and hidden here. The Message-Authenticator
// goes first, where the Blast-RADIUS advisories (CVE-2024-3596) want it. Refused when an
// attribute is too long or the packet would exceed 4096 bytes.
Result<Request> encode_access_request(std::uint8_t id, const Authenticator& random,
                                      const std::vector<RawAttribute>& attributes,
                                      std::string_view secret);

// An Accounting-Request: its authenticator is the MD5 of the packet and the secret.
Result<Request> encode_accounting_request(std::uint8_t id,
                                          const std::vector<RawAttribute>& attributes,
                                          std::string_view secret);

struct Response {
  Code code = Code::access_reject;
  std::vector<RawAttribute> attributes;  // the Message-Authenticator left out
  bool had_message_authenticator = false;
};

// Checks a datagram as the answer to `request`: its length fields, its identifier, a code that
// answers the request's, its Response Authenticator, and its Message-Authenticator when it has
// one (required with `require_message_authenticator`). The error says which check failed.
Result<Response> check_response(std::span<const std::uint8_t> datagram, const Request& request,
                                std::string_view secret, bool require_message_authenticator);

// RFC 2865 §5.2: the password padded to a multiple of 16 and XORed with a chain of MD5s of the
// secret. Exposed for the tests.
std::string hide_password(std::string_view password, const Authenticator& request_authenticator,
                          std::string_view secret);

}  // namespace tandem::radius
