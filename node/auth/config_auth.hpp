#pragma once
// The AnyConnect `config-auth` XML dialect: parse what the client posts, build what we answer.
// Pure functions over strings. The XML reader is deliberately small: no DTD, no entity
// definitions (an XML bomb is refused, not expanded), bounded depth and size.
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.hpp"

namespace tandem::auth {

// What the client sent in a POST body.
struct ClientMessage {
  std::string type;                 // "init" | "auth-reply" | "logout" | ...
  std::string version;              // <version who="vpn">
  std::string device_id;            // <device-id>
  std::string group_select;         // <group-select>, top level (empty if absent)
  std::string group_access;         // <group-access>
  std::string username;             // <auth><username>
  std::string password;             // <auth><password>
  std::string opaque_tunnel_group;  // <opaque><tunnel-group> echoed back
  std::string opaque_challenge;     // <opaque><challenge>: the id of a RADIUS challenge answered
};

// Limits for the parser; anything beyond is an error that says which limit.
struct XmlLimits {
  std::size_t max_bytes = 64 * 1024;
  std::size_t max_depth = 16;
  std::size_t max_elements = 512;
};

// One element of a parsed document. Only what config-auth needs: no namespaces, no mixed-content
// ordering (text is the concatenation of the character data directly inside the element).
struct XmlElement {
  std::string name;
  std::vector<std::pair<std::string, std::string>> attributes;  // document order, decoded
  std::string text;
  std::vector<XmlElement> children;

  const XmlElement* child(std::string_view child_name) const;  // first with that name
  std::optional<std::string_view> attribute(std::string_view attribute_name) const;
};

// Parses a whole document into its root element. Errors name the offending byte offset or limit.
Result<XmlElement> parse_xml(std::string_view xml, XmlLimits limits = {});

Result<ClientMessage> parse_client_message(std::string_view xml, XmlLimits limits = {});

// The login form (type="auth-request"): username + password, and a group_list select when
// more than one tunnel group exists. `error` non-empty adds <error> (failed login).
struct LoginForm {
  std::string message = "Please enter your username and password.";
  std::string error;
  std::vector<std::string> groups;  // tunnel group names offered; shown only if size() > 1
  std::string selected_group;       // marked selected="true"
};
std::string build_login_form(const LoginForm& form);

// The second form of a RADIUS Access-Challenge (docs/radius.md): <auth id="challenge">, the
// server's Reply-Message as the message, one password field named "answer" (openconnect sends
// it as <password>), and the challenge's id in <opaque>, which the client echoes back.
struct ChallengeForm {
  std::string message;  // the Reply-Message; a default text when empty
  std::string tunnel_group;
  std::string challenge_id;
};
std::string build_challenge_form(const ChallengeForm& form);

// type="complete" with <auth id="success"> and the <session-token>. `config_xml`, when not
// empty, is a ready-made <config> element (the profile manifest) placed after <auth>.
std::string build_login_success(std::string_view session_token, std::string_view banner,
                                std::string_view config_xml = {});

// Escape text for use inside XML element content or attribute values.
std::string xml_escape(std::string_view text);

}  // namespace tandem::auth
