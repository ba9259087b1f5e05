#include "node/session/address_pool.hpp"

#include <gtest/gtest.h>

#include <set>
#include <vector>

namespace tandem::session {
namespace {

std::uint32_t ip(const char* text) { return net::parse_ipv4(text).value(); }

TEST(Ipv4, ParsesAndFormatsDottedQuads) {
  EXPECT_EQ(net::parse_ipv4("10.77.0.1"), 0x0a4d0001u);
  EXPECT_EQ(net::parse_ipv4("0.0.0.0"), 0u);
  EXPECT_EQ(net::parse_ipv4("255.255.255.255"), 0xffffffffu);
  EXPECT_EQ(net::format_ipv4(0x0a4d0001u), "10.77.0.1");
  EXPECT_EQ(net::format_ipv4(0xffffffffu), "255.255.255.255");
}

TEST(Ipv4, RejectsAnythingButAStrictDottedQuad) {
  for (const char* bad : {"", "10.77.0", "10.77.0.1.2", "10.77.0.256", "+10.77.0.1", "10.77.0.1 ",
                          " 10.77.0.1", "10.077.0.1", "10..0.1", "10.77.0.", ".10.77.0",
                          "10.77.0.1x", "0x0a.0.0.1", "1e1.0.0.1", "-1.0.0.0", "4294967296"}) {
    EXPECT_FALSE(net::parse_ipv4(bad).has_value()) << bad;
  }
}

TEST(Cidr, ParsesNetworks) {
  auto net = net::parse_cidr("10.77.0.0/24");
  ASSERT_TRUE(net.ok()) << net.error();
  EXPECT_EQ(net->network, ip("10.77.0.0"));
  EXPECT_EQ(net->prefix, 24);
  EXPECT_EQ(net->netmask(), 0xffffff00u);
  EXPECT_EQ(net::parse_cidr("0.0.0.0/0")->netmask(), 0u);
  EXPECT_EQ(net::parse_cidr("192.168.1.7/32")->netmask(), 0xffffffffu);
}

TEST(Cidr, RejectsHostBitsAndBadSyntax) {
  auto host_bits = net::parse_cidr("10.77.0.1/24");
  ASSERT_FALSE(host_bits.ok());
  EXPECT_NE(host_bits.error().find("10.77.0.0/24"), std::string::npos) << host_bits.error();
  for (const char* bad : {"10.77.0.0", "10.77.0.0/", "10.77.0.0/33", "10.77.0.0/024",
                          "10.77.0.0/-1", "10.77.0.0/24x", "10.77.0/24", "/24", "10.77.0.0/2 4"}) {
    EXPECT_FALSE(net::parse_cidr(bad).ok()) << bad;
  }
}

TEST(AddressPool, NeverLeasesNetworkGatewayOrBroadcast) {
  AddressPool pool(
      net::parse_cidr("10.77.0.0/29").value());  // .0 network, .1 gateway, .7 broadcast
  EXPECT_EQ(pool.gateway(), ip("10.77.0.1"));
  EXPECT_EQ(pool.capacity(), 5u);
  std::set<std::uint32_t> seen;
  while (auto addr = pool.allocate()) {
    EXPECT_TRUE(seen.insert(*addr).second) << "leased twice: " << net::format_ipv4(*addr);
  }
  EXPECT_EQ(seen, (std::set<std::uint32_t>{ip("10.77.0.2"), ip("10.77.0.3"), ip("10.77.0.4"),
                                           ip("10.77.0.5"), ip("10.77.0.6")}));
  EXPECT_FALSE(pool.claim(ip("10.77.0.0")));
  EXPECT_FALSE(pool.claim(ip("10.77.0.1")));
  EXPECT_FALSE(pool.claim(ip("10.77.0.7")));
}

TEST(AddressPool, AllocatesLowestFirstAndExhausts) {
  AddressPool pool(net::parse_cidr("10.77.0.0/24").value());
  EXPECT_EQ(pool.capacity(), 253u);
  EXPECT_EQ(pool.allocate(), ip("10.77.0.2"));
  EXPECT_EQ(pool.allocate(), ip("10.77.0.3"));
  std::set<std::uint32_t> seen{ip("10.77.0.2"), ip("10.77.0.3")};
  for (std::size_t i = 2; i < pool.capacity(); ++i) {
    auto addr = pool.allocate();
    ASSERT_TRUE(addr.has_value()) << i;
    ASSERT_TRUE(seen.insert(*addr).second) << net::format_ipv4(*addr);
  }
  EXPECT_EQ(pool.leased(), 253u);
  EXPECT_FALSE(pool.allocate().has_value());
  EXPECT_EQ(pool.leased(), 253u);
}

TEST(AddressPool, ReleasedAddressIsTheNextOneHandedOut) {
  AddressPool pool(net::parse_cidr("10.77.0.0/24").value());
  for (int i = 0; i < 10; ++i) pool.allocate();  // .2 .. .11
  pool.release(ip("10.77.0.7"));
  pool.release(ip("10.77.0.4"));
  EXPECT_FALSE(pool.in_use(ip("10.77.0.4")));
  EXPECT_EQ(pool.allocate(), ip("10.77.0.4"));
  EXPECT_EQ(pool.allocate(), ip("10.77.0.7"));
  EXPECT_EQ(pool.allocate(), ip("10.77.0.12"));
}

TEST(AddressPool, ClaimRestoresLeasesAndAllocateSkipsThem) {
  AddressPool pool(net::parse_cidr("10.77.0.0/24").value());
  EXPECT_TRUE(pool.claim(ip("10.77.0.2")));
  EXPECT_TRUE(pool.claim(ip("10.77.0.3")));
  EXPECT_TRUE(pool.claim(ip("10.77.0.9")));
  EXPECT_FALSE(pool.claim(ip("10.77.0.9")));  // already leased
  EXPECT_FALSE(pool.claim(ip("10.77.1.9")));  // outside the pool
  EXPECT_TRUE(pool.in_use(ip("10.77.0.9")));
  EXPECT_EQ(pool.allocate(), ip("10.77.0.4"));
  pool.release(ip("10.77.5.5"));  // not leased: harmless
  EXPECT_EQ(pool.leased(), 4u);
}

TEST(AddressPool, TinyNetworksHaveNoRoom) {
  AddressPool slash31(net::parse_cidr("10.77.0.0/31").value());
  EXPECT_EQ(slash31.capacity(), 0u);
  EXPECT_FALSE(slash31.allocate().has_value());
  AddressPool slash30(net::parse_cidr("10.77.0.0/30").value());
  EXPECT_EQ(slash30.capacity(), 1u);
  EXPECT_EQ(slash30.allocate(), ip("10.77.0.2"));
  EXPECT_FALSE(slash30.allocate().has_value());
}

}  // namespace
}  // namespace tandem::session

namespace tandem::session {
namespace {

// The search hint must keep "lowest free address first" exact through any mix of operations.
TEST(AddressPoolHint, LowestFreeStaysExactThroughReleasesAndClaims) {
  AddressPool pool(*net::parse_cidr("10.1.0.0/22"));
  std::vector<std::uint32_t> got;
  for (int i = 0; i < 300; ++i) got.push_back(*pool.allocate());
  pool.release(got[200]);
  pool.release(got[50]);
  EXPECT_EQ(pool.allocate(), got[50]);
  EXPECT_EQ(pool.allocate(), got[200]);
  EXPECT_EQ(pool.allocate(), got[299] + 1);
  // A restored lease above the hint is skipped, not handed out twice.
  ASSERT_TRUE(pool.claim(got[299] + 3));
  EXPECT_EQ(pool.allocate(), got[299] + 2);
  EXPECT_EQ(pool.allocate(), got[299] + 4);
}

}  // namespace
}  // namespace tandem::session
