#pragma once
// Addresses as text: IPv4 addresses and networks, and the "ip:port" and URL shapes that
// tandemd's and tandem-director's config readers and the replication code share. Pure.
#include <cstdint>
#include <optional>
#include <string>

#include "base/result.hpp"

namespace tandem::net {

struct Ipv4Net {
  std::uint32_t network;  // host byte order
  int prefix;             // 0..32
  std::uint32_t netmask() const { return prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix); }
};

Result<Ipv4Net> parse_cidr(const std::string& text);  // "10.77.0.0/24"; host bits must be 0
// Dotted quad, digits only, no leading zeros; host byte order.
std::optional<std::uint32_t> parse_ipv4(const std::string& text);
std::string format_ipv4(std::uint32_t addr);

// "ip:port": an IPv4 address and a port 1..65535 (no leading zero).
bool valid_listen(const std::string& s);
// "http://host:port" or "https://host:port": an etcd v3 endpoint.
bool valid_etcd_endpoint(const std::string& s);
// "https://host[:port]/": where directors send a member's new clients (no path, query or user).
bool valid_member_url(const std::string& s);

}  // namespace tandem::net
