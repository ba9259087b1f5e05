#pragma once
// Addresses as text: IPv4 addresses and networks, and the "ip:port" and URL shapes that
// tandemd's and tandem-director's config readers and the replication code share. Pure.
#include <array>
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

// IPv6 addresses and networks (docs/ipv6.md): 16 bytes in network order.
using Ipv6Addr = std::array<std::uint8_t, 16>;

struct Ipv6Net {
  Ipv6Addr network{};  // host bits zero
  int prefix = 0;      // 0..128
  bool contains(const Ipv6Addr& a) const;
};

// RFC 4291 text ("fd00:77::1", "::"); no zone, no embedded dotted quad.
std::optional<Ipv6Addr> parse_ipv6(const std::string& text);
// RFC 5952 form (lower case, longest zero run compressed).
std::string format_ipv6(const Ipv6Addr& addr);
// "fd00:77::/64"; host bits must be 0.
Result<Ipv6Net> parse_cidr6(const std::string& text);
std::string format_cidr6(const Ipv6Net& net);
// The low 64 bits (the interface identifier of a /64), as a number, and back.
std::uint64_t low64(const Ipv6Addr& addr);
Ipv6Addr with_low64(Ipv6Addr addr, std::uint64_t low);

// "ip:port": an IPv4 address and a port 1..65535 (no leading zero).
bool valid_listen(const std::string& s);
// valid_listen, or "[ipv6]:port" (docs/ipv6.md, "IPv6 as the outer transport").
bool valid_listen_any(const std::string& s);
// The host part of a valid_listen_any text, without brackets: "10.0.0.1", "fd00::1".
std::string listen_host(const std::string& s);
// "http://host:port" or "https://host:port": an etcd v3 endpoint.
bool valid_etcd_endpoint(const std::string& s);
// "https://host[:port]/": where directors send a member's new clients (no path, query or user).
bool valid_member_url(const std::string& s);

}  // namespace tandem::net
