#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "node/radius/attributes.hpp"

namespace tandem::radius {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

const net::Ipv4Net kPool = net::parse_cidr("10.77.0.0/24").value();

config::RadiusSettings settings() {
  config::RadiusSettings s;
  s.class_policy = {{"staff", "staff-policy"}, {"contractors", "contractor-policy"}};
  return s;
}

TEST(RadiusGrant, NothingSetLeavesTheGroupsPolicyAndThePool) {
  auto g = grant_from_accept({}, settings(), kPool, "default");
  ASSERT_TRUE(g.ok());
  EXPECT_FALSE(g->ip);
  EXPECT_EQ(g->radius_class, "");
  EXPECT_EQ(g->session_timeout, 0ms);
  EXPECT_EQ(g->idle_timeout, 0ms);
  EXPECT_EQ(g->policy, "default");
  EXPECT_EQ(g->policy_from, "group");
}

TEST(RadiusGrant, FramedIpInsideThePool) {
  Attributes a;
  a.framed_ip = *net::parse_ipv4("10.77.0.42");
  EXPECT_EQ(*grant_from_accept(a, settings(), kPool, "default")->ip, a.framed_ip);
}

TEST(RadiusGrant, FramedIpRefusedOutsideThePoolOrOnItsReservedAddresses) {
  for (const char* bad : {"10.78.0.5", "192.0.2.1", "10.77.0.0", "10.77.0.1", "10.77.0.255"}) {
    Attributes a;
    a.framed_ip = *net::parse_ipv4(bad);
    auto g = grant_from_accept(a, settings(), kPool, "default");
    ASSERT_FALSE(g.ok()) << bad;
    EXPECT_THAT(g.error(), HasSubstr(bad));
  }
}

TEST(RadiusGrant, FramedIpAskingTheNasToChooseUsesThePool) {
  for (std::uint32_t ip : {0xfffffffeu, 0xffffffffu}) {
    Attributes a;
    a.framed_ip = ip;
    auto g = grant_from_accept(a, settings(), kPool, "default");
    ASSERT_TRUE(g.ok());
    EXPECT_FALSE(g->ip);
  }
}

TEST(RadiusGrant, TimeoutsOverrideThePolicyZeroDoesNot) {
  Attributes a;
  a.session_timeout = 3600;
  a.idle_timeout = 0;
  auto g = grant_from_accept(a, settings(), kPool, "default");
  EXPECT_EQ(g->session_timeout, 3600s);
  EXPECT_EQ(g->idle_timeout, 0ms);
}

TEST(RadiusGrant, ClassIsKeptAndMapsToAPolicy) {
  Attributes a;
  a.radius_class = std::string("staff");
  a.filter_ids = {"contractors"};
  auto g = grant_from_accept(a, settings(), kPool, "default");
  EXPECT_EQ(g->radius_class, "staff");
  EXPECT_EQ(g->policy, "staff-policy");
  EXPECT_EQ(g->policy_from, "Class");
}

TEST(RadiusGrant, FilterIdMapsWhenClassDoesNot) {
  Attributes a;
  a.radius_class = std::string("\x01\x02opaque", 8);  // binary Class, kept as is
  a.filter_ids = {"unknown", "contractors"};
  auto g = grant_from_accept(a, settings(), kPool, "default");
  EXPECT_EQ(g->radius_class, std::string("\x01\x02opaque", 8));
  EXPECT_EQ(g->policy, "contractor-policy");
  EXPECT_EQ(g->policy_from, "Filter-Id");
}

TEST(RadiusGrant, UnmappedValuesKeepTheGroupsPolicy) {
  Attributes a;
  a.radius_class = std::string("nobody");
  a.filter_ids = {"nothing"};
  auto g = grant_from_accept(a, settings(), kPool, "eng");
  EXPECT_EQ(g->policy, "eng");
}

TEST(RadiusPrintable, EscapesAndBounds) {
  EXPECT_EQ(printable("abc"), "abc");
  EXPECT_EQ(printable(std::string("a\x01\\", 3)), "a\\x01\\x5c");
  EXPECT_EQ(printable("abcdef", 3), "abc...");
}

}  // namespace
}  // namespace tandem::radius
