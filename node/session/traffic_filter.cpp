#include "node/session/traffic_filter.hpp"

#include <algorithm>

namespace tandem::session {
namespace {

constexpr std::uint8_t kIcmp = 1;
constexpr std::uint8_t kIcmpEchoRequest = 8;

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

bool in_any(const std::vector<Ipv4Range>& list, std::uint32_t addr) {
  for (const auto& r : list)
    if (r.contains(addr)) return true;
  return false;
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
  }
  return "unknown";
}

Result<TrafficPolicy> compile_traffic_policy(const config::Policy& policy, Ipv4Net pool,
                                             std::vector<std::uint32_t> node_addresses) {
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
  return out;
}

FilterVerdict filter_from_client(std::span<const std::uint8_t> packet, std::uint32_t session_ip,
                                 const TrafficPolicy& policy) {
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
