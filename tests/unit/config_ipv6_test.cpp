// The IPv6 keys: [pool] ipv6 and routes6, a policy's routes6 and exclude_routes6, IPv6 DNS
// servers (docs/ipv6.md).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "node/config/config.hpp"
#include "node/config/restart_only.hpp"
#include "tests/unit/config_parsing.hpp"

namespace tandem::config {
namespace {

using ::testing::HasSubstr;
using Strings = std::vector<std::string>;

using testing::parse_error;
using testing::parse_ok;

TEST(ConfigIpv6, NoPoolMeansIpv4OnlyAsBefore) {
  const Config c = parse_ok("");
  EXPECT_TRUE(c.pool_ipv6.empty());
  EXPECT_TRUE(c.policies.at("default").routes6.empty());
}

TEST(ConfigIpv6, PoolRoutesAndDnsOfBothFamilies) {
  const Config c = parse_ok(R"(
[pool]
ipv4 = "10.77.0.0/24"
ipv6 = "fd00:77::/64"
dns = ["10.201.0.53", "fd00:201::53"]
routes = ["10.201.0.0/24"]
routes6 = ["fd00:201::/64"]
[policy.other]
exclude_routes6 = ["fd00:201::bad/128"]
[policy.full6]
routes6 = []
dns = ["fd00:201::53"]
)");
  EXPECT_EQ(c.pool_ipv6, "fd00:77::/64");
  EXPECT_EQ(c.policies.at("default").routes6, Strings{"fd00:201::/64"});
  EXPECT_EQ(c.policies.at("default").dns, (Strings{"10.201.0.53", "fd00:201::53"}));
  EXPECT_EQ(c.policies.at("other").routes6, Strings{"fd00:201::/64"});
  EXPECT_EQ(c.policies.at("other").exclude_routes6, Strings{"fd00:201::bad/128"});
  EXPECT_TRUE(c.policies.at("full6").routes6.empty());
  EXPECT_EQ(c.policies.at("full6").dns, Strings{"fd00:201::53"});
}

TEST(ConfigIpv6, BadValuesAreRefusedWithTheirKey) {
  EXPECT_THAT(parse_error("[pool]\nipv6 = \"fd00:77::/48\"\n"),
              HasSubstr("pool.ipv6: expected an IPv6 network \"x:y::/len\" with len 64..126"));
  EXPECT_THAT(parse_error("[pool]\nipv6 = \"fd00:77::/127\"\n"), HasSubstr("pool.ipv6"));
  EXPECT_THAT(parse_error("[pool]\nipv6 = \"fd00:77::1/64\"\n"), HasSubstr("host bits"));
  EXPECT_THAT(parse_error("[pool]\nipv6 = \"10.77.0.0/24\"\n"), HasSubstr("pool.ipv6"));
  EXPECT_THAT(parse_error("[pool]\nipv6 = \"fd00:77::/64\"\nroutes6 = [\"10.0.0.0/8\"]\n"),
              HasSubstr("pool.routes6[0]"));
  EXPECT_THAT(parse_error("[pool]\nipv6 = \"fd00:77::/64\"\nroutes = [\"fd00::/8\"]\n"),
              HasSubstr("pool.routes[0]"));
  EXPECT_THAT(parse_error("[pool]\ndns = [\"fd00::53%eth0\"]\n"),
              HasSubstr("pool.dns[0]: expected an IPv4 or IPv6 address"));
  EXPECT_THAT(parse_error("[policy.p]\nexclude_routes6 = [\"fd00::/8\"]\n"),
              HasSubstr("policy.p.exclude_routes6: needs [pool] ipv6"));
  EXPECT_THAT(parse_error("[pool]\nroutes6 = [\"fd00::/8\"]\n"),
              HasSubstr("pool.routes6: needs [pool] ipv6"));
  EXPECT_THAT(parse_error("[pool]\nipv6 = \"fd00:77::/64\"\n[policy.small]\nmtu = 1200\n"),
              HasSubstr("policy.small.mtu: at least 1280 with [pool] ipv6"));
  parse_ok("[policy.small]\nmtu = 1200\n");  // IPv4 only: as before
}

TEST(ConfigIpv6, ThePoolIsKeptUntilARestart) {
  Config running = parse_ok("[pool]\nipv6 = \"fd00:77::/64\"\n");
  Config next = parse_ok("[pool]\nipv6 = \"fd00:78::/64\"\n");
  const auto ignored = keep_restart_only(running, next);
  EXPECT_EQ(next.pool_ipv6, "fd00:77::/64");
  bool named = false;
  for (const auto& key : ignored) named = named || key == "pool.ipv6";
  EXPECT_TRUE(named);
}

TEST(ConfigIpv6, TheInsideAddress6GoesOnTheInsideInterface) {
  const Config c = parse_ok(R"(
[node]
inside_address = "10.201.0.1/24"
inside_address6 = "fd00:201::1/64"
inside_interface = "eth1"
)");
  EXPECT_EQ(c.inside_address6, "fd00:201::1/64");
  EXPECT_EQ(c.inside_interface, "eth1");
  // Without an IPv4 inside address: the IPv4 pool's route is then the network's affair.
  const Config only6 =
      parse_ok("[node]\ninside_address6 = \"fd00:201::1/127\"\ninside_interface = \"eth1\"\n");
  EXPECT_EQ(only6.inside_address6, "fd00:201::1/127");
  EXPECT_TRUE(only6.inside_address.empty());
  EXPECT_TRUE(parse_ok("").inside_address6.empty());
}

TEST(ConfigIpv6, ABadInsideAddress6IsRefusedWithItsKey) {
  const std::string iface = "inside_interface = \"eth1\"\n";
  for (const char* bad :
       {"fd00:201::1", "fd00:201::1/0", "fd00:201::1/129", "fd00:201::1/64x", "fd00:201::1/",
        "10.201.0.1/24", "fe80::1/64", "ff02::1/64", "::/64", "::1/128", "::ffff:10.0.0.1/96",
        "::ffff:a00:1/96", "fd00:201::1%eth1/64", "fd00:201::1/0064"}) {
    EXPECT_THAT(parse_error("[node]\ninside_address6 = \"" + std::string(bad) + "\"\n" + iface),
                HasSubstr("node.inside_address6: expected \"ipv6/prefix\" (IPv6 address, not "
                          "link-local or multicast, and prefix length 1..128)"))
        << bad;
  }
  EXPECT_THAT(parse_error("[node]\ninside_address6 = \"fd00:201::1/64\"\n"),
              HasSubstr("inside_address6 needs inside_interface"));
  // An interface with neither inside address is still refused as before.
  EXPECT_THAT(parse_error("[node]\n" + iface),
              HasSubstr("inside_address and inside_interface must be given together"));
}

}  // namespace
}  // namespace tandem::config
