#include "tests/tools/redirect_location.hpp"

#include <boost/asio/ip/address.hpp>
#include <charconv>

namespace tandem::load {
namespace {

// Longer than any Location a director builds (member URL + the client's path), short enough that
// a runaway header is refused rather than echoed into reports.
constexpr std::size_t kMaxLocation = 2048;

Error bad(std::string_view location, const std::string& why) {
  std::string shown(location.substr(0, 120));
  if (location.size() > shown.size()) shown += "...";
  return Error{"bad Location '" + shown + "': " + why, Errc::invalid};
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
    if (x != b[i]) return false;
  }
  return true;
}

}  // namespace

bool is_redirect_status(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

Result<RedirectTarget> parse_location(std::string_view location) {
  if (location.empty()) return bad(location, "empty");
  if (location.size() > kMaxLocation) {
    return bad(location, "longer than " + std::to_string(kMaxLocation) + " bytes");
  }
  // The parsed header has no line breaks, but a Location with spaces or control bytes would be
  // sent on in our own request line: refuse it whole.
  for (char ch : location) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7f) return bad(location, "a space, control or non-ASCII byte");
  }
  constexpr std::string_view kScheme = "https://";
  if (location.size() < kScheme.size() || !iequals(location.substr(0, kScheme.size()), kScheme)) {
    return bad(location, "not an absolute https:// URL");
  }
  std::string_view rest = location.substr(kScheme.size());
  const auto authority_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, authority_end);
  std::string_view tail =
      authority_end == std::string_view::npos ? std::string_view{} : rest.substr(authority_end);
  if (authority.empty()) return bad(location, "no host");
  if (authority.find('@') != std::string_view::npos) return bad(location, "user information");

  std::string_view host = authority;
  std::string_view port_text;
  bool bracketed = false;
  if (authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return bad(location, "'[' without ']'");
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad(location, "junk after ']'");
      port_text = after.substr(1);
      if (port_text.empty()) return bad(location, "':' without a port");
    }
    bracketed = true;
  } else if (const auto colon = authority.find(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port_text = authority.substr(colon + 1);
    if (port_text.empty()) return bad(location, "':' without a port");
  }

  RedirectTarget out;
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(std::string(host), ec);
  if (ec) return bad(location, "host is not an IP address (tandem-load resolves no names)");
  if (address.is_v6() != bracketed) {
    return bad(location, bracketed ? "brackets around an IPv4 address" : "IPv6 without brackets");
  }
  if (!port_text.empty()) {
    unsigned v = 0;
    auto [end, perr] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), v);
    if (perr != std::errc() || end != port_text.data() + port_text.size() || v == 0 || v > 65535) {
      return bad(location, "port is not 1..65535");
    }
    out.port = static_cast<unsigned short>(v);
  }
  out.ip = address.to_string();
  const std::string shown_host = bracketed ? "[" + out.ip + "]" : out.ip;
  out.authority = out.port == 443 ? shown_host : shown_host + ":" + std::to_string(out.port);

  // A fragment is never sent to a server.
  tail = tail.substr(0, tail.find('#'));
  if (tail.empty()) {
    out.target = "/";
  } else if (tail.front() == '?') {
    out.target = "/" + std::string(tail);
  } else {
    out.target = std::string(tail);
  }
  return out;
}

}  // namespace tandem::load
