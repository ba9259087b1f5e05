#include "node/config/cluster_shapes.hpp"

#include <algorithm>
#include <string_view>

#include "node/session/address_pool.hpp"

namespace tandem::config {
namespace {

bool host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '-' || c == '.';
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

bool valid_listen(const std::string& s) {
  const std::size_t colon = s.rfind(':');
  return colon != std::string::npos && session::parse_ipv4(s.substr(0, colon)) &&
         valid_port_text(std::string_view(s).substr(colon + 1));
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

}  // namespace tandem::config
