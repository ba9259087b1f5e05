#include "node/session/traffic_filter.hpp"

#include <algorithm>

namespace tandem::session {
namespace {

constexpr std::uint8_t kIcmp = 1;
constexpr std::uint8_t kIcmpEchoRequest = 8;
constexpr std::uint8_t kIcmpv6 = 58;
constexpr std::uint8_t kIcmpv6EchoRequest = 128;

std::uint32_t read_be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         p[3];
}

Result<std::vector<Ipv4Range>> ranges(const std::vector<std::string>& cidrs) {
  std::vector<Ipv4Range> out;
  out.reserve(cidrs.size());
  for (const auto& cidr : cidrs) {
    auto net = net::parse_cidr(cidr);
    if (!net) return fail("'" + cidr + "': " + net.error());
    out.push_back({net->network, net->netmask()});
  }
  return out;
}

Result<std::vector<net::Ipv6Net>> ranges6(const std::vector<std::string>& cidrs) {
  std::vector<net::Ipv6Net> out;
  out.reserve(cidrs.size());
  for (const auto& cidr : cidrs) {
    auto net = net::parse_cidr6(cidr);
    if (!net) return fail("'" + cidr + "': " + net.error());
    out.push_back(*net);
  }
  return out;
}

bool in_any(const std::vector<Ipv4Range>& list, std::uint32_t addr) {
  for (const auto& r : list)
    if (r.contains(addr)) return true;
  return false;
}

bool in_any(const std::vector<net::Ipv6Net>& list, const net::Ipv6Addr& addr) {
  for (const auto& r : list)
    if (r.contains(addr)) return true;
  return false;
}

bool link_local6(const net::Ipv6Addr& a) { return a[0] == 0xfe && (a[1] & 0xc0) == 0x80; }

// :: and ::1, and IPv4-mapped addresses (::ffff:0:0/96): nowhere a packet from a tunnel goes.
bool martian6(const net::Ipv6Addr& a) {
  for (int i = 0; i < 10; ++i)
    if (a[i] != 0) return false;
  if (a[10] == 0xff && a[11] == 0xff) return true;
  if (a[10] != 0 || a[11] != 0) return false;
  for (int i = 12; i < 15; ++i)
    if (a[i] != 0) return false;
  return a[15] <= 1;
}

// RFC 8200 fixed header: version 6, 40 bytes, the payload length at 4, next header at 6,
// source at 8, destination at 24.
FilterVerdict filter_ipv6(std::span<const std::uint8_t> packet, const net::Ipv6Addr* session_ip6,
                          const TrafficPolicy& policy) {
  if (packet.size() < 40) return FilterVerdict::malformed;
  const std::size_t payload = (std::size_t{packet[4]} << 8) | packet[5];
  // A zero payload length means a jumbogram, which no tunnel MTU carries.
  if ((payload == 0 && packet.size() != 40) || 40 + payload > packet.size())
    return FilterVerdict::malformed;
  net::Ipv6Addr src, dst;
  std::copy_n(packet.data() + 8, 16, src.begin());
  std::copy_n(packet.data() + 24, 16, dst.begin());
  // A client's kernel solicits routers, joins multicast groups (MLD) and checks its address
  // (DAD) from :: or its link-local address as soon as the tun is up, whether or not it was
  // given an IPv6 address: normal, and never forwarded by a router anyway.
  if (link_local6(src) || src == net::Ipv6Addr{}) return FilterVerdict::ipv6_link_local;
  if (session_ip6 == nullptr || !policy.pool6) return FilterVerdict::ipv6_not_enabled;
  if (src != *session_ip6) return FilterVerdict::spoofed_source;
  if (dst[0] == 0xff) return FilterVerdict::broadcast;  // ff00::/8, multicast
  if (link_local6(dst)) return FilterVerdict::ipv6_link_local;
  if (martian6(dst)) return FilterVerdict::martian_destination;
  if (std::binary_search(policy.node_addresses6.begin(), policy.node_addresses6.end(), dst)) {
    // Only an echo request directly after the fixed header (no extension header) is a ping.
    const bool echo = packet[6] == kIcmpv6 && payload > 0 && packet[40] == kIcmpv6EchoRequest;
    return echo ? FilterVerdict::allow : FilterVerdict::node_address;
  }
  if (policy.pool6->contains(dst))
    return policy.client_to_client ? FilterVerdict::allow : FilterVerdict::client_to_client;
  if (in_any(policy.exclude6, dst)) return FilterVerdict::excluded;
  if (!policy.include6.empty() && !in_any(policy.include6, dst)) return FilterVerdict::not_included;
  return FilterVerdict::allow;
}

// Addresses no client has a reason to send to: "this network", loopback, and the reserved
// class E block (its last address, the limited broadcast, is a broadcast instead).
bool martian(std::uint32_t dst) {
  const std::uint32_t top = dst >> 24;
  return top == 0 || top == 127 || (top >= 240 && dst != 0xffffffff);
}

}  // namespace

const char* to_string(FilterVerdict v) {
  switch (v) {
    case FilterVerdict::allow:
      return "allow";
    case FilterVerdict::not_ipv4:
      return "not_ipv4";
    case FilterVerdict::malformed:
      return "malformed";
    case FilterVerdict::spoofed_source:
      return "spoofed_source";
    case FilterVerdict::martian_destination:
      return "martian_destination";
    case FilterVerdict::broadcast:
      return "broadcast";
    case FilterVerdict::node_address:
      return "node_address";
    case FilterVerdict::client_to_client:
      return "client_to_client";
    case FilterVerdict::excluded:
      return "excluded";
    case FilterVerdict::not_included:
      return "not_included";
    case FilterVerdict::ipv6_not_enabled:
      return "ipv6_not_enabled";
    case FilterVerdict::ipv6_link_local:
      return "ipv6_link_local";
  }
  return "unknown";
}

Result<TrafficPolicy> compile_traffic_policy(const config::Policy& policy, Ipv4Net pool,
                                             std::vector<std::uint32_t> node_addresses,
                                             std::optional<net::Ipv6Net> pool6,
                                             std::vector<net::Ipv6Addr> node_addresses6) {
  TrafficPolicy out;
  auto include = ranges(policy.routes);
  if (!include) return fail("policy " + policy.name + " routes: " + include.error());
  auto exclude = ranges(policy.exclude_routes);
  if (!exclude) return fail("policy " + policy.name + " exclude_routes: " + exclude.error());
  out.include = std::move(*include);
  out.exclude = std::move(*exclude);
  out.pool = {pool.network, pool.netmask()};
  out.pool_broadcast = pool.network | ~pool.netmask();
  out.client_to_client = policy.client_to_client;
  std::sort(node_addresses.begin(), node_addresses.end());
  node_addresses.erase(std::unique(node_addresses.begin(), node_addresses.end()),
                       node_addresses.end());
  out.node_addresses = std::move(node_addresses);
  if (pool6) {
    auto include6 = ranges6(policy.routes6);
    if (!include6) return fail("policy " + policy.name + " routes6: " + include6.error());
    auto exclude6 = ranges6(policy.exclude_routes6);
    if (!exclude6) return fail("policy " + policy.name + " exclude_routes6: " + exclude6.error());
    out.include6 = std::move(*include6);
    out.exclude6 = std::move(*exclude6);
    out.pool6 = pool6;
    // The gateway is the headend's tunnel address; the network address is the subnet-router
    // anycast address, which the kernel of a forwarding node answers on too.
    node_addresses6.push_back(pool6->network);
    node_addresses6.push_back(AddressPool6(*pool6).gateway());
    std::sort(node_addresses6.begin(), node_addresses6.end());
    node_addresses6.erase(std::unique(node_addresses6.begin(), node_addresses6.end()),
                          node_addresses6.end());
    out.node_addresses6 = std::move(node_addresses6);
  }
  return out;
}

FilterVerdict filter_from_client(std::span<const std::uint8_t> packet, std::uint32_t session_ip,
                                 const TrafficPolicy& policy, const net::Ipv6Addr* session_ip6) {
  if (!packet.empty() && (packet[0] >> 4) == 6) return filter_ipv6(packet, session_ip6, policy);
  if (packet.empty() || (packet[0] >> 4) != 4) return FilterVerdict::not_ipv4;
  if (packet.size() < 20) return FilterVerdict::malformed;
  // The header must fit in the packet and the total length must cover the header and not run
  // past the packet (what the kernel checks too, before it routes the packet on).
  const std::size_t header = std::size_t{packet[0] & 0x0fu} * 4;
  const std::size_t total = (std::size_t{packet[2]} << 8) | packet[3];
  if (header < 20 || header > packet.size() || total < header || total > packet.size())
    return FilterVerdict::malformed;
  if (read_be32(packet.data() + 12) != session_ip) return FilterVerdict::spoofed_source;

  const std::uint32_t dst = read_be32(packet.data() + 16);
  if (martian(dst)) return FilterVerdict::martian_destination;
  if (dst >> 28 == 0xe || dst == 0xffffffff) return FilterVerdict::broadcast;  // 224.0.0.0/4
  const bool in_pool = policy.pool.contains(dst);
  if (in_pool && (dst == policy.pool.network || dst == policy.pool_broadcast))
    return FilterVerdict::broadcast;
  // The headend answers pings on its addresses (a client's first diagnostic); nothing else of
  // it is reachable from a tunnel: not its TLS/DTLS port, metrics, replication, or SSH. A ping
  // is an unfragmented ICMP echo request (a later fragment carries no ICMP type to check).
  if (std::binary_search(policy.node_addresses.begin(), policy.node_addresses.end(), dst)) {
    const bool first_fragment = ((packet[6] & 0x1fu) | packet[7]) == 0;
    const bool echo = packet[9] == kIcmp && first_fragment && total > header &&
                      packet[header] == kIcmpEchoRequest;
    return echo ? FilterVerdict::allow : FilterVerdict::node_address;
  }
  if (in_pool)
    return policy.client_to_client ? FilterVerdict::allow : FilterVerdict::client_to_client;
  if (in_any(policy.exclude, dst)) return FilterVerdict::excluded;
  if (!policy.include.empty() && !in_any(policy.include, dst)) return FilterVerdict::not_included;
  return FilterVerdict::allow;
}

}  // namespace tandem::session
