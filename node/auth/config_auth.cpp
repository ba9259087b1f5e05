#include "node/auth/config_auth.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdio>

namespace tandem::auth {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

bool is_name_start(char c) {
  auto u = static_cast<unsigned char>(c);
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' || u >= 0x80;
}

bool is_name_char(char c) {
  return is_name_start(c) || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

// XML 1.0 Char production: what a character reference may produce.
bool is_xml_char(std::uint32_t cp) {
  return cp == 0x9 || cp == 0xa || cp == 0xd || (cp >= 0x20 && cp <= 0xd7ff) ||
         (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
    return;
  }
  static constexpr std::uint32_t kLead[] = {0, 0xc0, 0xe0, 0xf0};
  int extra = cp < 0x800 ? 1 : cp < 0x10000 ? 2 : 3;
  out += static_cast<char>(kLead[extra] | (cp >> (6 * extra)));
  for (int i = extra - 1; i >= 0; --i) out += static_cast<char>(0x80 | ((cp >> (6 * i)) & 0x3f));
}

// The five predefined entities are the only named ones: there is no DTD to define others.
char predefined_entity(std::string_view name) {
  if (name == "lt") return '<';
  if (name == "gt") return '>';
  if (name == "amp") return '&';
  if (name == "quot") return '"';
  if (name == "apos") return '\'';
  return 0;
}

// Names from the document go into error messages, which go into logs.
std::string printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 40)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return out;
}

// A single-pass reader with an explicit element stack: hostile nesting is refused by max_depth
// without recursing. (The finished tree's destructor does recurse, so keep max_depth small.)
class Reader {
 public:
  Reader(std::string_view in, const XmlLimits& limits) : in_(in), limits_(limits) {}

  Result<XmlElement> run() {
    if (in_.size() > limits_.max_bytes) {
      return fail("XML document of " + std::to_string(in_.size()) + " bytes exceeds max_bytes (" +
                  std::to_string(limits_.max_bytes) + ")");
    }
    XmlElement root;
    if (in_.starts_with("\xef\xbb\xbf")) pos_ = 3;  // UTF-8 byte order mark
    if (starts("<?xml") && pos_ + 5 < in_.size() &&
        (is_space(in_[pos_ + 5]) || in_[pos_ + 5] == '?')) {
      if (!skip_past(5, "?>", "unterminated XML declaration")) return error();
    }
    if (!misc() || !element_tree(root) || !misc()) return error();
    if (pos_ < in_.size()) {
      why_ = "content after the root element";
      return error();
    }
    return root;
  }

 private:
  Error error() const {
    if (at_limit_) return fail(why_);
    return fail("XML error at byte " + std::to_string(pos_) + ": " + why_);
  }
  bool bad(std::string why) {
    why_ = std::move(why);
    return false;
  }
  bool limit(std::string why) {
    at_limit_ = true;
    return bad(std::move(why));
  }
  bool starts(std::string_view s) const { return in_.substr(pos_).starts_with(s); }
  bool skip_space() {
    std::size_t before = pos_;
    while (pos_ < in_.size() && is_space(in_[pos_])) ++pos_;
    return pos_ > before;
  }
  // `opener` bytes are skipped first so that "<!-->" or "<?>" do not close themselves.
  bool skip_past(std::size_t opener, std::string_view end, const char* why) {
    auto at = in_.find(end, pos_ + opener);
    if (at == std::string_view::npos) return bad(why);
    pos_ = at + end.size();
    return true;
  }

  // Comments, processing instructions and whitespace; anything else starting with "<!" is a
  // DTD-level construct, which is exactly what entity-expansion attacks need.
  bool markup_other_than_elements(bool& consumed) {
    consumed = true;
    if (starts("<!--")) return skip_past(4, "-->", "unterminated comment");
    if (starts("<?")) {
      std::size_t target = pos_ + 2;
      if (in_.substr(target, 3) == "xml" && target + 3 < in_.size() &&
          (is_space(in_[target + 3]) || in_[target + 3] == '?')) {
        return bad("XML declaration not at the start of the document");
      }
      return skip_past(2, "?>", "unterminated processing instruction");
    }
    if (starts("<!DOCTYPE") || starts("<!ENTITY") || starts("<!ELEMENT") || starts("<!ATTLIST")) {
      return bad("DTD/entity declarations are not allowed");
    }
    consumed = false;
    return true;
  }

  bool misc() {
    while (true) {
      skip_space();
      bool consumed = false;
      if (!markup_other_than_elements(consumed)) return false;
      if (!consumed) return true;
    }
  }

  bool name(std::string& out) {
    std::size_t start = pos_;
    if (pos_ >= in_.size() || !is_name_start(in_[pos_])) return false;
    while (pos_ < in_.size() && is_name_char(in_[pos_])) ++pos_;
    out.assign(in_.substr(start, pos_ - start));
    return true;
  }

  // Appends character data (text, CDATA or an attribute value) to `out`, applying the XML
  // line-end and attribute-value normalisations and, unless CDATA, decoding references.
  bool chars(std::string_view raw, std::string& out, bool attribute, bool entities) {
    for (std::size_t i = 0; i < raw.size(); ++i) {
      char c = raw[i];
      if (c == '\r') {
        if (i + 1 < raw.size() && raw[i + 1] == '\n') continue;
        c = '\n';
      }
      if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n') {
        return bad("control character " + std::to_string(int(c)) + " in character data");
      }
      if (attribute && (c == '\t' || c == '\n')) c = ' ';
      if (c != '&' || !entities) {
        out += c;
        continue;
      }
      auto semi = raw.find(';', i);
      if (semi == std::string_view::npos || semi - i > 12) {
        return bad("unterminated entity reference");
      }
      auto ref = raw.substr(i + 1, semi - i - 1);
      i = semi;
      if (ref.starts_with('#')) {
        if (!char_ref(ref.substr(1), out)) return false;
      } else if (char predefined = predefined_entity(ref)) {
        out += predefined;
      } else {
        return bad("undefined entity &" + printable(ref) + ";");
      }
    }
    return true;
  }

  bool char_ref(std::string_view digits, std::string& out) {
    int base = 10;
    if (digits.starts_with('x')) {
      base = 16;
      digits.remove_prefix(1);
    }
    std::uint32_t cp = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), cp, base);
    if (digits.empty() || ec != std::errc{} || end != digits.data() + digits.size()) {
      return bad("invalid character reference &#" + printable(digits) + ";");
    }
    if (!is_xml_char(cp)) {
      char hex[16];
      std::snprintf(hex, sizeof hex, "U+%04X", static_cast<unsigned>(cp));
      return bad(std::string("character reference to invalid character ") + hex);
    }
    append_utf8(out, cp);
    return true;
  }

  bool start_tag(XmlElement& el, bool& self_closing, std::size_t depth) {
    ++pos_;  // '<'
    if (++elements_ > limits_.max_elements) {
      return limit("XML has more elements than max_elements (" +
                   std::to_string(limits_.max_elements) + ")");
    }
    if (depth > limits_.max_depth) {
      return limit("XML nesting exceeds max_depth (" + std::to_string(limits_.max_depth) + ")");
    }
    if (!name(el.name)) return bad("invalid element name");
    names_.clear();
    while (true) {
      bool spaced = skip_space();
      if (starts("/>") || starts(">")) {
        if (!unique_attributes()) return false;
        self_closing = in_[pos_] == '/';
        pos_ += self_closing ? 2 : 1;
        return true;
      }
      std::string key;
      const std::size_t key_at = pos_;
      if (!spaced || !name(key)) return bad("malformed start tag <" + printable(el.name) + ">");
      names_.push_back(in_.substr(key_at, key.size()));  // names are not decoded: a view suffices
      skip_space();
      if (!starts("=")) return bad("attribute " + printable(key) + " without a value");
      ++pos_;
      skip_space();
      char quote = pos_ < in_.size() ? in_[pos_] : 0;
      if (quote != '"' && quote != '\'') return bad("attribute value not quoted");
      auto end = in_.find(quote, pos_ + 1);
      if (end == std::string_view::npos) return bad("unterminated attribute value");
      auto raw = in_.substr(pos_ + 1, end - pos_ - 1);
      if (raw.find('<') != std::string_view::npos) return bad("'<' in attribute value");
      std::string value;
      if (!chars(raw, value, true, true)) return false;
      pos_ = end + 1;
      el.attributes.emplace_back(std::move(key), std::move(value));
    }
  }

  // Duplicate names among the start tag's attributes, found by sorting their names: n log n
  // comparisons, where a search per attribute would be n^2 (a hostile tag within max_bytes can
  // hold thousands of attributes). Reported at the end of the tag.
  bool unique_attributes() {
    if (names_.size() < 2) return true;
    std::sort(names_.begin(), names_.end());
    auto twin = std::adjacent_find(names_.begin(), names_.end());
    if (twin != names_.end()) return bad("duplicate attribute " + printable(*twin));
    return true;
  }

  bool element_tree(XmlElement& root) {
    if (!starts("<")) return bad("no root element");
    std::vector<XmlElement> open;
    bool self_closing = false;
    if (!start_tag(root, self_closing, 1)) return false;
    if (self_closing) return true;
    open.push_back(std::move(root));
    while (true) {
      XmlElement& top = open.back();
      if (pos_ >= in_.size()) return bad("document ends inside <" + printable(top.name) + ">");
      if (starts("</")) {
        pos_ += 2;
        std::string closing;
        if (!name(closing) || (skip_space(), !starts(">"))) return bad("malformed end tag");
        ++pos_;
        if (closing != top.name) {
          return bad("end tag </" + printable(closing) + "> does not match <" +
                     printable(top.name) + ">");
        }
        XmlElement done = std::move(top);
        open.pop_back();
        if (open.empty()) {
          root = std::move(done);
          return true;
        }
        open.back().children.push_back(std::move(done));
      } else if (starts("<![CDATA[")) {
        auto end = in_.find("]]>", pos_ + 9);
        if (end == std::string_view::npos) return bad("unterminated CDATA section");
        if (!chars(in_.substr(pos_ + 9, end - pos_ - 9), top.text, false, false)) return false;
        pos_ = end + 3;
      } else if (starts("<")) {
        bool consumed = false;
        if (!markup_other_than_elements(consumed)) return false;
        if (consumed) continue;
        if (starts("<!")) return bad("unsupported markup declaration");
        XmlElement child;
        if (!start_tag(child, self_closing, open.size() + 1)) return false;
        if (self_closing) {
          top.children.push_back(std::move(child));
        } else {
          open.push_back(std::move(child));  // invalidates `top`; the loop re-reads it
        }
      } else {
        auto end = std::min(in_.find('<', pos_), in_.size());
        if (!chars(in_.substr(pos_, end - pos_), top.text, false, true)) return false;
        pos_ = end;
      }
    }
  }

  std::string_view in_;
  const XmlLimits& limits_;
  std::vector<std::string_view> names_;  // the current start tag's attribute names, into in_
  std::size_t pos_ = 0;
  std::size_t elements_ = 0;
  std::string why_;
  bool at_limit_ = false;
};

std::string text_of(const XmlElement* el) { return el ? el->text : std::string(); }

constexpr std::string_view kProlog = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

}  // namespace

const XmlElement* XmlElement::child(std::string_view child_name) const {
  for (const auto& c : children) {
    if (c.name == child_name) return &c;
  }
  return nullptr;
}

std::optional<std::string_view> XmlElement::attribute(std::string_view attribute_name) const {
  for (const auto& [key, value] : attributes) {
    if (key == attribute_name) return std::string_view(value);
  }
  return std::nullopt;
}

Result<XmlElement> parse_xml(std::string_view xml, XmlLimits limits) {
  return Reader(xml, limits).run();
}

Result<ClientMessage> parse_client_message(std::string_view xml, XmlLimits limits) {
  auto doc = parse_xml(xml, limits);
  if (!doc) return fail(doc.error());
  const XmlElement& root = *doc;
  if (root.name != "config-auth") {
    return fail("root element is <" + printable(root.name) + ">, expected <config-auth>");
  }
  auto type = root.attribute("type");
  if (!type || type->empty()) return fail("<config-auth> has no type attribute");

  ClientMessage msg;
  msg.type = *type;
  const XmlElement* version = root.child("version");
  for (const auto& c : root.children) {
    if (c.name == "version" && c.attribute("who") == "vpn") {
      version = &c;
      break;
    }
  }
  msg.version = text_of(version);
  msg.device_id = text_of(root.child("device-id"));
  msg.group_select = text_of(root.child("group-select"));
  msg.group_access = text_of(root.child("group-access"));
  if (const XmlElement* auth = root.child("auth")) {
    msg.username = text_of(auth->child("username"));
    msg.password = text_of(auth->child("password"));
    // A challenge's field is "answer": openconnect sends it as <password>, others may not.
    if (msg.password.empty()) msg.password = text_of(auth->child("answer"));
  }
  if (const XmlElement* opaque = root.child("opaque")) {
    msg.opaque_tunnel_group = text_of(opaque->child("tunnel-group"));
    msg.opaque_challenge = text_of(opaque->child("challenge"));
  }
  return msg;
}

std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      case '\r':
        out += "&#13;";
        break;  // a raw CR would be normalised to LF by the reader
      default:
        // Other C0 controls cannot be represented in XML 1.0 at all, not even as references.
        if (static_cast<unsigned char>(c) >= 0x20 || c == '\t' || c == '\n') out += c;
    }
  }
  return out;
}

std::string build_challenge_form(const ChallengeForm& form) {
  std::string out(kProlog);
  out += "<config-auth client=\"vpn\" type=\"auth-request\" aggregate-auth-version=\"2\">\n";
  out += "<opaque is-for=\"sg\"><tunnel-group>" + xml_escape(form.tunnel_group) +
         "</tunnel-group><challenge>" + xml_escape(form.challenge_id) + "</challenge></opaque>\n";
  out += "<auth id=\"challenge\">\n";
  out += "<message>" +
         xml_escape(form.message.empty() ? "Please enter your response." : form.message) +
         "</message>\n";
  out += "<form method=\"post\" action=\"/\">\n";
  out += "<input type=\"password\" name=\"answer\" label=\"Response:\" />\n";
  out += "</form>\n</auth>\n</config-auth>\n";
  return out;
}

std::string build_login_form(const LoginForm& form) {
  std::string tunnel_group = form.selected_group;
  if (tunnel_group.empty() && !form.groups.empty()) tunnel_group = form.groups.front();

  std::string out(kProlog);
  out += "<config-auth client=\"vpn\" type=\"auth-request\" aggregate-auth-version=\"2\">\n";
  out += "<opaque is-for=\"sg\"><tunnel-group>" + xml_escape(tunnel_group) +
         "</tunnel-group></opaque>\n";
  out += "<auth id=\"main\">\n";
  out += "<message>" + xml_escape(form.message) + "</message>\n";
  if (!form.error.empty()) out += "<error>" + xml_escape(form.error) + "</error>\n";
  out += "<form method=\"post\" action=\"/\">\n";
  if (form.groups.size() > 1) {
    // First in the form so that the client asks for the group before the credentials (§2.7).
    out += "<select name=\"group_list\" label=\"GROUP:\">\n";
    for (const auto& g : form.groups) {
      std::string escaped = xml_escape(g);
      out += "<option value=\"" + escaped + "\"";
      if (g == form.selected_group) out += " selected=\"true\"";
      out += ">" + escaped + "</option>\n";
    }
    out += "</select>\n";
  }
  out += "<input type=\"text\" name=\"username\" label=\"Username:\" />\n";
  out += "<input type=\"password\" name=\"password\" label=\"Password:\" />\n";
  out += "</form>\n</auth>\n</config-auth>\n";
  return out;
}

std::string build_login_success(std::string_view session_token, std::string_view banner,
                                std::string_view config_xml) {
  std::string out(kProlog);
  out += "<config-auth client=\"vpn\" type=\"complete\" aggregate-auth-version=\"2\">\n";
  out += "<session-token>" + xml_escape(session_token) + "</session-token>\n";
  out += "<auth id=\"success\"><message>Login successful.</message>";
  if (!banner.empty()) out += "<banner>" + xml_escape(banner) + "</banner>";
  out += "</auth>\n";
  if (!config_xml.empty()) out += std::string(config_xml) + "\n";
  out += "</config-auth>\n";
  return out;
}

}  // namespace tandem::auth
