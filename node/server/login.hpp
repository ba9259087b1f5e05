#pragma once
// Pure pieces of the login exchange: which tunnel group a request is for, and the HTTP
// responses of the exchange.
#include <string>
#include <string_view>

#include "node/auth/config_auth.hpp"
#include "node/config/config.hpp"
#include "node/http/request.hpp"

namespace tandem::server {

// The tunnel group, by priority: the client's <group-select>, the echoed <opaque>, the URL
// path ("/engineering"), the path of <group-access> (the URL the user typed, which still names
// the group after a director's redirect), else "default". Unknown names fall back to "default".
std::string resolve_tunnel_group(const config::Config& config, const auth::ClientMessage& msg,
                                 std::string_view path);

// The first path segment of a <group-access> URL ("https://vpn.example.com/eng" -> "eng"), or
// empty when it is not an https URL of at most 1024 printable ASCII bytes.
std::string group_access_segment(std::string_view url);

http::Response xml_response(std::string body);
http::Response login_form_response(const config::Config& config, const std::string& group,
                                   const std::string& error);
// `group` may carry an XML profile: its manifest is announced (docs/cisco-clients.md).
// `banner`: the session's policy's, shown by Cisco clients after login ("" = none).
http::Response login_success_response(const std::string& token, const config::TunnelGroup& group,
                                      const std::string& banner = {});

}  // namespace tandem::server
