// Which keys a reload keeps at their running value (node/config/restart_only.hpp).
#include "node/config/restart_only.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace tandem::config {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

Config parse(const std::string& text) {
  auto c = parse_config(text, "test.toml");
  EXPECT_TRUE(c.ok()) << c.error();
  return c.ok() ? *c : Config{};
}

constexpr const char* kArbitrated = R"(
[node]
listen = "10.0.0.1:443"
[arbiter]
endpoints = ["http://10.0.0.5:2379"]
lease_ttl = "2s"
[member]
id = "m1"
capacity = 100
)";

TEST(RestartOnly, NothingKeptWhenOnlyReloadableKeysChange) {
  const Config running = parse(kArbitrated);
  Config next = parse(std::string(kArbitrated) + "[policy.default]\ndpd_interval = \"17s\"\n");
  EXPECT_THAT(keep_restart_only(running, next), IsEmpty());
}

TEST(RestartOnly, ArbiterAndMemberChangesKeepTheRunningValues) {
  const Config running = parse(kArbitrated);
  Config next = parse(R"(
[node]
listen = "10.0.0.1:443"
[arbiter]
endpoints = ["http://10.0.0.6:2379"]
lease_ttl = "3s"
[member]
id = "m2"
capacity = 200
)");
  EXPECT_THAT(keep_restart_only(running, next), ElementsAre("arbiter", "member"));
  EXPECT_EQ(next.arbiter, running.arbiter);
  EXPECT_EQ(next.member, running.member);
  EXPECT_EQ(next.arbiter.lease_ttl, std::chrono::seconds(2));
}

TEST(RestartOnly, AddingTheArbiterToARunningNodeNeedsARestart) {
  const Config running = parse("[node]\nlisten = \"10.0.0.1:443\"\n");
  Config next = parse(kArbitrated);
  EXPECT_THAT(keep_restart_only(running, next), ElementsAre("arbiter", "member"));
  EXPECT_FALSE(next.arbiter.enabled);
}

TEST(RestartOnly, ListenAndPoolAreKept) {
  const Config running = parse("[node]\nlisten = \"10.0.0.1:443\"\n[pool]\nipv4 = \"10.77.0.0/24\"\n");
  Config next = parse("[node]\nlisten = \"10.0.0.1:8443\"\n[pool]\nipv4 = \"10.78.0.0/24\"\n");
  EXPECT_THAT(keep_restart_only(running, next), ElementsAre("node.listen", "pool.ipv4"));
  EXPECT_EQ(next.listen, running.listen);
  EXPECT_EQ(next.pool_ipv4, running.pool_ipv4);
}

TEST(RestartOnly, TheInsideAddress6IsKept) {
  const Config running =
      parse("[node]\ninside_address6 = \"fd00:99::1/64\"\ninside_interface = \"eth1\"\n");
  Config next = parse("[node]\ninside_address6 = \"fd00:99::2/64\"\ninside_interface = \"eth1\"\n");
  EXPECT_THAT(keep_restart_only(running, next), ElementsAre("node.inside_address6"));
  EXPECT_EQ(next.inside_address6, "fd00:99::1/64");
}

}  // namespace
}  // namespace tandem::config
