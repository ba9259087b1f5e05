#include "tests/tools/auth_exchange.hpp"

#include <openssl/rand.h>

#include <array>

#include "node/auth/config_auth.hpp"
#include "tests/tools/http_response.hpp"

namespace tandem::load {
namespace {

// Enough to echo <opaque> back unchanged in meaning: element order, attributes and text.
void serialize(const auth::XmlElement& e, std::string& out) {
  out += "<" + e.name;
  for (const auto& [name, value] : e.attributes)
    out += " " + name + "=\"" + auth::xml_escape(value) + "\"";
  out += ">" + auth::xml_escape(e.text);
  for (const auto& child : e.children) serialize(child, out);
  out += "</" + e.name + ">";
}

std::string attribute(const auth::XmlElement& e, std::string_view name) {
  return std::string(e.attribute(name).value_or(""));
}

void read_form(const auth::XmlElement& form, AuthReply& reply) {
  if (auto action = form.attribute("action"); action && !action->empty()) reply.action = *action;
  for (const auto& field : form.children) {
    std::string name = attribute(field, "name");
    if (field.name == "input") {
      std::string type = attribute(field, "type");
      if (type == "password" && reply.password_field.empty()) {
        reply.password_field = name;
      } else if (type == "text" && (name.starts_with("user") || name.starts_with("uname"))) {
        reply.user_field = name;
      } else if (type == "hidden") {
        reply.hidden.emplace_back(name, attribute(field, "value"));
      }
    } else if (field.name == "select" && name == "group_list") {
      for (const auto& option : field.children) {
        if (option.name != "option") continue;
        if (reply.group_select.empty() || option.attribute("selected") == "true") {
          reply.group_select = attribute(option, "value");
        }
      }
    }
  }
}

constexpr std::string_view kCapabilities =
    "<capabilities><auth-method>single-sign-on-v2</auth-method>"
    "<auth-method>single-sign-on-external-browser</auth-method></capabilities>";

}  // namespace

Result<AuthReply> parse_auth_reply(std::string_view xml) {
  auto root = auth::parse_xml(xml);
  if (!root) return fail("reply is not XML: " + root.error());
  if (root->name != "config-auth")
    return fail("reply root is <" + root->name + ">, not config-auth");
  AuthReply reply;
  const auth::XmlElement* auth_element = root->child("auth");
  if (!auth_element) return fail("reply has no <auth> element");
  reply.auth_id = attribute(*auth_element, "id");
  if (const auto* m = auth_element->child("message")) reply.message = m->text;
  if (const auto* e = auth_element->child("error")) reply.error = e->text;
  if (const auto* t = root->child("session-token")) reply.session_token = t->text;
  if (const auto* o = root->child("opaque")) serialize(*o, reply.opaque_xml);
  if (reply.auth_id == "success") {
    reply.kind = AuthReply::Kind::success;
    return reply;
  }
  if (const auto* form = auth_element->child("form")) read_form(*form, reply);
  return reply;
}

std::string build_init_body(std::string_view group_access) {
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += "<config-auth client=\"vpn\" type=\"init\" aggregate-auth-version=\"2\">";
  out += "<version who=\"vpn\">v9.01-3</version><device-id>linux-64</device-id>";
  out += kCapabilities;
  out += "<group-access>" + auth::xml_escape(group_access) + "</group-access></config-auth>";
  return out;
}

std::string build_auth_reply_body(const AuthReply& form, std::string_view user,
                                  std::string_view password) {
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += "<config-auth client=\"vpn\" type=\"auth-reply\" aggregate-auth-version=\"2\">";
  out += "<version who=\"vpn\">v9.01-3</version><device-id>linux-64</device-id>";
  out += kCapabilities;
  out += form.opaque_xml;
  out += "<auth>";
  auto field = [&](const std::string& name, std::string_view value) {
    if (!name.empty()) out += "<" + name + ">" + auth::xml_escape(value) + "</" + name + ">";
  };
  field(form.user_field, user);
  field(form.password_field, password);
  for (const auto& [name, value] : form.hidden) field(name, value);
  out += "</auth>";
  if (!form.group_select.empty()) {
    out += "<group-select>" + auth::xml_escape(form.group_select) + "</group-select>";
  }
  out += "</config-auth>";
  return out;
}

std::vector<http::Header> auth_post_headers(std::string_view host, std::string_view cookies,
                                            std::size_t body_size) {
  std::vector<http::Header> h;
  h.push_back({"Host", std::string(host)});
  h.push_back({"User-Agent", std::string(kUserAgent)});
  if (!cookies.empty()) h.push_back({"Cookie", std::string(cookies)});
  h.push_back({"Accept", "*/*"});
  h.push_back({"Accept-Encoding", "identity"});
  h.push_back({"X-Transcend-Version", "1"});
  h.push_back({"X-Aggregate-Auth", "1"});
  h.push_back({"X-Support-HTTP-Auth", "true"});
  // openconnect pads body + pad to a multiple of 64 to hide the password length.
  if (std::size_t pad = (64 - body_size % 64) % 64; pad > 0) {
    h.push_back({"X-Pad", std::string(pad, '0')});
  }
  h.push_back({"Content-Type", "application/xml; charset=utf-8"});
  return h;
}

std::string build_connect_request(std::string_view host, std::string_view token, bool dtls) {
  std::vector<http::Header> h;
  h.push_back({"Host", std::string(host)});
  h.push_back({"User-Agent", std::string(kUserAgent)});
  h.push_back({"Cookie", "webvpn=" + std::string(token)});
  h.push_back({"X-CSTP-Version", "1"});
  h.push_back({"X-CSTP-Hostname", "tandem-load"});
  h.push_back({"X-CSTP-Base-MTU", "1500"});
  h.push_back({"X-CSTP-MTU", "1390"});
  h.push_back({"X-CSTP-Address-Type", "IPv4"});
  if (dtls) {
    std::array<unsigned char, 48> secret{};
    RAND_bytes(secret.data(), static_cast<int>(secret.size()));
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string hex;
    for (unsigned char b : secret) {
      hex += kHex[b >> 4];
      hex += kHex[b & 15];
    }
    h.push_back({"X-DTLS-Master-Secret", hex});  // unused in PSK mode, sent all the same
    h.push_back({"X-DTLS-CipherSuite", "PSK-NEGOTIATE"});
  }
  return build_request("CONNECT", "/CSCOSSLC/tunnel", h, "");
}

}  // namespace tandem::load
