#include "node/server/traffic_policy.hpp"

#include <ifaddrs.h>
#include <netinet/in.h>

#include <cstring>

#include "base/log.hpp"

namespace tandem::server {
namespace {

// "ip:port" or "ip/prefix" -> the address, when there is one.
void add_configured(std::vector<std::uint32_t>& out, const std::string& text) {
  if (text.empty()) return;
  auto end = text.find_first_of(":/");
  if (auto addr = net::parse_ipv4(text.substr(0, end)); addr && *addr != 0) out.push_back(*addr);
}

}  // namespace

std::vector<std::uint32_t> node_addresses(const config::Config& config, net::Ipv4Net pool) {
  std::vector<std::uint32_t> out;
  // A wildcard listen (the default 0.0.0.0:443) serves on every address the node has.
  ifaddrs* all = nullptr;
  if (::getifaddrs(&all) == 0) {
    for (ifaddrs* a = all; a != nullptr; a = a->ifa_next) {
      if (a->ifa_addr == nullptr || a->ifa_addr->sa_family != AF_INET) continue;
      const auto* in = reinterpret_cast<const sockaddr_in*>(a->ifa_addr);
      out.push_back(ntohl(in->sin_addr.s_addr));
    }
    ::freeifaddrs(all);
  } else {
    log::warn("node_addresses_unreadable",
              {{"detail", "getifaddrs failed: only the configured addresses are protected"}});
  }
  for (const std::string* s :
       {&config.listen, &config.service_address, &config.inside_address, &config.metrics_listen})
    add_configured(out, *s);
  if (config.peer.enabled) {
    add_configured(out, config.peer.listen);
    add_configured(out, config.peer.address);
  }
  out.push_back(session::AddressPool(pool).gateway());
  return out;
}

std::vector<net::Ipv6Addr> node_addresses6(const config::Config& config) {
  std::vector<net::Ipv6Addr> out;
  if (!config.inside_address6.empty()) {
    if (auto a =
            net::parse_ipv6(config.inside_address6.substr(0, config.inside_address6.find('/'))))
      out.push_back(*a);
  }
  ifaddrs* all = nullptr;
  if (::getifaddrs(&all) != 0) return out;  // the pool's own addresses are still added
  for (ifaddrs* a = all; a != nullptr; a = a->ifa_next) {
    if (a->ifa_addr == nullptr || a->ifa_addr->sa_family != AF_INET6) continue;
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(a->ifa_addr);
    net::Ipv6Addr addr;
    std::memcpy(addr.data(), in6->sin6_addr.s6_addr, 16);
    out.push_back(addr);
  }
  ::freeifaddrs(all);
  return out;
}

Result<TrafficPolicies> compile_traffic_policies(const config::Config& config, net::Ipv4Net pool) {
  const auto addresses = node_addresses(config, pool);
  // [pool] ipv6 is restart-only: the config in hand always has the running pool.
  std::optional<net::Ipv6Net> pool6;
  if (!config.pool_ipv6.empty()) {
    auto parsed = net::parse_cidr6(config.pool_ipv6);
    if (!parsed) return fail("pool.ipv6: " + parsed.error());
    pool6 = *parsed;
  }
  const auto addresses6 = pool6 ? node_addresses6(config) : std::vector<net::Ipv6Addr>{};
  TrafficPolicies out;
  for (const auto& [name, policy] : config.policies) {
    auto compiled = session::compile_traffic_policy(policy, pool, addresses, pool6, addresses6);
    if (!compiled) return fail(compiled.error());
    out.emplace(name, std::make_shared<const session::TrafficPolicy>(std::move(*compiled)));
  }
  return out;
}

void install_traffic_policies(TunnelRuntime& rt, TrafficPolicies policies) {
  rt.traffic_policies = std::move(policies);
  rt.sessions.forget_traffic_policies();
}

std::shared_ptr<const session::TrafficPolicy> TunnelRuntime::traffic_policy_for(
    const std::string& tunnel_group) const {
  auto it = traffic_policies.find(policy_for(config, tunnel_group).name);
  return it != traffic_policies.end() ? it->second : nullptr;
}

std::shared_ptr<const session::TrafficPolicy> TunnelRuntime::traffic_policy_for(
    const session::Session& s) const {
  auto it = traffic_policies.find(policy_for(config, s).name);
  return it != traffic_policies.end() ? it->second : nullptr;
}

}  // namespace tandem::server
