#include "replication/role_machine.hpp"

#include <gtest/gtest.h>

#include <chrono>

namespace tandem::replication {
namespace {

using namespace std::chrono_literals;

PeerState peer(bool active, std::uint64_t epoch, std::uint32_t priority = 100,
               std::string id = "b") {
  return PeerState{{std::move(id), priority}, active, epoch};
}

TEST(RoleMachine, StandbyFollowingAnActiveStaysWhileHeartbeatsArrive) {
  FakeClock clock;
  RoleMachine m({"a", 100}, 3, 2s, clock.now());
  for (int i = 0; i < 10; ++i) {
    clock.advance(500ms);
    EXPECT_EQ(m.on_peer(peer(true, 3), clock.now()), Action::none);
    EXPECT_EQ(m.on_tick(clock.now()), Action::none);
  }
  EXPECT_EQ(m.role(), Role::standby);
}

TEST(RoleMachine, SilenceForHoldTimePromotesWithAHigherEpoch) {
  FakeClock clock;
  RoleMachine m({"a", 100}, 3, 2s, clock.now());
  m.on_peer(peer(true, 5), clock.now());
  clock.advance(1999ms);
  EXPECT_EQ(m.on_tick(clock.now()), Action::none);
  clock.advance(1ms);
  EXPECT_EQ(m.on_tick(clock.now()), Action::promote);
  EXPECT_EQ(m.next_epoch(), 6u);  // above every epoch seen, not just its own
  m.promoted(m.next_epoch());
  EXPECT_EQ(m.role(), Role::active);
  EXPECT_EQ(m.epoch(), 6u);
  EXPECT_EQ(m.on_tick(clock.now()), Action::none);
}

TEST(RoleMachine, RefusedConnectionPromotesAFollowerAtOnce) {
  FakeClock clock;
  RoleMachine m({"a", 100}, 1, 2s, clock.now());
  EXPECT_EQ(m.on_peer_refused(clock.now()), Action::none);  // never saw an active: wait
  m.on_peer(peer(true, 1), clock.now());
  clock.advance(100ms);
  EXPECT_EQ(m.on_peer_refused(clock.now()), Action::promote);
}

TEST(RoleMachine, StartingPairElectsTheStrongerNode) {
  FakeClock clock;
  RoleMachine low({"a", 100}, 4, 2s, clock.now());
  EXPECT_EQ(low.on_peer(peer(false, 5), clock.now()), Action::none);  // higher epoch wins
  RoleMachine high({"a", 100}, 6, 2s, clock.now());
  EXPECT_EQ(high.on_peer(peer(false, 5), clock.now()), Action::promote);
  RoleMachine prio({"a", 200}, 5, 2s, clock.now());
  EXPECT_EQ(prio.on_peer(peer(false, 5, 100), clock.now()), Action::promote);
  RoleMachine id({"a", 100}, 5, 2s, clock.now());
  EXPECT_EQ(id.on_peer(peer(false, 5, 100, "b"), clock.now()), Action::none);
}

TEST(RoleMachine, AStaleStandbyMessageDoesNotStartAnElectionWhileFollowing) {
  FakeClock clock;
  RoleMachine m({"z", 100}, 0, 2s, clock.now());
  m.on_peer(peer(true, 1), clock.now());  // following an active at epoch 1 (adopted)
  EXPECT_EQ(m.epoch(), 1u);
  // The peer's Hello from before it promoted arrives late: ignored, although we now look stronger.
  EXPECT_EQ(m.on_peer(peer(false, 0), clock.now()), Action::none);
  EXPECT_EQ(m.role(), Role::standby);
}

TEST(RoleMachine, ActiveStepsDownForAHigherEpochOnly) {
  FakeClock clock;
  RoleMachine m({"a", 100}, 2, 2s, clock.now());
  m.promoted(3);
  EXPECT_EQ(m.on_peer(peer(true, 2), clock.now()), Action::none);   // stale peer: it steps down
  EXPECT_EQ(m.on_peer(peer(false, 9), clock.now()), Action::none);  // a standby is no threat
  EXPECT_EQ(m.on_peer(peer(true, 4), clock.now()), Action::step_down);
  m.stepped_down(clock.now());
  EXPECT_EQ(m.role(), Role::standby);
  EXPECT_EQ(m.next_epoch(), 10u);
  // A fresh hold time for the new active: no promotion straight back.
  clock.advance(1s);
  EXPECT_EQ(m.on_tick(clock.now()), Action::none);
  clock.advance(1s);
  EXPECT_EQ(m.on_tick(clock.now()), Action::promote);
}

TEST(RoleMachine, HandoverPromotesAStandbyOnly) {
  FakeClock clock;
  RoleMachine m({"a", 100}, 1, 2s, clock.now());
  EXPECT_EQ(m.on_handover(clock.now()), Action::promote);
  m.promoted(2);
  EXPECT_EQ(m.on_handover(clock.now()), Action::none);
}

TEST(RoleMachine, LoneNodePromotesAfterHoldTime) {
  FakeClock clock;
  RoleMachine m({"a", 100}, 0, 3s, clock.now());
  clock.advance(2s);
  EXPECT_EQ(m.on_tick(clock.now()), Action::none);
  clock.advance(1s);
  EXPECT_EQ(m.on_tick(clock.now()), Action::promote);
  EXPECT_EQ(m.next_epoch(), 1u);
}

}  // namespace
}  // namespace tandem::replication
