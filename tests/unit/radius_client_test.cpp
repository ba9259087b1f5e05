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

// radcli takes the settings and Debian's dictionary (the requests are tested against a real
// FreeRADIUS in tests/e2e/test_radius.sh).
TEST(RadiusClient, CreatesHandlesFromTheSettings) {
  auto c = RadiusClient::create(settings(), 2);
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ((*c)->settings().nas_identifier, "node-a");
}

TEST(RadiusClient, RefusesAMissingDictionary) {
  auto c = RadiusClient::create(settings(), 1, "/nonexistent/dictionary");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.error(), HasSubstr("dictionary"));
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
