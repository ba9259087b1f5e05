#include "node/server/front_door_limits.hpp"

#include <gtest/gtest.h>

#include <string>

#include "node/config/defaults.hpp"

namespace tandem::server {
namespace {

using Refusal = FrontDoorLimits::Refusal;

FrontDoorSettings small() { return FrontDoorSettings{10, 4, 6, 2}; }

TEST(FrontDoorLimits, HandshakesPerAddressAreCappedFirst) {
  FrontDoorLimits l(small());
  EXPECT_EQ(Refusal::none, l.admit("a"));
  EXPECT_EQ(Refusal::none, l.admit("a"));
  EXPECT_EQ(Refusal::handshakes_per_address, l.admit("a"));
  EXPECT_EQ(Refusal::none, l.admit("b")) << "another address is not affected";
  EXPECT_EQ(3u, l.handshaking());
  EXPECT_EQ(1u, l.refused(Refusal::handshakes_per_address));
  l.handshake_over("a");
  EXPECT_EQ(Refusal::none, l.admit("a"));
}

TEST(FrontDoorLimits, ConnectionsPerAddressCountUntilReleased) {
  FrontDoorLimits l(small());
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(Refusal::none, l.admit("a"));
    l.handshake_over("a");
  }
  EXPECT_EQ(4u, l.open_from("a"));
  EXPECT_EQ(0u, l.handshaking());
  EXPECT_EQ(Refusal::connections_per_address, l.admit("a"));
  l.release("a");
  EXPECT_EQ(Refusal::none, l.admit("a"));
  EXPECT_EQ(1u, l.refused(Refusal::connections_per_address));
}

TEST(FrontDoorLimits, TotalCaps) {
  FrontDoorLimits l(small());
  // 6 handshakes in total, 2 per address.
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(Refusal::none, l.admit("h" + std::to_string(i)));
    ASSERT_EQ(Refusal::none, l.admit("h" + std::to_string(i)));
  }
  EXPECT_EQ(Refusal::handshakes, l.admit("new"));
  for (int i = 0; i < 3; ++i) {
    l.handshake_over("h" + std::to_string(i));
    l.handshake_over("h" + std::to_string(i));
  }
  // 10 connections in total.
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(Refusal::none, l.admit("c" + std::to_string(i)));
    l.handshake_over("c" + std::to_string(i));
  }
  EXPECT_EQ(10u, l.open());
  EXPECT_EQ(Refusal::connections, l.admit("new"));
  EXPECT_EQ(1u, l.refused(Refusal::connections));
  EXPECT_EQ(1u, l.refused(Refusal::handshakes));
}

TEST(FrontDoorLimits, ReleasingEverythingLeavesNoEntries) {
  FrontDoorLimits l(small());
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(Refusal::none, l.admit("a" + std::to_string(i)));
  }
  l.handshake_over("a0");
  l.release("a0");
  l.release("a1");  // released without handshake_over(): still consistent
  l.handshake_over("a2");
  l.release("a2");
  l.release("a2");  // extra releases are ignored
  l.handshake_over("nobody");
  EXPECT_EQ(0u, l.open());
  EXPECT_EQ(0u, l.handshaking());
  EXPECT_EQ(0u, l.addresses());
}

TEST(FrontDoorLimits, ZeroMeansNoPerAddressCap) {
  FrontDoorLimits l(FrontDoorSettings{100, 0, 100, 0});
  for (int i = 0; i < 100; ++i) ASSERT_EQ(Refusal::none, l.admit("a"));
  EXPECT_EQ(Refusal::connections, l.admit("a"));
}

TEST(FrontDoorLimits, ConfigureAppliesToNewConnections) {
  FrontDoorLimits l(small());
  ASSERT_EQ(Refusal::none, l.admit("a"));
  ASSERT_EQ(Refusal::none, l.admit("a"));
  l.configure(FrontDoorSettings{10, 4, 6, 1});
  EXPECT_EQ(Refusal::handshakes_per_address, l.admit("a"));
  EXPECT_EQ(2u, l.open_from("a")) << "nothing open is cut";
}

TEST(FrontDoorLimits, SettingsFromTheConfigDefaults) {
  auto s = front_door_settings(config::default_limits(), defaults::kMaxFrontConnections);
  EXPECT_EQ(defaults::kMaxFrontConnections, s.connections);
  EXPECT_EQ(defaults::kConnectionsPerAddress, s.connections_per_address);
  EXPECT_EQ(defaults::kTlsHandshakes, s.handshakes);
  EXPECT_EQ(defaults::kTlsHandshakesPerAddress, s.handshakes_per_address);
  EXPECT_EQ("connections_per_address", to_string(Refusal::connections_per_address));
}

}  // namespace
}  // namespace tandem::server
