// The replication core with an arbiter (docs/arbiter.md), on a fake clock: a node serves only
// while the member's key is provably its own — won in a campaign, kept by the lease or vouched
// for by the standby that follows it — and stops by itself the moment that proof runs out.
#include <gtest/gtest.h>

#include "tests/unit/core_testbench.hpp"

namespace tandem::replication {
namespace {

using namespace testbench;

class ArbiterTest : public CoreTest {
 protected:
  static CoreSettings with_arbiter() {
    CoreSettings s;
    s.arbiter = true;
    return s;
  }
  // Alone at start: the hold time passes, the node campaigns and wins at `revision`.
  void make_arbitrated_active(std::uint64_t revision = 500, Duration lease = 1700ms) {
    make(with_arbiter());
    advance(2s);
    ASSERT_EQ(fx_.campaigns, 1);
    ASSERT_EQ(core_->role(), Role::standby);  // not before the key is won
    core_->on_lease(now() + lease, now());
    core_->on_campaign_result(revision, now());
    ASSERT_EQ(core_->role(), Role::active);
  }
  // The standby's echo of every heartbeat it was sent since the last call.
  void echo_heartbeats(StreamId id = 1) {
    for (; echoed_ < fx_.to_follower.size(); ++echoed_) {
      const auto& [to, m] = fx_.to_follower[echoed_];
      if (to != id || !m.has_heartbeat()) continue;
      proto::FollowerMessage heard;
      heard.set_heard(m.heartbeat().beat());
      core_->on_follower_message(id, heard, now());
    }
  }
  std::size_t echoed_ = 0;
};

TEST_F(ArbiterTest, TheActiveRoleIsWonInEtcdAndTheKeyRevisionIsTheEpoch) {
  make_arbitrated_active(500);
  EXPECT_EQ(core_->epoch(), 500u);
  EXPECT_TRUE(core_->status(now()).holding_key);
  ASSERT_FALSE(fx_.deadlines.empty());  // the keeper knows when to drop the address
  EXPECT_EQ(fx_.deadlines.back(), now() + 1700ms);
}

TEST_F(ArbiterTest, AnEpochNeverMovesBackEvenIfEtcdsRevisionIsLower) {
  make(with_arbiter());
  core_->on_peer_info(peer(proto::ROLE_ACTIVE, 900), now());  // history has reached 900
  run_for(2100ms);
  ASSERT_EQ(fx_.campaigns, 1);
  core_->on_lease(now() + 1700ms, now());
  core_->on_campaign_result(7, now());  // a fresh etcd
  EXPECT_EQ(core_->role(), Role::active);
  EXPECT_EQ(core_->epoch(), 901u);
}

TEST_F(ArbiterTest, ASilentPeerIsNotEnoughALostCampaignKeepsUsStandbyAndIsRetried) {
  make(with_arbiter());
  advance(2s);
  core_->on_campaign_result(fail(Errc::busy, "held by node-b"), now());
  EXPECT_EQ(core_->role(), Role::standby);
  EXPECT_TRUE(fx_.active_epochs.empty());
  advance(100ms);
  EXPECT_EQ(fx_.campaigns, 1);  // not at once
  advance(200ms);
  EXPECT_EQ(fx_.campaigns, 2);  // after campaign_retry
  core_->on_campaign_result(fail(Errc::unavailable, "etcd unreachable"), now());
  EXPECT_EQ(core_->role(), Role::standby);
}

TEST_F(ArbiterTest, AnActiveAloneStopsAtItsLeaseDeadline) {
  make_arbitrated_active(500, 1700ms);
  run_for(1650ms);
  EXPECT_EQ(core_->role(), Role::active);
  run_for(100ms);
  EXPECT_EQ(core_->role(), Role::standby);
  ASSERT_EQ(fx_.standby.size(), 1u);
  EXPECT_EQ(fx_.deadlines.back(), TimePoint{});  // the keeper stands down too
}

TEST_F(ArbiterTest, ARenewedLeaseKeepsTheActiveServing) {
  make_arbitrated_active(500, 1700ms);
  for (int i = 0; i < 20; ++i) {
    run_for(500ms);
    core_->on_lease(now() + 1700ms, now());
  }
  EXPECT_EQ(core_->role(), Role::active);
  EXPECT_EQ(fx_.deadlines.back(), now() + 1700ms);
}

TEST_F(ArbiterTest, AFollowingStandbyVouchesForTheActiveWhileEtcdIsDown) {
  make_arbitrated_active(500, 1700ms);
  ASSERT_TRUE(core_->on_follower_start(1, peer(proto::ROLE_STANDBY, 500), now()));
  // etcd is gone: no lease renewal for 10 s, but the standby hears every heartbeat.
  for (int i = 0; i < 200; ++i) {
    advance(50ms);
    echo_heartbeats();
  }
  EXPECT_EQ(core_->role(), Role::active);
  // The standby stops answering: we serve until it could campaign (hold 2 s - margin 0.5 s
  // after the last heartbeat it heard), then stop.
  const TimePoint last_heard_sent = now();
  run_for(1400ms);
  EXPECT_EQ(core_->role(), Role::active);
  run_for(200ms);
  EXPECT_EQ(core_->role(), Role::standby);
  EXPECT_LE(now() - last_heard_sent, 1600ms);
}

TEST_F(ArbiterTest, AnEchoOfAHeartbeatNeverSentExtendsNothing) {
  make_arbitrated_active(500, 1700ms);
  ASSERT_TRUE(core_->on_follower_start(1, peer(proto::ROLE_STANDBY, 500), now()));
  proto::FollowerMessage heard;
  heard.set_heard(1'000'000);
  core_->on_follower_message(1, heard, now());
  run_for(1750ms);
  EXPECT_EQ(core_->role(), Role::standby);
}

TEST_F(ArbiterTest, AFrozenActiveStepsDownWhenItWakes) {
  make_arbitrated_active(500, 1700ms);
  advance(5s);  // one tick after a 5 s freeze
  EXPECT_EQ(core_->role(), Role::standby);
  EXPECT_TRUE(fx_.active_epochs.size() == 1);  // and it does not take the role back by itself
}

TEST_F(ArbiterTest, ALostKeyIsWonBackOrTheActiveStops) {
  // Only a standby's word can keep an active serving once its lease is gone in etcd.
  make_arbitrated_active();
  ASSERT_TRUE(core_->on_follower_start(1, peer(proto::ROLE_STANDBY, 500), now()));
  advance(50ms);
  echo_heartbeats();
  core_->on_key_lost(now());
  EXPECT_EQ(fx_.campaigns, 2);  // at once, without the retry pause
  core_->on_lease(now() + 1700ms, now());
  core_->on_campaign_result(510, now());
  EXPECT_EQ(core_->role(), Role::active);
  EXPECT_EQ(core_->epoch(), 500u);  // the same reign goes on
  core_->on_key_lost(now());
  core_->on_campaign_result(fail(Errc::busy, "held by node-b"), now());
  EXPECT_EQ(core_->role(), Role::standby);
}

TEST_F(ArbiterTest, ALostKeyWithoutAWitnessStopsTheActiveAtOnce) {
  make_arbitrated_active();
  core_->on_key_lost(now());
  advance(50ms);
  EXPECT_EQ(core_->role(), Role::standby);
}

// Found by the replication fuzz target: on_key_lost left the active serving (and its keeper on
// the old lease deadline) until the next tick.
TEST_F(ArbiterTest, ALostKeyWithoutAWitnessStopsTheActiveBeforeTheNextTick) {
  make_arbitrated_active();
  core_->on_key_lost(now());
  EXPECT_EQ(fx_.campaigns, 2);  // the reclaim is still asked for
  EXPECT_EQ(core_->role(), Role::standby);
  ASSERT_FALSE(fx_.deadlines.empty());
  EXPECT_EQ(fx_.deadlines.back(), TimePoint{});
}

TEST_F(ArbiterTest, ALostKeyLeavesTheKeeperOnlyTheWitnessDeadline) {
  make_arbitrated_active(500, 1700ms);
  const TimePoint heartbeat_sent = now();  // the stream's first heartbeat goes out at once
  ASSERT_TRUE(core_->on_follower_start(1, peer(proto::ROLE_STANDBY, 500), now()));
  advance(50ms);
  echo_heartbeats();
  core_->on_key_lost(now());
  EXPECT_EQ(core_->role(), Role::active);
  // hold 2 s - margin 0.5 s after the heartbeat the standby heard, not the lease's 1.7 s.
  EXPECT_EQ(fx_.deadlines.back(), heartbeat_sent + 1500ms);
  EXPECT_EQ(core_->status(now()).serving_left, 1450ms);
}

// Found by the replication fuzz target: after a successful resign the keeper kept the lease's
// deadline (the key is the standby's to win now) until the next tick.
TEST_F(ArbiterTest, AResignLeavesTheKeeperOnlyTheWitnessDeadline) {
  make_arbitrated_active(500, 1700ms);
  const TimePoint heartbeat_sent = now();
  ASSERT_TRUE(core_->on_follower_start(1, peer(proto::ROLE_STANDBY, 500), now()));
  core_->on_lease(now() + 7s, now());
  core_->begin_handover([](Result<std::string>) {}, now());
  ASSERT_EQ(fx_.resigns, 1);
  advance(50ms);
  echo_heartbeats();
  EXPECT_EQ(fx_.deadlines.back(), heartbeat_sent + 7s);
  core_->on_resigned({}, now());
  EXPECT_EQ(core_->role(), Role::active);
  EXPECT_EQ(fx_.deadlines.back(), heartbeat_sent + 1500ms);
}

TEST_F(ArbiterTest, APlannedHandoverGivesTheKeyUpBeforeTheTakeOver) {
  make_arbitrated_active();
  ASSERT_TRUE(core_->on_follower_start(1, peer(proto::ROLE_STANDBY, 500), now()));
  core_->begin_handover([](Result<std::string>) {}, now());
  EXPECT_EQ(fx_.resigns, 1);
  EXPECT_EQ(fx_.kinds(1).find('t'), std::string::npos);
  advance(50ms);
  echo_heartbeats();
  core_->on_resigned({}, now());
  EXPECT_NE(fx_.kinds(1).find('t'), std::string::npos);
  EXPECT_FALSE(core_->status(now()).holding_key);
  EXPECT_EQ(core_->role(), Role::active);  // until the standby reports its promotion
  proto::FollowerMessage promoted;
  *promoted.mutable_promoted() = peer(proto::ROLE_ACTIVE, 520);
  core_->on_follower_message(1, promoted, now());
  EXPECT_EQ(core_->role(), Role::standby);
}

TEST_F(ArbiterTest, AHandoverThatFailsAfterTheResignWinsTheKeyBack) {
  make_arbitrated_active();
  ASSERT_TRUE(core_->on_follower_start(1, peer(proto::ROLE_STANDBY, 500), now()));
  core_->begin_handover([](Result<std::string>) {}, now());
  core_->on_resigned({}, now());
  core_->on_follower_gone(1, now());
  ASSERT_EQ(fx_.handovers.size(), 1u);
  EXPECT_EQ(fx_.handovers[0].code(), Errc::unavailable);
  EXPECT_EQ(fx_.campaigns, 2);  // reclaim
  core_->on_campaign_result(fail(Errc::busy, "held by node-b"), now());
  EXPECT_EQ(core_->role(), Role::standby);  // the standby has it: we must not serve
}

TEST_F(ArbiterTest, TheStandbyTakesOverOnlyWithTheKeyThenReports) {
  make(with_arbiter());
  core_->on_peer_info(peer(proto::ROLE_ACTIVE, 500), now());
  ASSERT_TRUE(core_->should_follow(now()));
  core_->on_following(now());
  proto::LeaderMessage take;
  *take.mutable_take_over() = peer(proto::ROLE_ACTIVE, 500);
  leader_says(take);
  EXPECT_EQ(fx_.campaigns, 1);
  EXPECT_EQ(core_->role(), Role::standby);
  core_->on_lease(now() + 1700ms, now());
  core_->on_campaign_result(520, now());
  EXPECT_EQ(core_->role(), Role::active);
  EXPECT_EQ(core_->epoch(), 520u);
  ASSERT_FALSE(fx_.to_leader.empty());
  EXPECT_TRUE(fx_.to_leader.back().has_promoted());
}

TEST_F(ArbiterTest, TheStandbyEchoesEveryHeartbeat) {
  make(with_arbiter());
  core_->on_peer_info(peer(proto::ROLE_ACTIVE, 500), now());
  core_->on_following(now());
  proto::LeaderMessage hb;
  *hb.mutable_heartbeat()->mutable_node() = peer(proto::ROLE_ACTIVE, 500);
  hb.mutable_heartbeat()->set_beat(42);
  leader_says(hb);
  ASSERT_FALSE(fx_.to_leader.empty());
  EXPECT_EQ(fx_.to_leader.back().heard(), 42u);
  run_for(1900ms);
  EXPECT_EQ(fx_.campaigns, 0);  // it heard the active: no campaign before hold_time
}

}  // namespace
}  // namespace tandem::replication
