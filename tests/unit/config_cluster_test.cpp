// The cluster keys: [arbiter] and [member] (docs/arbiter.md), and their shapes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "base/address.hpp"
#include "node/config/config.hpp"

namespace tandem::config {
namespace {

using ::testing::HasSubstr;

Result<Config> parse(const std::string& text) { return parse_config(text, "test.toml"); }

TEST(ConfigCluster, WithoutArbiterAPairRunsOnHeartbeats) {
  auto c = parse("");
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_FALSE(c->arbiter.enabled);
  EXPECT_EQ(c->arbiter.lease_ttl, std::chrono::seconds(2));
  EXPECT_EQ(c->member.capacity, 1000);
}

TEST(ConfigCluster, ArbiterAndMemberAreRead) {
  auto c = parse(R"(
[node]
listen = "10.0.0.1:443"
[arbiter]
endpoints = ["http://10.0.0.5:2379", "https://etcd-2.example.com:2379"]
ca = "/etc/tandem/etcd-ca.pem"
lease_ttl = "3s"
[member]
id = "m1"
capacity = 250
)");
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_TRUE(c->arbiter.enabled);
  EXPECT_EQ(c->arbiter.endpoints.size(), 2u);
  EXPECT_EQ(c->arbiter.lease_ttl, std::chrono::seconds(3));
  EXPECT_EQ(c->member.id, "m1");
  EXPECT_EQ(c->member.capacity, 250);
  EXPECT_EQ(c->member.url, "https://10.0.0.1:443/");  // from the listen address
}

TEST(ConfigCluster, TheMemberUrlDefaultsToTheServiceAddress) {
  auto c = parse(R"(
[node]
listen = "192.0.2.10:443"
service_address = "192.0.2.10/24"
service_interface = "eth0"
[arbiter]
endpoints = ["http://10.0.0.5:2379"]
[member]
id = "m2"
)");
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c->member.url, "https://192.0.2.10:443/");
}

TEST(ConfigCluster, EveryProblemIsNamed) {
  auto c = parse(R"(
[node]
listen = "0.0.0.0:443"
[arbiter]
endpoints = ["10.0.0.5:2379", "http://:2379"]
lease_ttl = "1500ms"
certificate = "/x.pem"
colour = "blue"
)");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.error(), HasSubstr("arbiter.endpoints[0]"));
  EXPECT_THAT(c.error(), HasSubstr("arbiter.endpoints[1]"));
  EXPECT_THAT(c.error(), HasSubstr("arbiter.lease_ttl"));
  EXPECT_THAT(c.error(), HasSubstr("certificate and private_key must be given together"));
  EXPECT_THAT(c.error(), HasSubstr("unknown key 'arbiter.colour'"));
  EXPECT_THAT(c.error(), HasSubstr("member.id"));   // required with [arbiter]
  EXPECT_THAT(c.error(), HasSubstr("member.url"));  // 0.0.0.0 says nothing to a client
}

TEST(ConfigCluster, AMemberNeedsAnArbiter) {
  auto c = parse("[member]\nid = \"m1\"\n");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.error(), HasSubstr("needs [arbiter]"));
}

TEST(ClusterShapes, EndpointsAndUrls) {
  EXPECT_TRUE(net::valid_etcd_endpoint("http://127.0.0.1:2379"));
  EXPECT_TRUE(net::valid_etcd_endpoint("https://etcd.example.com:2379"));
  EXPECT_FALSE(net::valid_etcd_endpoint("etcd:2379"));
  EXPECT_FALSE(net::valid_etcd_endpoint("http://etcd"));
  EXPECT_FALSE(net::valid_etcd_endpoint("http://etcd:0"));
  EXPECT_FALSE(net::valid_etcd_endpoint("http://etcd:2379/path"));
  EXPECT_TRUE(net::valid_member_url("https://vpn-m1.example.com/"));
  EXPECT_TRUE(net::valid_member_url("https://192.0.2.10:8443/"));
  EXPECT_FALSE(net::valid_member_url("http://vpn.example.com/"));
  EXPECT_FALSE(net::valid_member_url("https://vpn.example.com/login"));
  EXPECT_FALSE(net::valid_member_url("https://user@vpn.example.com/"));
}

}  // namespace
}  // namespace tandem::config
