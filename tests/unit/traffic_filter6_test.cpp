// The traffic policy for IPv6 packets (docs/ipv6.md): anti-spoofing, link-local and multicast,
// the headend's own addresses, client-to-client, and split/exclude routes per family.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "node/config/config.hpp"
#include "node/session/traffic_filter.hpp"

namespace tandem::session {
namespace {

using V = FilterVerdict;

constexpr std::uint8_t kTcp = 6, kUdp = 17, kIcmpv6 = 58;

net::Ipv6Addr ip6(const char* text) { return *net::parse_ipv6(text); }

// A minimal IPv6 packet: the 40-byte fixed header and `payload` bytes (an ICMPv6 echo request
// by default).
std::vector<std::uint8_t> packet6(const char* src, const char* dst, std::uint8_t next = kIcmpv6,
                                  std::size_t payload = 8) {
  std::vector<std::uint8_t> p(40 + payload, 0);
  p[0] = 0x60;
  p[4] = static_cast<std::uint8_t>(payload >> 8);
  p[5] = static_cast<std::uint8_t>(payload);
  p[6] = next;
  p[7] = 64;
  const auto s = ip6(src), d = ip6(dst);
  std::copy(s.begin(), s.end(), p.begin() + 8);
  std::copy(d.begin(), d.end(), p.begin() + 24);
  if (next == kIcmpv6 && payload > 0) p[40] = 128;  // echo request
  return p;
}

const char* kClient6 = "fd00:77::2";
const Ipv4Net kPool{*net::parse_ipv4("10.77.0.0"), 24};
const net::Ipv6Net kPool6 = *net::parse_cidr6("fd00:77::/64");

config::Policy policy6(std::vector<std::string> routes6, std::vector<std::string> exclude6 = {},
                       bool client_to_client = false) {
  config::Policy p{};
  p.name = "test";
  p.routes6 = std::move(routes6);
  p.exclude_routes6 = std::move(exclude6);
  p.client_to_client = client_to_client;
  return p;
}

TrafficPolicy compile6(const config::Policy& p) {
  auto c = compile_traffic_policy(p, kPool, {}, kPool6, {ip6("fd00:200::1"), ip6("::1")});
  EXPECT_TRUE(c.ok()) << c.error();
  return c.ok() ? std::move(*c) : TrafficPolicy{};
}

V check6(const std::vector<std::uint8_t>& p, const TrafficPolicy& t) {
  const auto me = ip6(kClient6);
  return filter_from_client(p, *net::parse_ipv4("10.77.0.2"), t, &me);
}

TEST(TrafficFilter6, OnlyTheSessionsOwnAddressMaySend) {
  const auto t = compile6(policy6({}));
  EXPECT_EQ(check6(packet6(kClient6, "fd00:201::2"), t), V::allow);
  EXPECT_EQ(check6(packet6("fd00:77::3", "fd00:201::2"), t), V::spoofed_source);
  EXPECT_EQ(check6(packet6("fd00:201::9", "fd00:201::2", kTcp, 20), t), V::spoofed_source);
  // The same packet from a session without IPv6 (or a node without a pool) is never let in.
  auto no6 = compile_traffic_policy(policy6({}), kPool, {});
  ASSERT_TRUE(no6.ok());
  const auto me = ip6(kClient6);
  EXPECT_EQ(filter_from_client(packet6(kClient6, "fd00:201::2"), 1, *no6, &me),
            V::ipv6_not_enabled);
  EXPECT_EQ(filter_from_client(packet6(kClient6, "fd00:201::2"), 1, t, nullptr),
            V::ipv6_not_enabled);
  // Link-local chatter of a client's kernel stays quiet with or without an IPv6 address.
  EXPECT_EQ(filter_from_client(packet6("fe80::1", "ff02::2"), 1, *no6, &me), V::ipv6_link_local);
}

TEST(TrafficFilter6, LinkLocalAndMulticastStayOnTheClientsSide) {
  const auto t = compile6(policy6({}));
  // Router solicitation, MLD report, DAD: from fe80::/10 or ::, to multicast.
  EXPECT_EQ(check6(packet6("fe80::1234", "ff02::2"), t), V::ipv6_link_local);
  EXPECT_EQ(check6(packet6("::", "ff02::1:ff00:2"), t), V::ipv6_link_local);
  EXPECT_EQ(check6(packet6(kClient6, "fe80::1"), t), V::ipv6_link_local);
  EXPECT_EQ(check6(packet6(kClient6, "ff02::16"), t), V::broadcast);
  EXPECT_EQ(check6(packet6(kClient6, "ff05::1:3", kUdp), t), V::broadcast);
  EXPECT_EQ(check6(packet6(kClient6, "::1"), t), V::martian_destination);
  EXPECT_EQ(check6(packet6(kClient6, "::ffff:a0c9:2"), t), V::martian_destination);
}

TEST(TrafficFilter6, TheHeadendAnswersPingsOnly) {
  const auto t = compile6(policy6({"fd00:201::/64"}));
  EXPECT_EQ(check6(packet6(kClient6, "fd00:77::1"), t), V::allow);  // the tunnel gateway
  EXPECT_EQ(check6(packet6(kClient6, "fd00:77::1", kTcp, 20), t), V::node_address);
  EXPECT_EQ(check6(packet6(kClient6, "fd00:77::", kUdp), t), V::node_address);  // anycast
  EXPECT_EQ(check6(packet6(kClient6, "fd00:200::1", kTcp, 20), t), V::node_address);
  auto reply = packet6(kClient6, "fd00:200::1");
  reply[40] = 129;  // an echo reply is not a ping
  EXPECT_EQ(check6(reply, t), V::node_address);
}

TEST(TrafficFilter6, SplitAndExcludeRoutesPerFamily) {
  const auto split = compile6(policy6({"fd00:201::/64"}, {"fd00:201::bad/128"}));
  EXPECT_EQ(check6(packet6(kClient6, "fd00:201::2", kTcp, 20), split), V::allow);
  EXPECT_EQ(check6(packet6(kClient6, "fd00:202::2", kTcp, 20), split), V::not_included);
  EXPECT_EQ(check6(packet6(kClient6, "2001:db8::1", kUdp), split), V::not_included);
  EXPECT_EQ(check6(packet6(kClient6, "fd00:201::bad", kUdp), split), V::excluded);
  const auto full = compile6(policy6({}, {"2001:db8::/32"}));
  EXPECT_EQ(check6(packet6(kClient6, "2606:4700::1", kUdp), full), V::allow);
  EXPECT_EQ(check6(packet6(kClient6, "2001:db8:1::1", kUdp), full), V::excluded);
}

TEST(TrafficFilter6, ClientToClientFollowsThePolicy) {
  EXPECT_EQ(check6(packet6(kClient6, "fd00:77::3"), compile6(policy6({}))), V::client_to_client);
  EXPECT_EQ(check6(packet6(kClient6, "fd00:77::3"), compile6(policy6({}, {}, true))), V::allow);
}

TEST(TrafficFilter6, MalformedHeadersAreDropped) {
  const auto t = compile6(policy6({}));
  EXPECT_EQ(check6(std::vector<std::uint8_t>(39, 0x60), t), V::malformed);
  auto p = packet6(kClient6, "fd00:201::2");
  p[5] = static_cast<std::uint8_t>(p[5] + 1);  // payload length past the end
  EXPECT_EQ(check6(p, t), V::malformed);
  p = packet6(kClient6, "fd00:201::2", kUdp, 8);
  p[4] = p[5] = 0;  // jumbogram marker on an ordinary packet
  EXPECT_EQ(check6(p, t), V::malformed);
  p = packet6(kClient6, "fd00:201::2");
  p.push_back(0);  // trailing bytes: the kernel trims them
  EXPECT_EQ(check6(p, t), V::allow);
}

TEST(TrafficFilter6, CompileRefusesBadIpv6Cidrs) {
  EXPECT_FALSE(compile_traffic_policy(policy6({"fd00:201::1/64"}), kPool, {}, kPool6).ok());
  EXPECT_FALSE(compile_traffic_policy(policy6({}, {"10.0.0.0/8"}), kPool, {}, kPool6).ok());
  const auto t = compile6(policy6({}));
  EXPECT_TRUE(std::is_sorted(t.node_addresses6.begin(), t.node_addresses6.end()));
  EXPECT_EQ(t.node_addresses6.size(), 4u);  // ::1, fd00:77::, fd00:77::1, fd00:200::1
}

}  // namespace
}  // namespace tandem::session
