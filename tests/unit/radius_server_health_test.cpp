#include "node/radius/server_health.hpp"

#include <gtest/gtest.h>

namespace tandem::radius {
namespace {

using namespace std::chrono_literals;
using config::RadiusServer;

const RadiusServer kFirst{0x0A000001, 1812};
const RadiusServer kSecond{0x0A000002, 1812};
const RadiusServer kThird{0x0A000003, 1812};
const std::vector<RadiusServer> kAll{kFirst, kSecond, kThird};
const TimePoint t0{Duration{1'000'000}};

TEST(ServerHealth, AllLiveKeepsTheConfiguredOrder) {
  ServerHealth h(60s);
  EXPECT_EQ(h.order(kAll, t0), kAll);
}

// A silent server is asked last until its dead time has passed, then in its place again.
TEST(ServerHealth, ASilentServerIsAskedLastForTheDeadTime) {
  ServerHealth h(60s);
  EXPECT_TRUE(h.silent(kFirst, t0));
  EXPECT_EQ(h.order(kAll, t0 + 1s), (std::vector<RadiusServer>{kSecond, kThird, kFirst}));
  EXPECT_EQ(h.order(kAll, t0 + 59s), (std::vector<RadiusServer>{kSecond, kThird, kFirst}));
  EXPECT_EQ(h.order(kAll, t0 + 60s), kAll);
  // Silent again once asked again: marked again, and said so (it was live).
  EXPECT_TRUE(h.silent(kFirst, t0 + 61s));
  EXPECT_FALSE(h.silent(kFirst, t0 + 62s));  // still marked: no second "dead"
  EXPECT_EQ(h.order(kAll, t0 + 120s), (std::vector<RadiusServer>{kSecond, kThird, kFirst}));
}

// With every server marked, all are still asked, in the configured order among themselves.
TEST(ServerHealth, EveryServerDeadStillAsksThemAll) {
  ServerHealth h(60s);
  h.silent(kThird, t0);
  h.silent(kFirst, t0);
  h.silent(kSecond, t0);
  EXPECT_EQ(h.order(kAll, t0 + 1s), kAll);
}

TEST(ServerHealth, AnAnswerMakesAServerLiveAtOnce) {
  ServerHealth h(60s);
  h.silent(kFirst, t0);
  EXPECT_TRUE(h.answered(kFirst));   // it was marked
  EXPECT_FALSE(h.answered(kFirst));  // and is no more
  EXPECT_EQ(h.order(kAll, t0 + 1s), kAll);
}

// Servers are told apart by address and port (authentication and accounting ports).
TEST(ServerHealth, PortsAreMarkedApart) {
  ServerHealth h(60s);
  const RadiusServer accounting{kFirst.ip, 1813};
  h.silent(accounting, t0);
  EXPECT_EQ(h.order(kAll, t0 + 1s), kAll);
  EXPECT_EQ(h.order({accounting, kSecond}, t0 + 1s),
            (std::vector<RadiusServer>{kSecond, accounting}));
}

TEST(ServerHealth, ZeroDeadTimeKeepsNoMemory) {
  ServerHealth h(0s);
  EXPECT_FALSE(h.silent(kFirst, t0));
  EXPECT_EQ(h.order(kAll, t0), kAll);
}

}  // namespace
}  // namespace tandem::radius
