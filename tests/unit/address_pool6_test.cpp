// IPv6 addresses as text and the IPv6 pool (docs/ipv6.md).
#include "node/session/address_pool6.hpp"

#include <gtest/gtest.h>

#include <set>

namespace tandem::session {
namespace {

Ipv6Addr ip6(const char* text) { return net::parse_ipv6(text).value(); }
Ipv6Net net6(const char* text) { return net::parse_cidr6(text).value(); }

TEST(Ipv6Text, ParsesAndFormatsInTheCanonicalForm) {
  EXPECT_EQ(net::format_ipv6(ip6("fd00:77:0:0:0:0:0:1")), "fd00:77::1");
  EXPECT_EQ(net::format_ipv6(ip6("FD00:0077::0001")), "fd00:77::1");
  EXPECT_EQ(net::format_ipv6(ip6("::")), "::");
  EXPECT_EQ(ip6("::1")[15], 1);
  for (const char* bad : {"", "fd00:77::1::2", "10.77.0.1", "::ffff:10.0.0.1", "fd00:77::1%eth0",
                          "fd00:77::g", " fd00::1", "fd00:1:2:3:4:5:6:7:8"})
    EXPECT_FALSE(net::parse_ipv6(bad).has_value()) << bad;
}

TEST(Ipv6Text, CidrsRefuseHostBitsAndBadLengths) {
  auto n = net::parse_cidr6("fd00:77::/64");
  ASSERT_TRUE(n.ok()) << n.error();
  EXPECT_EQ(n->prefix, 64);
  EXPECT_EQ(net::format_cidr6(*n), "fd00:77::/64");
  EXPECT_TRUE(n->contains(ip6("fd00:77::ffff:1")));
  EXPECT_FALSE(n->contains(ip6("fd00:78::1")));
  EXPECT_TRUE(net::parse_cidr6("::/0")->contains(ip6("2001:db8::1")));
  auto host = net::parse_cidr6("fd00:77::1/64");
  ASSERT_FALSE(host.ok());
  EXPECT_NE(host.error().find("fd00:77::/64"), std::string::npos) << host.error();
  for (const char* bad : {"fd00:77::", "fd00:77::/129", "fd00:77::/064", "fd00:77::/", "x/64",
                          "10.0.0.0/8", "fd00:77:0:0:4000::/65"})
    EXPECT_FALSE(net::parse_cidr6(bad).ok()) << bad;
  EXPECT_TRUE(net::parse_cidr6("fd00:77:0:0:4000::/65").error().find("host bits") !=
              std::string::npos);
}

TEST(AddressPool6, LeasesFromTheThirdAddressUpAndNeverTwice) {
  AddressPool6 pool(net6("fd00:77::/64"));
  EXPECT_EQ(pool.gateway(), ip6("fd00:77::1"));
  std::set<Ipv6Addr> seen;
  for (int i = 0; i < 1000; ++i) {
    auto a = pool.allocate();
    ASSERT_TRUE(a.has_value());
    EXPECT_TRUE(seen.insert(*a).second) << net::format_ipv6(*a);
    EXPECT_TRUE(pool.net().contains(*a));
  }
  EXPECT_EQ(seen.count(ip6("fd00:77::")), 0u);
  EXPECT_EQ(seen.count(ip6("fd00:77::1")), 0u);
  EXPECT_EQ(*seen.begin(), ip6("fd00:77::2"));
  EXPECT_EQ(pool.leased(), 1000u);
  // A freed address is the next one handed out.
  pool.release(ip6("fd00:77::10"));
  EXPECT_FALSE(pool.in_use(ip6("fd00:77::10")));
  EXPECT_EQ(pool.allocate(), ip6("fd00:77::10"));
  EXPECT_EQ(pool.allocate(), ip6("fd00:77::3ea"));  // 1000 + 2 = 0x3ea
}

TEST(AddressPool6, ClaimRestoresOnlyFreeAddressesOfThePool) {
  AddressPool6 pool(net6("fd00:77::/64"));
  EXPECT_TRUE(pool.claim(ip6("fd00:77::5")));
  EXPECT_FALSE(pool.claim(ip6("fd00:77::5")));  // taken
  EXPECT_FALSE(pool.claim(ip6("fd00:78::5")));  // outside
  EXPECT_FALSE(pool.claim(ip6("fd00:77::1")));  // the gateway
  EXPECT_FALSE(pool.claim(ip6("fd00:77::")));   // the network (anycast) address
  EXPECT_TRUE(pool.in_use(ip6("fd00:77::5")));
  // allocate walks past a claimed address.
  EXPECT_EQ(pool.allocate(), ip6("fd00:77::2"));
  EXPECT_EQ(pool.allocate(), ip6("fd00:77::3"));
  EXPECT_EQ(pool.allocate(), ip6("fd00:77::4"));
  EXPECT_EQ(pool.allocate(), ip6("fd00:77::6"));
  pool.release(ip6("fd00:78::5"));  // not ours: ignored
  EXPECT_EQ(pool.leased(), 5u);
}

TEST(AddressPool6, ASmallPoolRunsOut) {
  AddressPool6 pool(net6("fd00:77::/126"));  // ::0 network, ::1 gateway, ::2 and ::3 leasable
  EXPECT_EQ(pool.allocate(), ip6("fd00:77::2"));
  EXPECT_EQ(pool.allocate(), ip6("fd00:77::3"));
  EXPECT_FALSE(pool.allocate().has_value());
  pool.release(ip6("fd00:77::2"));
  EXPECT_EQ(pool.allocate(), ip6("fd00:77::2"));
}

}  // namespace
}  // namespace tandem::session
