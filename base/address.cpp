#include "base/address.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <string_view>

namespace tandem::net {
namespace {

// Digits only, no sign, no leading zero (so "010" is never read as octal the way inet_aton
// would), value at most `max`.
std::optional<std::uint32_t> parse_decimal(std::string_view text, std::uint32_t max) {
  if (text.empty() || text.size() > 10 || (text.size() > 1 && text[0] == '0')) return std::nullopt;
  std::uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (value > max) return std::nullopt;
  return static_cast<std::uint32_t>(value);
}

bool host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.';
}

bool valid_port_text(std::string_view port) {
  if (port.empty() || port.size() > 5 || port[0] == '0') return false;
  int value = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  return value <= 65535;
}

// host[:port] with a DNS name or an IPv4 address; the port optional unless `need_port`.
bool valid_authority(std::string_view a, bool need_port) {
  const std::size_t colon = a.rfind(':');
  const std::string_view host = colon == std::string_view::npos ? a : a.substr(0, colon);
  if (host.empty() || host.size() > 253 || !std::all_of(host.begin(), host.end(), host_char))
    return false;
  if (colon == std::string_view::npos) return !need_port;
  return valid_port_text(a.substr(colon + 1));
}

}  // namespace

std::optional<std::uint32_t> parse_ipv4(const std::string& text) {
  std::string_view rest = text;
  std::uint32_t addr = 0;
  for (int i = 0; i < 4; ++i) {
    const std::size_t dot = rest.find('.');
    const bool last = i == 3;
    if (last != (dot == std::string_view::npos)) return std::nullopt;  // exactly three dots
    const auto octet = parse_decimal(rest.substr(0, dot), 255);
    if (!octet) return std::nullopt;
    addr = addr << 8 | *octet;
    if (!last) rest.remove_prefix(dot + 1);
  }
  return addr;
}

std::string format_ipv4(std::uint32_t addr) {
  return std::to_string(addr >> 24) + '.' + std::to_string(addr >> 16 & 0xff) + '.' +
         std::to_string(addr >> 8 & 0xff) + '.' + std::to_string(addr & 0xff);
}

// Errors describe the problem, not the input: callers know which key or field they were parsing.
Result<Ipv4Net> parse_cidr(const std::string& text) {
  const std::size_t slash = text.find('/');
  if (slash == std::string::npos) return fail("missing \"/len\"");
  const auto addr = parse_ipv4(text.substr(0, slash));
  if (!addr) return fail("not a dotted-quad IPv4 address before '/'");
  const auto prefix = parse_decimal(std::string_view(text).substr(slash + 1), 32);
  if (!prefix) return fail("prefix length after '/' is not 0..32");
  Ipv4Net net{*addr, static_cast<int>(*prefix)};
  // A typo like 10.77.0.1/24 is refused rather than silently widened to 10.77.0.0/24.
  if ((*addr & ~net.netmask()) != 0) {
    return fail("host bits are set (the network is " + format_ipv4(*addr & net.netmask()) + "/" +
                std::to_string(*prefix) + ")");
  }
  return net;
}

bool valid_listen(const std::string& s) {
  const std::size_t colon = s.rfind(':');
  return colon != std::string::npos && parse_ipv4(s.substr(0, colon)) &&
         valid_port_text(std::string_view(s).substr(colon + 1));
}

bool valid_listen_any(const std::string& s) {
  if (valid_listen(s)) return true;
  const std::size_t close = s.rfind("]:");
  return s.starts_with('[') && close != std::string::npos &&
         parse_ipv6(s.substr(1, close - 1)).has_value() &&
         valid_port_text(std::string_view(s).substr(close + 2));
}

std::string listen_host(const std::string& s) {
  const std::string host = s.substr(0, s.rfind(':'));
  return host.starts_with('[') && host.ends_with(']') ? host.substr(1, host.size() - 2) : host;
}

bool valid_etcd_endpoint(const std::string& s) {
  std::string_view rest = s;
  if (rest.starts_with("http://"))
    rest.remove_prefix(7);
  else if (rest.starts_with("https://"))
    rest.remove_prefix(8);
  else
    return false;
  return valid_authority(rest, true);
}

bool valid_member_url(const std::string& s) {
  std::string_view rest = s;
  if (!rest.starts_with("https://")) return false;
  rest.remove_prefix(8);
  if (rest.ends_with('/')) rest.remove_suffix(1);
  return valid_authority(rest, false);
}

namespace {

Ipv6Addr masked6(Ipv6Addr a, int prefix) {
  for (int i = 0; i < 16; ++i) {
    const int bits = std::clamp(prefix - i * 8, 0, 8);
    a[i] = static_cast<std::uint8_t>(a[i] & (bits == 0 ? 0 : 0xff << (8 - bits)));
  }
  return a;
}

}  // namespace

bool Ipv6Net::contains(const Ipv6Addr& a) const { return masked6(a, prefix) == network; }

std::optional<Ipv6Addr> parse_ipv6(const std::string& text) {
  // inet_pton takes exactly the RFC 4291 forms; the dotted-quad tail is refused here so an
  // IPv4 address is never read as an IPv6 one by mistake.
  if (text.empty() || text.find_first_not_of("0123456789abcdefABCDEF:") != std::string::npos)
    return std::nullopt;
  Ipv6Addr out{};
  if (::inet_pton(AF_INET6, text.c_str(), out.data()) != 1) return std::nullopt;
  return out;
}

std::string format_ipv6(const Ipv6Addr& addr) {
  char buf[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET6, addr.data(), buf, sizeof buf);
  return buf;
}

Result<Ipv6Net> parse_cidr6(const std::string& text) {
  const std::size_t slash = text.find('/');
  if (slash == std::string::npos) return fail("missing \"/len\"");
  const auto addr = parse_ipv6(text.substr(0, slash));
  if (!addr) return fail("not an IPv6 address before '/'");
  const auto prefix = parse_decimal(std::string_view(text).substr(slash + 1), 128);
  if (!prefix) return fail("prefix length after '/' is not 0..128");
  const Ipv6Net net{masked6(*addr, static_cast<int>(*prefix)), static_cast<int>(*prefix)};
  if (net.network != *addr)
    return fail("host bits are set (the network is " + format_cidr6(net) + ")");
  return net;
}

std::string format_cidr6(const Ipv6Net& net) {
  return format_ipv6(net.network) + "/" + std::to_string(net.prefix);
}

std::uint64_t low64(const Ipv6Addr& addr) {
  std::uint64_t v = 0;
  for (int i = 8; i < 16; ++i) v = v << 8 | addr[i];
  return v;
}

Ipv6Addr with_low64(Ipv6Addr addr, std::uint64_t low) {
  for (int i = 15; i >= 8; --i, low >>= 8) addr[i] = static_cast<std::uint8_t>(low & 0xff);
  return addr;
}

}  // namespace tandem::net
