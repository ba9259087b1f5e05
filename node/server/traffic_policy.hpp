#pragma once
// Internal to node/server: compiling the group policies for the data path (at start and at
// every reload) and handing them to the live sessions (docs/traffic-policy.md).
#include <cstdint>
#include <vector>

#include "base/result.hpp"
#include "node/server/runtime.hpp"

namespace tandem::server {

// Every IPv4 address of this node: its interfaces now, and the configured listen, service,
// inside, metrics and peer addresses (a service address may only arrive at a take-over), the
// peer's replication address, and the pool's gateway.
std::vector<std::uint32_t> node_addresses(const config::Config& config, net::Ipv4Net pool);

// Every IPv6 address of this node's interfaces now, and the configured inside_address6 (which
// only the active node holds, and a standby may take over later).
std::vector<net::Ipv6Addr> node_addresses6(const config::Config& config);

// One TrafficPolicy per policy of `config`; an error names the policy that did not compile.
Result<TrafficPolicies> compile_traffic_policies(const config::Config& config, net::Ipv4Net pool);

// Makes `policies` the ones in force: every session looks its policy up again on its next
// packet, so a reload applies to live sessions at once.
void install_traffic_policies(TunnelRuntime& rt, TrafficPolicies policies);

}  // namespace tandem::server
