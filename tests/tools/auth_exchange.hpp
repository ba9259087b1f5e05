#pragma once
// The client side of the config-auth exchange (anyconnect-protocol.md §2), as openconnect 9.01
// words it: pure builders and a reader of the server's replies, on top of auth::parse_xml.
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "node/http/request.hpp"

namespace tandem::load {

inline constexpr std::string_view kUserAgent = "tandem-load/0.1";

// What the server answered to a POST.
struct AuthReply {
  enum class Kind { form, success } kind = Kind::form;
  std::string auth_id;         // <auth id="...">
  std::string message;         // <auth><message>
  std::string error;           // <auth><error>: a failed login when a form comes back with it
  std::string action = "/";    // <form action>: where the next POST goes
  std::string user_field;      // text input named user* / uname*, empty if none
  std::string password_field;  // password input, empty if none
  std::vector<std::pair<std::string, std::string>> hidden;  // hidden inputs, returned verbatim
  std::string group_select;   // selected (else first) option of a group_list select
  std::string opaque_xml;     // the top-level <opaque> element, re-serialized to echo back
  std::string session_token;  // <session-token>, on success
};

Result<AuthReply> parse_auth_reply(std::string_view xml);

// `group_access` is the URL the user gave, e.g. "https://10.0.0.1:4443/".
std::string build_init_body(std::string_view group_access);
std::string build_auth_reply_body(const AuthReply& form, std::string_view user,
                                  std::string_view password);

// Headers of every auth POST (§2.2); `cookies` is the jar as one Cookie value, may be empty.
std::vector<http::Header> auth_post_headers(std::string_view host, std::string_view cookies,
                                            std::size_t body_size);

// CONNECT /CSCOSSLC/tunnel as openconnect sends it without DTLS (§3.1).
// With `dtls`, the request offers DTLS as openconnect does (PSK-NEGOTIATE and a random
// X-DTLS-Master-Secret, §5); without, it has no X-DTLS-* headers and the server starts no DTLS
// state.
std::string build_connect_request(std::string_view host, std::string_view token,
                                  bool dtls = false);

}  // namespace tandem::load
