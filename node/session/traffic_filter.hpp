#pragma once
// The traffic policy of the data path (docs/traffic-policy.md): which packets a client may send
// inside. A group policy is compiled once (at start and at every reload) into a TrafficPolicy of
// plain numbers; the decision per packet is then a pure function of the packet's header, the
// session's address and that TrafficPolicy: a few comparisons, no allocation.
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "base/result.hpp"
#include "node/config/config.hpp"
#include "node/session/address_pool.hpp"
#include "node/session/address_pool6.hpp"

namespace tandem::session {

// What happens to one packet from a client. Every value but `allow` is a drop, named by its
// reason (logged and counted per reason).
enum class FilterVerdict : std::uint8_t {
  allow,
  not_ipv4,             // neither IPv4 nor IPv6 (the name is older than IPv6 support)
  malformed,            // an IPv4 header that does not hold together
  spoofed_source,       // the source is not the address the session was given
  martian_destination,  // 0.0.0.0/8, 127.0.0.0/8, 240.0.0.0/4: nowhere a client may send to
  broadcast,            // multicast, 255.255.255.255, the pool's network or broadcast address
  node_address,         // to an address of the headend itself, other than a ping
  client_to_client,     // to another client's pool address, and the policy does not allow it
  excluded,             // to an excluded network
  not_included,         // split tunnel: outside every included network
  // IPv6 (docs/ipv6.md). Appended, so the older reasons keep their counter positions.
  ipv6_not_enabled,  // an IPv6 packet from a session without an IPv6 address
  ipv6_link_local,   // from or to a link-local address, or from :: (neighbour and router
                     // discovery, MLD: what a client's kernel sends on any new interface)
};
const char* to_string(FilterVerdict v);
// Every drop reason, in declaration order (counters index by value - 1).
inline constexpr std::array kAllFilterDrops{
    FilterVerdict::not_ipv4,         FilterVerdict::malformed,
    FilterVerdict::spoofed_source,   FilterVerdict::martian_destination,
    FilterVerdict::broadcast,        FilterVerdict::node_address,
    FilterVerdict::client_to_client, FilterVerdict::excluded,
    FilterVerdict::not_included,     FilterVerdict::ipv6_not_enabled,
    FilterVerdict::ipv6_link_local};
static_assert([] {
  for (std::size_t i = 0; i < kAllFilterDrops.size(); ++i)
    if (static_cast<std::size_t>(kAllFilterDrops[i]) != i + 1) return false;
  return true;
}());
inline std::size_t drop_index(FilterVerdict v) { return static_cast<std::size_t>(v) - 1; }

struct Ipv4Range {
  std::uint32_t network = 0;  // host byte order, host bits zero
  std::uint32_t mask = 0;
  bool contains(std::uint32_t addr) const { return (addr & mask) == network; }
};

// A group policy as the data path checks it.
struct TrafficPolicy {
  std::vector<Ipv4Range> include;  // empty = full tunnel (everywhere)
  std::vector<Ipv4Range> exclude;
  Ipv4Range pool;
  std::uint32_t pool_broadcast = 0;
  bool client_to_client = false;
  // Every address of the headend (its interfaces, listen, service, inside, metrics, peer and
  // the pool's gateway), sorted and unique. Only pings reach them through a tunnel.
  std::vector<std::uint32_t> node_addresses;

  // IPv6, when the node has an IPv6 pool (docs/ipv6.md); the same rules per family.
  std::optional<net::Ipv6Net> pool6;
  std::vector<net::Ipv6Net> include6;  // empty = every IPv6 destination
  std::vector<net::Ipv6Net> exclude6;
  std::vector<net::Ipv6Addr> node_addresses6;  // sorted, unique; with the pool's network address
};

// Compiles `policy` for a node whose own addresses are `node_addresses` (any order, duplicates
// allowed). The CIDRs were checked when the configuration was read; a malformed one still
// refuses the whole policy here rather than silently widening or narrowing it.
// With `pool6`, its routes6 and exclude_routes6 too, and `node_addresses6` are the node's
// IPv6 addresses (the pool's gateway and network address are added here).
Result<TrafficPolicy> compile_traffic_policy(const config::Policy& policy, Ipv4Net pool,
                                             std::vector<std::uint32_t> node_addresses,
                                             std::optional<net::Ipv6Net> pool6 = std::nullopt,
                                             std::vector<net::Ipv6Addr> node_addresses6 = {});

// The decision for one packet from the client whose addresses are `session_ip` and, when it has
// one, `*session_ip6`.
FilterVerdict filter_from_client(std::span<const std::uint8_t> packet, std::uint32_t session_ip,
                                 const TrafficPolicy& policy,
                                 const net::Ipv6Addr* session_ip6 = nullptr);

}  // namespace tandem::session
