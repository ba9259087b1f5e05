#include "node/radius/radius_client.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace tandem::radius {
namespace {

using ::testing::HasSubstr;

config::RadiusSettings settings() {
  config::RadiusSettings s;
  s.enabled = true;
  s.servers = {config::parse_radius_server("127.0.0.1:1812", 1812).value()};
  s.accounting_servers = {config::parse_radius_server("127.0.0.1:1813", 1813).value()};
  s.secret = "s3cret:with-colon";
  s.nas_identifier = "node-a";
  return s;
}

// The requests themselves are tested against a real FreeRADIUS in tests/e2e/test_radius.sh.
TEST(RadiusClient, TakesTheSettings) {
  auto c = RadiusClient::create(settings(), 2);
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ((*c)->settings().nas_identifier, "node-a");
}

TEST(RadiusClient, SendsTheRequestAttributesTheDocsName) {
  AccessRequest r{"alice", "pw", "", "192.0.2.7"};
  const auto a = access_request_attributes(r, "node-a");
  ASSERT_EQ(a.size(), 6u);
  EXPECT_EQ(a[0], (RawAttribute{kUserName, "alice"}));
  EXPECT_EQ(a[1], (RawAttribute{kUserPassword, "pw"}));
  EXPECT_EQ(a[2], (RawAttribute{kNasIdentifier, "node-a"}));
  EXPECT_EQ(a[5], (RawAttribute{kCallingStationId, "192.0.2.7"}));
  r.state = "st";
  EXPECT_EQ(access_request_attributes(r, "node-a").back(), (RawAttribute{kState, "st"}));
}

TEST(RadiusClient, ReadsTheAttributesOfAnAnswer) {
  const auto a = read_attributes({{kFramedIpAddress, std::string("\x0a\x4d\x00\x32", 4)},
                                  {kClass, "first"},
                                  {kClass, "second"},
                                  {kSessionTimeout, std::string("\x00\x00\x1c\x20", 4)},
                                  {kIdleTimeout, "bad"},
                                  {kFilterId, "f1"},
                                  {kReplyMessage, "a"},
                                  {kReplyMessage, "b"},
                                  {kState, "s"}});
  EXPECT_EQ(a.framed_ip, 0x0a4d0032u);
  EXPECT_EQ(a.radius_class, "first");  // only the first Class is kept
  EXPECT_EQ(a.session_timeout, 7200u);
  EXPECT_FALSE(a.idle_timeout.has_value());  // not 4 bytes: ignored
  EXPECT_EQ(a.filter_ids, std::vector<std::string>{"f1"});
  EXPECT_EQ(a.reply_message, "a\nb");
  EXPECT_EQ(a.state, "s");
}

TEST(RadiusClient, RefusesNoSecretOrNoServer) {
  auto s = settings();
  s.secret.clear();
  EXPECT_FALSE(RadiusClient::create(s, 1).ok());
  s = settings();
  s.servers.clear();
  EXPECT_FALSE(RadiusClient::create(s, 1).ok());
}

}  // namespace
}  // namespace tandem::radius
