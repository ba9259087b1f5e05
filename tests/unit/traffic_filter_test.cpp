#include "node/session/traffic_filter.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "node/config/config.hpp"

namespace tandem::session {
namespace {

using V = FilterVerdict;

std::uint32_t ip(const char* text) { return *net::parse_ipv4(text); }

constexpr std::uint8_t kIcmp = 1, kTcp = 6, kUdp = 17;

// A minimal IPv4 packet: 20-byte header and `payload` bytes (an ICMP echo request by default).
std::vector<std::uint8_t> packet(const char* src, const char* dst, std::uint8_t protocol = kIcmp,
                                 std::size_t payload = 8) {
  std::vector<std::uint8_t> p(20 + payload, 0);
  p[0] = 0x45;
  p[2] = static_cast<std::uint8_t>(p.size() >> 8);
  p[3] = static_cast<std::uint8_t>(p.size());
  p[8] = 64;
  p[9] = protocol;
  for (int i = 0; i < 4; ++i) {
    p[12 + i] = static_cast<std::uint8_t>(ip(src) >> (24 - 8 * i));
    p[16 + i] = static_cast<std::uint8_t>(ip(dst) >> (24 - 8 * i));
  }
  if (protocol == kIcmp && payload > 0) p[20] = 8;  // echo request
  return p;
}

const char* kClient = "10.77.0.2";
const Ipv4Net kPool{ip("10.77.0.0"), 24};

config::Policy policy(std::vector<std::string> routes, std::vector<std::string> exclude = {},
                      bool client_to_client = false) {
  config::Policy p{};
  p.name = "test";
  p.routes = std::move(routes);
  p.exclude_routes = std::move(exclude);
  p.client_to_client = client_to_client;
  return p;
}

TrafficPolicy compile(const config::Policy& p, std::vector<std::uint32_t> node = {}) {
  if (node.empty()) node = {ip("10.200.0.1"), ip("10.201.0.1"), ip("10.77.0.1"), ip("127.0.0.1")};
  auto c = compile_traffic_policy(p, kPool, std::move(node));
  EXPECT_TRUE(c.ok()) << c.error();
  return c.ok() ? std::move(*c) : TrafficPolicy{};
}

V check(const std::vector<std::uint8_t>& p, const TrafficPolicy& t) {
  return filter_from_client(p, ip(kClient), t);
}

TEST(TrafficFilter, SplitTunnelReachesOnlyItsIncludedNetworks) {
  const auto t = compile(policy({"10.201.0.0/24", "192.168.5.0/24"}));
  EXPECT_EQ(check(packet(kClient, "10.201.0.2"), t), V::allow);
  EXPECT_EQ(check(packet(kClient, "10.201.0.2", kTcp, 20), t), V::allow);
  EXPECT_EQ(check(packet(kClient, "192.168.5.200", kUdp), t), V::allow);
  EXPECT_EQ(check(packet(kClient, "10.201.1.2"), t), V::not_included);
  EXPECT_EQ(check(packet(kClient, "8.8.8.8", kUdp), t), V::not_included);
}

TEST(TrafficFilter, FullTunnelReachesEverywhereButTheExcludedNetworks) {
  const auto t = compile(policy({}, {"10.201.0.128/25", "172.16.0.0/12"}));
  EXPECT_EQ(check(packet(kClient, "8.8.8.8", kUdp), t), V::allow);
  EXPECT_EQ(check(packet(kClient, "10.201.0.2"), t), V::allow);
  EXPECT_EQ(check(packet(kClient, "10.201.0.200"), t), V::excluded);
  EXPECT_EQ(check(packet(kClient, "172.31.255.254"), t), V::excluded);
  EXPECT_EQ(check(packet(kClient, "172.32.0.1"), t), V::allow);
}

TEST(TrafficFilter, ExcludeWinsOverInclude) {
  const auto t = compile(policy({"10.0.0.0/8"}, {"10.9.0.0/16"}));
  EXPECT_EQ(check(packet(kClient, "10.8.0.1"), t), V::allow);
  EXPECT_EQ(check(packet(kClient, "10.9.0.1"), t), V::excluded);
}

TEST(TrafficFilter, ClientsReachEachOtherOnlyWhenThePolicySaysSo) {
  const auto off = compile(policy({"10.201.0.0/24"}));
  const auto on = compile(policy({"10.201.0.0/24"}, {}, true));
  EXPECT_EQ(check(packet(kClient, "10.77.0.3"), off), V::client_to_client);
  EXPECT_EQ(check(packet(kClient, "10.77.0.3", kTcp, 20), off), V::client_to_client);
  EXPECT_EQ(check(packet(kClient, "10.77.0.3"), on), V::allow);
  // Full tunnel: the pool is not "everywhere" unless allowed.
  EXPECT_EQ(check(packet(kClient, "10.77.0.250"), compile(policy({}))), V::client_to_client);
  EXPECT_EQ(check(packet(kClient, "10.77.0.250"), compile(policy({}, {}, true))), V::allow);
}

TEST(TrafficFilter, TheHeadendAnswersPingsButNothingElse) {
  const auto t = compile(policy({"10.201.0.0/24"}));
  for (const char* node : {"10.77.0.1", "10.201.0.1", "10.200.0.1"}) {
    EXPECT_EQ(check(packet(kClient, node), t), V::allow) << node;
    EXPECT_EQ(check(packet(kClient, node, kTcp, 20), t), V::node_address) << node;
    EXPECT_EQ(check(packet(kClient, node, kUdp, 8), t), V::node_address) << node;
  }
  // Other ICMP than an echo request, and a later fragment of anything.
  auto reply = packet(kClient, "10.201.0.1");
  reply[20] = 0;
  EXPECT_EQ(check(reply, t), V::node_address);
  auto fragment = packet(kClient, "10.201.0.1");
  fragment[7] = 1;
  EXPECT_EQ(check(fragment, t), V::node_address);
  EXPECT_EQ(check(packet(kClient, "10.201.0.1", kIcmp, 0), t), V::node_address);
  // Even with client-to-client on (the gateway is in the pool) and in a full tunnel.
  EXPECT_EQ(check(packet(kClient, "10.77.0.1", kTcp, 20), compile(policy({}, {}, true))),
            V::node_address);
}

TEST(TrafficFilter, TheSourceMustBeTheSessionsAddress) {
  const auto t = compile(policy({}));
  EXPECT_EQ(check(packet("10.77.0.3", "10.201.0.2"), t), V::spoofed_source);
  EXPECT_EQ(check(packet("10.201.0.9", "10.201.0.2"), t), V::spoofed_source);
  EXPECT_EQ(check(packet("0.0.0.0", "10.201.0.2"), t), V::spoofed_source);
}

TEST(TrafficFilter, MartianAndBroadcastDestinations) {
  const auto t = compile(policy({}, {}, true));
  EXPECT_EQ(check(packet(kClient, "127.0.0.1"), t), V::martian_destination);
  EXPECT_EQ(check(packet(kClient, "0.1.2.3"), t), V::martian_destination);
  EXPECT_EQ(check(packet(kClient, "240.0.0.1"), t), V::martian_destination);
  EXPECT_EQ(check(packet(kClient, "224.0.0.251", kUdp), t), V::broadcast);
  EXPECT_EQ(check(packet(kClient, "239.255.255.250", kUdp), t), V::broadcast);
  EXPECT_EQ(check(packet(kClient, "255.255.255.255", kUdp), t), V::broadcast);
  EXPECT_EQ(check(packet(kClient, "10.77.0.255", kUdp), t), V::broadcast);
  EXPECT_EQ(check(packet(kClient, "10.77.0.0", kUdp), t), V::broadcast);
}

TEST(TrafficFilter, MalformedHeadersAreDropped) {
  const auto t = compile(policy({}));
  EXPECT_EQ(check({}, t), V::not_ipv4);
  std::vector<std::uint8_t> v6(48, 0);  // IPv6, 8 bytes of payload, from fd00::1 to fd00::2
  v6[0] = 0x60, v6[5] = 8, v6[8] = v6[24] = 0xfd, v6[23] = 1, v6[39] = 2;
  EXPECT_EQ(check(v6, t), V::ipv6_not_enabled);  // no IPv6 pool, no IPv6 address
  v6[8] = 0xfe, v6[9] = 0x80;                    // from fe80::1: the kernel's own chatter
  EXPECT_EQ(check(v6, t), V::ipv6_link_local);
  EXPECT_EQ(check(std::vector<std::uint8_t>(v6.begin(), v6.begin() + 39), t), V::malformed);
  auto v5 = packet(kClient, "10.201.0.2");
  v5[0] = 0x50;
  EXPECT_EQ(check(v5, t), V::not_ipv4);
  EXPECT_EQ(check(std::vector<std::uint8_t>(19, 0x45), t), V::malformed);
  auto p = packet(kClient, "10.201.0.2");
  p[0] = 0x44;  // header shorter than 20 bytes
  EXPECT_EQ(check(p, t), V::malformed);
  p = packet(kClient, "10.201.0.2");
  p[0] = 0x4f;  // 60-byte header in a 28-byte packet
  EXPECT_EQ(check(p, t), V::malformed);
  p = packet(kClient, "10.201.0.2");
  p[3] = static_cast<std::uint8_t>(p[3] + 1);  // total length past the end
  EXPECT_EQ(check(p, t), V::malformed);
  p = packet(kClient, "10.201.0.2");
  p[2] = 0, p[3] = 19;  // total length inside the header
  EXPECT_EQ(check(p, t), V::malformed);
  // Trailing bytes after the total length are the kernel's to trim, not an error.
  p = packet(kClient, "10.201.0.2");
  p.push_back(0);
  EXPECT_EQ(check(p, t), V::allow);
}

TEST(TrafficFilter, CompileSortsNodeAddressesAndRefusesBadCidrs) {
  const auto t = compile(policy({}), {ip("10.0.0.9"), ip("10.0.0.1"), ip("10.0.0.9")});
  EXPECT_EQ(t.node_addresses, (std::vector<std::uint32_t>{ip("10.0.0.1"), ip("10.0.0.9")}));
  EXPECT_EQ(check(packet(kClient, "10.0.0.9", kTcp, 20), t), V::node_address);
  EXPECT_FALSE(compile_traffic_policy(policy({"10.0.0.1/8"}), kPool, {}).ok());
  EXPECT_FALSE(compile_traffic_policy(policy({}, {"nonsense"}), kPool, {}).ok());
}

TEST(TrafficFilter, EveryDropReasonHasAName) {
  for (auto v : kAllFilterDrops) EXPECT_STRNE(to_string(v), "unknown");
  EXPECT_EQ(drop_index(V::not_ipv4), 0u);
  EXPECT_EQ(drop_index(V::ipv6_link_local), kAllFilterDrops.size() - 1);
}

}  // namespace
}  // namespace tandem::session
