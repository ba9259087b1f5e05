#include "node/http/client_headers.hpp"

#include <string_view>
#include <vector>

namespace tandem::http {
namespace {

Error bad(std::string message, Errc code) { return Error{std::move(message), code}; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool platform_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.';
}

// RFC 6265 cookie-octet: visible ASCII except DQUOTE, comma, semicolon and backslash.
bool cookie_octet(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u >= 0x21 && u <= 0x7e && c != '"' && c != ',' && c != ';' && c != '\\';
}

// The one value of header `name`; an error if it is sent twice (a smuggling shape).
Result<std::string_view> single(const Request& req, std::string_view name, bool& present) {
  present = false;
  std::string_view value;
  for (const auto& h : req.headers) {
    if (!iequals(h.name, name)) continue;
    if (present) return bad(std::string(name) + ": sent more than once", Errc::invalid);
    present = true;
    value = h.value;
  }
  return value;
}

}  // namespace

bool is_platform_name(std::string_view s) {
  if (s.empty() || s.size() > kMaxPlatform) return false;
  for (char c : s)
    if (!platform_char(c)) return false;
  return true;
}

Result<ClientHeaders> read_client_headers(const Request& req) {
  ClientHeaders out;
  bool present = false;

  auto platform = single(req, "X-AnyConnect-Platform", present);
  if (!platform) return bad(platform.error(), Errc::invalid);
  if (present) {
    if (!is_platform_name(*platform))
      return bad("X-AnyConnect-Platform: not a platform name (1-" + std::to_string(kMaxPlatform) +
                     " characters of A-Z a-z 0-9 . _ -)",
                 Errc::invalid);
    out.platform = std::string(*platform);
  }

  auto protocol = single(req, "X-CSTP-Protocol", present);
  if (!protocol) return bad(protocol.error(), Errc::invalid);
  if (present) {
    bool ok = protocol->size() <= kMaxCstpProtocol;
    for (char c : *protocol) ok = ok && c >= 0x20 && c <= 0x7e;
    if (!ok)
      return bad("X-CSTP-Protocol: over " + std::to_string(kMaxCstpProtocol) +
                     " bytes or not printable ASCII",
                 Errc::invalid);
    out.cstp_protocol = std::string(*protocol);
  }

  // Both are "1" from every client seen; a version number is digits and dots, nothing else.
  for (auto [name, flag] : {std::pair{"X-Aggregate-Auth", &out.aggregate_auth},
                            std::pair{"X-Transcend-Version", &out.transcend}}) {
    auto v = single(req, name, present);
    if (!v) return bad(v.error(), Errc::invalid);
    if (!present) continue;
    bool ok = !v->empty() && v->size() <= 8;
    for (char c : *v) ok = ok && ((c >= '0' && c <= '9') || c == '.');
    if (!ok) return bad(std::string(name) + ": not a version number", Errc::invalid);
    *flag = *v == "1" || *v == "1.0";
  }
  return out;
}

Result<std::string> session_token(const Request& req) {
  std::vector<std::string_view> tokens;
  bool cleared = false;
  bool other_anyconnect_cookie = false;
  for (const auto& h : req.headers) {
    if (!iequals(h.name, "Cookie")) continue;
    std::string_view rest = h.value;
    while (!rest.empty()) {
      const auto semi = rest.find(';');
      std::string_view pair = trim(rest.substr(0, semi));
      rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
      const auto eq = pair.find('=');
      if (eq == std::string_view::npos) continue;
      const std::string_view name = trim(pair.substr(0, eq));
      std::string_view value = trim(pair.substr(eq + 1));
      if (name != "webvpn") {
        other_anyconnect_cookie = other_anyconnect_cookie || name.starts_with("webvpn");
        continue;
      }
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
        value.remove_prefix(1);
        value.remove_suffix(1);
      }
      if (value.empty()) {
        cleared = true;
        continue;
      }
      if (value.size() > kMaxSessionToken)
        return bad("webvpn cookie over " + std::to_string(kMaxSessionToken) + " bytes",
                   Errc::invalid);
      for (char c : value)
        if (!cookie_octet(c))
          return bad("webvpn cookie holds a byte a cookie value may not", Errc::invalid);
      bool seen = false;
      for (auto t : tokens) seen = seen || t == value;
      if (!seen) tokens.push_back(value);
    }
  }
  if (tokens.size() > 1) return bad("two different webvpn cookies", Errc::invalid);
  if (tokens.empty()) {
    if (cleared) return bad("empty webvpn cookie", Errc::not_found);
    if (other_anyconnect_cookie)
      return bad("no webvpn cookie (webvpnc and webvpncontext are not session tokens)",
                 Errc::not_found);
    return bad("no session token", Errc::not_found);
  }
  return std::string(tokens.front());
}

}  // namespace tandem::http
