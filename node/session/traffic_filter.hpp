#pragma once
// The traffic policy of the data path (docs/traffic-policy.md): which packets a client may send
// inside. A group policy is compiled once (at start and at every reload) into a TrafficPolicy of
// plain numbers; the decision per packet is then a pure function of the packet's header, the
// session's address and that TrafficPolicy: a few comparisons, no allocation.
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "base/result.hpp"
#include "node/config/config.hpp"
#include "node/session/address_pool.hpp"

namespace tandem::session {

// What happens to one packet from a client. Every value but `allow` is a drop, named by its
// reason (logged and counted per reason).
enum class FilterVerdict : std::uint8_t {
  allow,
  not_ipv4,             // not an IPv4 packet (the pool is IPv4 only)
  malformed,            // an IPv4 header that does not hold together
  spoofed_source,       // the source is not the address the session was given
  martian_destination,  // 0.0.0.0/8, 127.0.0.0/8, 240.0.0.0/4: nowhere a client may send to
  broadcast,            // multicast, 255.255.255.255, the pool's network or broadcast address
  node_address,         // to an address of the headend itself, other than a ping
  client_to_client,     // to another client's pool address, and the policy does not allow it
  excluded,             // to an excluded network
  not_included,         // split tunnel: outside every included network
};
const char* to_string(FilterVerdict v);
// Every drop reason, in declaration order (counters index by value - 1).
inline constexpr std::array kAllFilterDrops{
    FilterVerdict::not_ipv4,         FilterVerdict::malformed,
    FilterVerdict::spoofed_source,   FilterVerdict::martian_destination,
    FilterVerdict::broadcast,        FilterVerdict::node_address,
    FilterVerdict::client_to_client, FilterVerdict::excluded,
    FilterVerdict::not_included};
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
};

// Compiles `policy` for a node whose own addresses are `node_addresses` (any order, duplicates
// allowed). The CIDRs were checked when the configuration was read; a malformed one still
// refuses the whole policy here rather than silently widening or narrowing it.
Result<TrafficPolicy> compile_traffic_policy(const config::Policy& policy, Ipv4Net pool,
                                             std::vector<std::uint32_t> node_addresses);

// The decision for one packet from the client whose address is `session_ip`.
FilterVerdict filter_from_client(std::span<const std::uint8_t> packet, std::uint32_t session_ip,
                                 const TrafficPolicy& policy);

}  // namespace tandem::session
