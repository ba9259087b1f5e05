// The config-auth XML (node/auth): what a client POSTs before it has logged in, so anyone on the
// Internet can send it.
//
// The input is the POST body. Invariants:
//  - parse_xml and parse_client_message return an error rather than throw; errors are printable
//    ASCII (they go into logs and answers);
//  - a parsed tree respects max_depth and max_elements (checked with the node's limits and with
//    tight ones), names are XML names, and decoded text holds no control byte XML cannot carry;
//  - parse_client_message's fields are exactly the tree's elements it documents;
//  - whatever text the builders are given (here: pieces of the input), build_login_form and
//    build_login_success produce XML our own reader parses, and the text comes back unchanged
//    except for what XML 1.0 cannot represent (C0 controls other than tab, LF and CR).
#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "node/auth/config_auth.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using tandem::auth::XmlElement;
using tandem::auth::XmlLimits;

bool printable_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
}

bool is_name_start(char c) {
  const auto u = static_cast<unsigned char>(c);
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' || u >= 0x80;
}

// Control bytes a decoded XML 1.0 text may hold: only tab, LF and CR (CR only from &#13;).
bool xml_text(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return static_cast<unsigned char>(c) >= 0x20 || c == '\t' || c == '\n' || c == '\r';
  });
}

void check_tree(const XmlElement& el, std::size_t depth, const XmlLimits& limits,
                std::size_t& count) {
  ++count;
  FUZZ_CHECK(depth <= limits.max_depth, "depth " + std::to_string(depth));
  FUZZ_CHECK(count <= limits.max_elements, "elements " + std::to_string(count));
  FUZZ_CHECK(!el.name.empty() && is_name_start(el.name[0]), "element name \"" + el.name + "\"");
  FUZZ_CHECK(xml_text(el.text), "control byte in the text of <" + el.name + ">");
  for (std::size_t i = 0; i < el.attributes.size(); ++i) {
    const auto& [key, value] = el.attributes[i];
    FUZZ_CHECK(!key.empty() && is_name_start(key[0]), "attribute name \"" + key + "\"");
    FUZZ_CHECK(xml_text(value), "control byte in attribute " + key);
    for (std::size_t j = 0; j < i; ++j)
      FUZZ_CHECK(el.attributes[j].first != key, "duplicate attribute " + key);
  }
  for (const auto& c : el.children) check_tree(c, depth + 1, limits, count);
}

std::string text_of(const XmlElement* el) { return el ? el->text : std::string(); }

void check_message(std::string_view input, const XmlLimits& limits) {
  auto doc = tandem::auth::parse_xml(input, limits);
  auto msg = tandem::auth::parse_client_message(input, limits);
  if (!doc) {
    FUZZ_CHECK(!doc.error().empty() && printable_ascii(doc.error()), doc.error());
    FUZZ_CHECK(!msg, "parse_client_message accepted what parse_xml refused");
    return;
  }
  std::size_t count = 0;
  check_tree(*doc, 1, limits, count);
  if (!msg) {
    FUZZ_CHECK(!msg.error().empty() && printable_ascii(msg.error()), msg.error());
    return;
  }
  const XmlElement& root = *doc;
  FUZZ_CHECK(root.name == "config-auth");
  FUZZ_CHECK(!msg->type.empty() && root.attribute("type") == std::string_view(msg->type));
  const XmlElement* version = root.child("version");
  for (const auto& c : root.children) {
    if (c.name == "version" && c.attribute("who") == "vpn") {
      version = &c;
      break;
    }
  }
  FUZZ_CHECK(msg->version == text_of(version));
  FUZZ_CHECK(msg->device_id == text_of(root.child("device-id")));
  FUZZ_CHECK(msg->group_select == text_of(root.child("group-select")));
  FUZZ_CHECK(msg->group_access == text_of(root.child("group-access")));
  const XmlElement* auth = root.child("auth");
  FUZZ_CHECK(msg->username == text_of(auth ? auth->child("username") : nullptr));
  FUZZ_CHECK(msg->password == text_of(auth ? auth->child("password") : nullptr));
  const XmlElement* opaque = root.child("opaque");
  FUZZ_CHECK(msg->opaque_tunnel_group == text_of(opaque ? opaque->child("tunnel-group") : nullptr));
}

// What survives xml_escape and our reader: everything but the C0 controls XML 1.0 cannot carry.
// In attribute values tab and LF are normalised to spaces (XML 1.0 §3.3.3).
std::string expected_text(std::string_view s, bool attribute) {
  std::string out;
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') continue;
    out += attribute && (c == '\t' || c == '\n') ? ' ' : c;
  }
  return out;
}

const XmlLimits kUnlimited{std::numeric_limits<std::size_t>::max(), 16, 512};

void check_builders(std::string_view input) {
  using tandem::auth::LoginForm;
  // Pieces of the input as the configured or client-given strings the builders embed.
  std::vector<std::string> pieces;
  std::size_t at = 0;
  while (pieces.size() < 4) {
    const auto nl = input.find('\n', at);
    pieces.emplace_back(input.substr(at, nl == std::string_view::npos ? nl : nl - at));
    if (nl == std::string_view::npos) break;
    at = nl + 1;
  }
  while (pieces.size() < 4) pieces.emplace_back();

  LoginForm form;
  form.message = std::string(input);
  form.error = pieces[0];
  form.groups = {pieces[1], pieces[2], pieces[3]};
  form.selected_group = pieces[2];
  const std::string xml = tandem::auth::build_login_form(form);
  auto doc = tandem::auth::parse_xml(xml, kUnlimited);
  FUZZ_CHECK(doc.ok(), "build_login_form made XML we cannot read: " + doc.error());
  FUZZ_CHECK(doc->attribute("type") == "auth-request");
  const XmlElement* opaque = doc->child("opaque");
  FUZZ_CHECK(opaque && opaque->child("tunnel-group"));
  const std::string& group = form.selected_group.empty() ? form.groups[0] : form.selected_group;
  FUZZ_CHECK(opaque->child("tunnel-group")->text == expected_text(group, false));
  const XmlElement* auth = doc->child("auth");
  FUZZ_CHECK(auth && auth->child("message"));
  FUZZ_CHECK(auth->child("message")->text == expected_text(form.message, false),
             "the login message did not survive");
  if (!form.error.empty()) {
    FUZZ_CHECK(auth->child("error") &&
               auth->child("error")->text == expected_text(form.error, false));
  }
  const XmlElement* f = auth->child("form");
  FUZZ_CHECK(f && f->child("select"), "no group select");
  std::size_t i = 0;
  for (const auto& option : f->child("select")->children) {
    FUZZ_CHECK(i < form.groups.size());
    FUZZ_CHECK(option.attribute("value") == expected_text(form.groups[i], true),
               "option value did not survive");
    FUZZ_CHECK(option.text == expected_text(form.groups[i], false));
    FUZZ_CHECK(option.attribute("selected").has_value() == (form.groups[i] == form.selected_group));
    ++i;
  }
  FUZZ_CHECK(i == form.groups.size());

  const std::string done = tandem::auth::build_login_success(pieces[0], pieces[1]);
  auto ok = tandem::auth::parse_xml(done, kUnlimited);
  FUZZ_CHECK(ok.ok(), "build_login_success made XML we cannot read: " + ok.error());
  FUZZ_CHECK(ok->child("session-token") &&
             ok->child("session-token")->text == expected_text(pieces[0], false));
  const XmlElement* banner = ok->child("auth") ? ok->child("auth")->child("banner") : nullptr;
  FUZZ_CHECK(pieces[1].empty()
                 ? banner == nullptr
                 : banner != nullptr && banner->text == expected_text(pieces[1], false));
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  tandem::fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = tandem::fuzz::as_chars(data, size);
  check_message(input, XmlLimits{});  // the node's limits
  tandem::fuzz::Rng rng(input);
  check_message(input, XmlLimits{64 + rng.below(4096), 1 + rng.below(6), 1 + rng.below(24)});
  check_builders(input);
  return 0;
}
