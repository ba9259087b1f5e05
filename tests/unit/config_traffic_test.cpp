// The traffic-policy keys of a group policy and the users of a tunnel group
// (docs/traffic-policy.md).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "node/config/config.hpp"
#include "tests/unit/config_parsing.hpp"

namespace tandem::config {
namespace {

using ::testing::HasSubstr;

using testing::parse_error;
using testing::parse_ok;

using Strings = std::vector<std::string>;

TEST(ConfigTraffic, DefaultsAreThePoolRoutesAndNoClientToClient) {
  const Config none = parse_ok("");
  EXPECT_TRUE(none.policies.at("default").routes.empty());
  EXPECT_FALSE(none.policies.at("default").client_to_client);
  EXPECT_FALSE(none.tunnel_groups.at("default").users.has_value());

  // Policies that do not name their own routes get [pool] routes, the built-in default too.
  const Config c = parse_ok(R"(
[pool]
routes = ["10.201.0.0/24"]
[policy.other]
mtu = 1300
)");
  EXPECT_EQ(c.policies.at("default").routes, Strings{"10.201.0.0/24"});
  EXPECT_EQ(c.policies.at("other").routes, Strings{"10.201.0.0/24"});
  EXPECT_TRUE(c.policies.at("other").exclude_routes.empty());
}

TEST(ConfigTraffic, APolicyNamesItsOwnRoutesExclusionsAndClientToClient) {
  const Config c = parse_ok(R"(
[pool]
routes = ["10.201.0.0/24"]
[policy.admins]
routes = []
exclude_routes = ["192.168.0.0/16"]
client_to_client = true
[policy.lab]
routes = ["10.9.0.0/16", "10.10.0.0/16"]
)");
  const Policy& admins = c.policies.at("admins");
  EXPECT_TRUE(admins.routes.empty());  // full tunnel although [pool] has routes
  EXPECT_EQ(admins.exclude_routes, Strings{"192.168.0.0/16"});
  EXPECT_TRUE(admins.client_to_client);
  EXPECT_EQ(c.policies.at("lab").routes, (Strings{"10.9.0.0/16", "10.10.0.0/16"}));
  EXPECT_FALSE(c.policies.at("lab").client_to_client);
}

TEST(ConfigTraffic, BadValuesNameTheKey) {
  EXPECT_THAT(parse_error("[policy.p]\nroutes = [\"10.0.0.1/8\"]\n"),
              HasSubstr("policy.p.routes[0]: expected an IPv4 network"));
  EXPECT_THAT(parse_error("[policy.p]\nexclude_routes = \"10.0.0.0/8\"\n"),
              HasSubstr("policy.p.exclude_routes: expected an array of IPv4 networks"));
  EXPECT_THAT(parse_error("[policy.p]\nclient_to_client = \"yes\"\n"),
              HasSubstr("policy.p.client_to_client: expected true or false, got \"yes\""));
  EXPECT_THAT(parse_error("[tunnel_group.g]\nusers = [\"a b\"]\n"),
              HasSubstr("tunnel_group.g.users[0]: expected a user name"));
  EXPECT_THAT(parse_error("[tunnel_group.g]\nusers = \"alice\"\n"),
              HasSubstr("tunnel_group.g.users: expected an array of user names"));
}

TEST(ConfigTraffic, ATunnelGroupAdmitsItsUsersOrEveryone) {
  const Config c = parse_ok(R"(
[tunnel_group.admins]
users = ["carol", "alice"]
[tunnel_group.nobody]
users = []
[tunnel_group.staff]
)");
  const TunnelGroup& admins = c.tunnel_groups.at("admins");
  EXPECT_TRUE(admins.admits("alice"));
  EXPECT_TRUE(admins.admits("carol"));
  EXPECT_FALSE(admins.admits("bob"));
  EXPECT_FALSE(admins.admits("Alice"));  // names are exact, as in the users file
  EXPECT_FALSE(admins.admits(""));
  EXPECT_FALSE(c.tunnel_groups.at("nobody").admits("alice"));
  EXPECT_TRUE(c.tunnel_groups.at("staff").admits("bob"));
  EXPECT_TRUE(c.tunnel_groups.at("default").admits("bob"));
}

}  // namespace
}  // namespace tandem::config
