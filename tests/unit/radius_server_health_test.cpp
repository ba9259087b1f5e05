#include <gtest/gtest.h>

#include "node/radius/server_health.hpp"

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
  EXPECT_TRUE(h.silent(kFirst, t0 - 3s, t0));
  EXPECT_EQ(h.order(kAll, t0 + 1s), (std::vector<RadiusServer>{kSecond, kThird, kFirst}));
  EXPECT_EQ(h.order(kAll, t0 + 59s), (std::vector<RadiusServer>{kSecond, kThird, kFirst}));
  EXPECT_EQ(h.order(kAll, t0 + 60s), kAll);
  // Silent again once asked again: marked again, but not announced again (no answer between).
  EXPECT_FALSE(h.silent(kFirst, t0 + 60s, t0 + 63s));
  EXPECT_EQ(h.order(kAll, t0 + 64s), (std::vector<RadiusServer>{kSecond, kThird, kFirst}));
  EXPECT_EQ(h.order(kAll, t0 + 123s), kAll);
}

// With every server marked, all are still asked, in the configured order among themselves.
TEST(ServerHealth, EveryServerDeadStillAsksThemAll) {
  ServerHealth h(60s);
  h.silent(kThird, t0, t0);
  h.silent(kFirst, t0, t0);
  h.silent(kSecond, t0, t0);
  EXPECT_EQ(h.order(kAll, t0 + 1s), kAll);
}

TEST(ServerHealth, AnAnswerMakesAServerLiveAtOnce) {
  ServerHealth h(60s);
  h.silent(kFirst, t0, t0);
  EXPECT_TRUE(h.answered(kFirst, t0 + 1s));   // it was marked
  EXPECT_FALSE(h.answered(kFirst, t0 + 2s));  // and is no more
  EXPECT_EQ(h.order(kAll, t0 + 3s), kAll);
  EXPECT_TRUE(h.silent(kFirst, t0 + 4s, t0 + 7s));  // live since: a new mark is announced
}

// Requests run side by side: one sent before the server's latest answer, and timed out after
// it, says nothing new (the server was slow to it, or dropped it).
TEST(ServerHealth, SilenceOlderThanTheLatestAnswerMarksNothing) {
  ServerHealth h(60s);
  h.answered(kFirst, t0);
  EXPECT_FALSE(h.silent(kFirst, t0 - 5s, t0 + 4s));
  EXPECT_EQ(h.order(kAll, t0 + 5s), kAll);
  EXPECT_TRUE(h.silent(kFirst, t0 + 1s, t0 + 10s));  // sent after that answer: it counts
}

// Servers are told apart by address and port (authentication and accounting ports).
TEST(ServerHealth, PortsAreMarkedApart) {
  ServerHealth h(60s);
  const RadiusServer accounting{kFirst.ip, 1813};
  h.silent(accounting, t0, t0);
  EXPECT_EQ(h.order(kAll, t0 + 1s), kAll);
  EXPECT_EQ(h.order({accounting, kSecond}, t0 + 1s),
            (std::vector<RadiusServer>{kSecond, accounting}));
}

TEST(ServerHealth, ZeroDeadTimeKeepsNoMemory) {
  ServerHealth h(0s);
  EXPECT_FALSE(h.silent(kFirst, t0, t0));
  EXPECT_EQ(h.order(kAll, t0), kAll);
}

}  // namespace
}  // namespace tandem::radius
