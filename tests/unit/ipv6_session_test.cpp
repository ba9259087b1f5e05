// IPv6 in the session: the table leases an IPv6 address with the IPv4 one and gives it back, a
// restore (resume after restart, the standby's mirror, failover) keeps it, the record carries
// it, and the CONNECT answer tells the client (docs/ipv6.md).
#include <gtest/gtest.h>

#include "node/server/connect_response.hpp"
#include "node/session/session_record.hpp"
#include "node/session/session_table.hpp"

namespace tandem::session {
namespace {

Ipv6Addr ip6(const char* text) { return net::parse_ipv6(text).value(); }

class Ipv6SessionTest : public ::testing::Test {
 protected:
  FakeClock clock;
  SessionTable table{AddressPool(*net::parse_cidr("10.77.0.0/29")), clock,
                     AddressPool6(*net::parse_cidr6("fd00:77::/64"))};

  SessionRef login(const std::string& user) {
    auto r = table.create({user, "default", "default", "10.200.0.2", 4000, "oc", 0});
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error());
    return r.ok() ? r->session : SessionRef{};
  }
};

TEST_F(Ipv6SessionTest, EachSessionGetsItsOwnIpv6AddressAndGivesItBack) {
  auto a = login("alice");
  auto b = login("bob");
  ASSERT_TRUE(a->ip6 && b->ip6);
  EXPECT_EQ(*a->ip6, ip6("fd00:77::2"));
  EXPECT_EQ(*b->ip6, ip6("fd00:77::3"));
  EXPECT_EQ(table.find_by_ip6(*b->ip6), b);
  EXPECT_FALSE(table.find_by_ip6(ip6("fd00:77::4")));
  const auto index = a->index;
  table.end(index, EndReason::admin_logoff, false);
  EXPECT_FALSE(table.find_by_ip6(ip6("fd00:77::2")));
  EXPECT_FALSE(table.pool6()->in_use(ip6("fd00:77::2")));
  EXPECT_EQ(*login("carol")->ip6, ip6("fd00:77::2"));  // the freed address, lowest first
}

TEST_F(Ipv6SessionTest, WithoutAPoolSessionsStayIpv4Only) {
  SessionTable v4{AddressPool(*net::parse_cidr("10.77.0.0/29")), clock};
  auto r = v4.create({"alice", "default", "default", "10.200.0.2", 4000, "oc", 0});
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->session->ip6.has_value());
  EXPECT_TRUE(to_record(*r->session).assigned_ipv6().empty());
}

TEST_F(Ipv6SessionTest, TheRecordCarriesTheAddressAndARestoreKeepsIt) {
  auto a = login("alice");
  const proto::SessionRecord record = to_record(*a);
  EXPECT_EQ(record.assigned_ipv6().size(), 16u);
  // A second node (the standby, or this one after a restart) restores the record.
  SessionTable other{AddressPool(*net::parse_cidr("10.77.0.0/29")), clock,
                     AddressPool6(*net::parse_cidr6("fd00:77::/64"))};
  other.restore(from_record(record));
  auto restored = other.find(a->index);
  ASSERT_TRUE(restored);
  ASSERT_TRUE(restored->ip6);
  EXPECT_EQ(*restored->ip6, ip6("fd00:77::2"));
  EXPECT_EQ(other.find_by_ip6(ip6("fd00:77::2")), restored);
  EXPECT_TRUE(other.pool6()->in_use(ip6("fd00:77::2")));
  // The mirror is updated with the same record again: the lease stays, and is not doubled.
  other.restore(from_record(record));
  EXPECT_EQ(other.pool6()->leased(), 1u);
  EXPECT_TRUE(other.find_by_ip6(ip6("fd00:77::2")));
  // A new login there never gets the restored address.
  auto r = other.create({"bob", "default", "default", "10.200.0.2", 4000, "oc", 0});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r->session->ip6, ip6("fd00:77::3"));
  other.drop_replica(a->index);
  EXPECT_FALSE(other.pool6()->in_use(ip6("fd00:77::2")));
  EXPECT_FALSE(other.find_by_ip6(ip6("fd00:77::2")));
}

TEST_F(Ipv6SessionTest, ARestoreOnANodeWithoutTheAddressKeepsTheSessionOnIpv4) {
  auto a = login("alice");
  SessionTable v4{AddressPool(*net::parse_cidr("10.77.0.0/29")), clock};
  v4.restore(from_record(to_record(*a)));
  auto restored = v4.find(a->index);
  ASSERT_TRUE(restored);
  EXPECT_FALSE(restored->ip6.has_value());
  EXPECT_EQ(restored->ip, a->ip);
  // Malformed lengths read as no address.
  proto::SessionRecord bad = to_record(*a);
  bad.set_assigned_ipv6("short");
  EXPECT_FALSE(from_record(bad).ip6.has_value());
}

}  // namespace
}  // namespace tandem::session

namespace tandem::server {
namespace {

std::vector<std::string> values(const http::Response& r, const std::string& name) {
  std::vector<std::string> out;
  for (const auto& h : r.headers)
    if (h.name == name) out.push_back(h.value);
  return out;
}

TunnelParams params6() {
  TunnelParams p;
  p.client_ip = *net::parse_ipv4("10.77.0.2");
  p.pool = *net::parse_cidr("10.77.0.0/24");
  p.client_ip6 = net::parse_ipv6("fd00:77::2");
  p.pool6 = *net::parse_cidr6("fd00:77::/64");
  p.dns = {"10.77.0.1", "fd00:77::1"};
  p.policy.name = "default";
  p.policy.mtu = 1400;
  p.policy.routes = {"10.201.0.0/24"};
  p.policy.routes6 = {"fd00:201::/64"};
  p.policy.exclude_routes6 = {"fd00:201::bad/128"};
  return p;
}

TEST(ConnectResponse6, TellsTheClientItsIpv6AddressRoutesAndDns) {
  auto r = build_connect_response(params6());
  EXPECT_EQ(values(r, "X-CSTP-Address-IP6"), std::vector<std::string>{"fd00:77::2/64"});
  EXPECT_EQ(values(r, "X-CSTP-Split-Include-IP6"),
            (std::vector<std::string>{"fd00:77::/64", "fd00:201::/64"}));
  EXPECT_EQ(values(r, "X-CSTP-Split-Exclude-IP6"), std::vector<std::string>{"fd00:201::bad/128"});
  EXPECT_EQ(values(r, "X-CSTP-DNS"), (std::vector<std::string>{"10.77.0.1", "fd00:77::1"}));
  // The IPv4 answer is unchanged.
  EXPECT_EQ(values(r, "X-CSTP-Address"), std::vector<std::string>{"10.77.0.2"});
  EXPECT_EQ(values(r, "X-CSTP-Split-Include").size(), 2u);
}

TEST(ConnectResponse6, NoIpv6RoutesMeansEveryIpv6Destination) {
  auto p = params6();
  p.policy.routes6.clear();
  auto r = build_connect_response(p);
  EXPECT_TRUE(values(r, "X-CSTP-Split-Include-IP6").empty());
  EXPECT_EQ(values(r, "X-CSTP-Address-IP6").size(), 1u);
}

TEST(ConnectResponse6, ASessionWithoutIpv6HearsNothingOfIt) {
  auto p = params6();
  p.client_ip6.reset();
  auto r = build_connect_response(p);
  EXPECT_TRUE(values(r, "X-CSTP-Address-IP6").empty());
  EXPECT_TRUE(values(r, "X-CSTP-Split-Include-IP6").empty());
  EXPECT_TRUE(values(r, "X-CSTP-Split-Exclude-IP6").empty());
  EXPECT_EQ(values(r, "X-CSTP-DNS"), std::vector<std::string>{"10.77.0.1"});
}

}  // namespace
}  // namespace tandem::server
