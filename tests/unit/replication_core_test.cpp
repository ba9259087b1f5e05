// The replication core, event by event, on a fake clock and a real RocksDB store: every role
// transition, the active's and the standby's side of the stream, the handover, and the faults a
// pair must survive (a silent or dead peer, a lying peer, a lost or stuck standby, bad input).
#include <gtest/gtest.h>

#include "tests/unit/core_testbench.hpp"

namespace tandem::replication {
namespace {

using namespace testbench;

// ---- Roles ----------------------------------------------------------------------------------

TEST_F(CoreTest, StandaloneServesAtOnceAndPersists) {
  CoreSettings s;
  s.standalone = true;
  make(s);
  EXPECT_EQ(core_->role(), Role::standalone);
  ASSERT_EQ(fx_.active_epochs, std::vector<std::uint64_t>{1});
  core_->publish_upsert(
      record(1), true, [](Persisted) {}, now());
  EXPECT_EQ(fx_.acks, std::vector<Persisted>{Persisted::local_only});  // nobody else to wait for
  auto rows = core_->stored_sessions();
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows->size(), 1u);
  EXPECT_EQ(core_->status(now()).failovers, 0u);
  EXPECT_FALSE(core_->status(now()).degraded);
}

TEST_F(CoreTest, AloneAtStartPromotesAfterHoldTimeWithoutCountingAFailover) {
  make();
  advance(1900ms);
  EXPECT_EQ(core_->role(), Role::standby);
  EXPECT_TRUE(fx_.active_epochs.empty());
  advance(100ms);
  EXPECT_EQ(core_->role(), Role::active);
  EXPECT_EQ(fx_.active_epochs, std::vector<std::uint64_t>{1});
  EXPECT_EQ(core_->status(now()).failovers, 0u);
  EXPECT_TRUE(core_->status(now()).degraded);  // nobody follows yet
}

TEST_F(CoreTest, StandbyPromotesWhenTheActiveIsSilentForHoldTime) {
  make_following(3);
  run_for(1500ms);
  proto::LeaderMessage hb;
  *hb.mutable_heartbeat()->mutable_node() = peer(proto::ROLE_ACTIVE, 3);
  leader_says(hb);  // a sign of life restarts the hold time
  run_for(1900ms);
  EXPECT_EQ(core_->role(), Role::standby);
  run_for(150ms);
  EXPECT_EQ(core_->role(), Role::active);
  EXPECT_EQ(core_->epoch(), 4u);
  EXPECT_EQ(core_->status(now()).failovers, 1u);
}

TEST_F(CoreTest, AFrozenStandbyDoesNotBlameTheActiveForItsOwnSilence) {
  make_following(3);
  run_for(500ms);
  advance(5s);  // this node did not run for 5 s (SIGSTOP, a starved machine)
  EXPECT_EQ(core_->role(), Role::standby);
  run_for(1500ms);  // the active gets a full hold time to be heard again
  EXPECT_EQ(core_->role(), Role::standby);
  run_for(600ms);  // and if it stays silent, the standby takes over
  EXPECT_EQ(core_->role(), Role::active);
}

TEST_F(CoreTest, AStandbyFromANewerEpochMakesTheActiveRaiseItsEpoch) {
  make();
  advance(2s);
  ASSERT_EQ(core_->epoch(), 1u);
  // It promoted to epoch 2 during a handover and died before we heard; now it is back.
  ASSERT_TRUE(core_->on_follower_start(1, peer(proto::ROLE_STANDBY, 2, 0, 0), now()));
  EXPECT_EQ(core_->role(), Role::active);
  EXPECT_EQ(core_->epoch(), 3u);
  ASSERT_TRUE(fx_.to_follower.front().second.has_heartbeat());
  EXPECT_EQ(fx_.to_follower.front().second.heartbeat().node().epoch(), 3u);
}

TEST_F(CoreTest, AStandbyRefusesALeaderBehindItsEpochAndPausesBeforeRetrying) {
  make();
  core_->on_peer_info(peer(proto::ROLE_ACTIVE, 3), now());
  core_->on_following(now());
  proto::LeaderMessage hb;
  *hb.mutable_heartbeat()->mutable_node() = peer(proto::ROLE_ACTIVE, 3);
  leader_says(hb);
  // Its store saw epoch 5 (it applied a change of epoch 5 before): a leader at 3 is stale.
  auto changes = changes_from_an_active(dir_.sub("active5"), 1, 5);
  proto::LeaderMessage c;
  *c.mutable_change() = changes[0];
  leader_says(c);
  leader_says(hb);
  EXPECT_EQ(fx_.stopped_following, 1);
  core_->on_follow_ended(now());
  EXPECT_FALSE(core_->should_follow(now()));
  clock_.advance(1s);
  EXPECT_TRUE(core_->should_follow(now()));
}

TEST_F(CoreTest, StandbyPromotesAtOnceWhenTheActivesProcessIsGone) {
  make_following(3);
  core_->on_follow_ended(now());
  core_->on_peer_refused(now());
  EXPECT_EQ(core_->role(), Role::active);
  EXPECT_EQ(core_->epoch(), 4u);
  EXPECT_EQ(core_->status(now()).failovers, 1u);
}

TEST_F(CoreTest, UnreachablePeerIsNotADeadProcess) {
  make_following(3);
  core_->on_follow_ended(now());
  core_->on_peer_unreachable(now());
  EXPECT_EQ(core_->role(), Role::standby);
  EXPECT_EQ(core_->status(now()).peer, PeerLink::unreachable);
}

TEST_F(CoreTest, AtStartTheStrongerNodeIsElected) {
  make();
  auto weaker = peer(proto::ROLE_STANDBY, 0);
  weaker.set_priority(50);
  core_->on_peer_info(weaker, now());
  EXPECT_EQ(core_->role(), Role::active);
  EXPECT_EQ(core_->status(now()).failovers, 0u);
}

TEST_F(CoreTest, AtStartTheWeakerNodeWaits) {
  make();
  auto stronger = peer(proto::ROLE_STANDBY, 0);
  stronger.set_priority(200);
  core_->on_peer_info(stronger, now());
  EXPECT_EQ(core_->role(), Role::standby);
}

TEST_F(CoreTest, AnActiveWithAHigherEpochFencesUs) {
  make_active_with_follower();
  Persisted answered = Persisted::replicated;
  core_->publish_upsert(
      record(1), true, [&](Persisted p) { answered = p; }, now());
  core_->on_peer_info(peer(proto::ROLE_ACTIVE, core_->epoch() + 5), now());
  EXPECT_EQ(core_->role(), Role::standby);
  ASSERT_EQ(fx_.standby.size(), 1u);
  EXPECT_FALSE(fx_.standby[0].second);  // not a handover
  // The new active may not have it: the waiting client must not be told it happened.
  EXPECT_EQ(answered, Persisted::failed);
  EXPECT_EQ(fx_.closed, std::vector<StreamId>{1});
}

TEST_F(CoreTest, APeerClaimingAnImpossibleEpochIsRefused) {
  make_active_with_follower();
  const std::uint64_t epoch = core_->epoch();
  core_->on_peer_info(peer(proto::ROLE_ACTIVE, ~std::uint64_t{0}), now());
  EXPECT_EQ(core_->role(), Role::active);
  EXPECT_EQ(core_->epoch(), epoch);
  // A standby that heard the lie does not adopt it either, and can still promote later.
  CoreSettings other;
  other.node_id = "node-c";
  make(other);
  core_->on_peer_info(peer(proto::ROLE_ACTIVE, kMaxEpoch + 1), now());
  EXPECT_FALSE(core_->should_follow(now()));
  advance(2s);
  EXPECT_EQ(core_->role(), Role::active);
  EXPECT_LT(core_->epoch(), kMaxEpoch);
}

// ---- The active's side ----------------------------------------------------------------------

TEST_F(CoreTest, ACaughtUpStandbyGetsAHeartbeatThenEveryChange) {
  make_active_with_follower();
  EXPECT_EQ(fx_.kinds(1), "h");
  Persisted where = Persisted::failed;
  core_->publish_upsert(
      record(1), true, [&](Persisted p) { where = p; }, now());
  EXPECT_EQ(fx_.kinds(1), "hc");
  EXPECT_EQ(core_->status(now()).lag_sequence, 1u);
  advance(50ms);
  EXPECT_EQ(core_->status(now()).lag, 50ms);
  ack(1);
  EXPECT_EQ(where, Persisted::replicated);
  auto st = core_->status(now());
  EXPECT_FALSE(st.degraded);
  EXPECT_EQ(st.lag_sequence, 0u);
  EXPECT_EQ(st.lag, 0ms);
  EXPECT_EQ(st.peer, PeerLink::standby_connected);
}

TEST_F(CoreTest, ABurstIsRecordedAndSentInOrderAndEachWaiterAnswered) {
  make_active_with_follower();
  core_->publish_upsert(record(1), true, nullptr, now());
  ack(1);
  std::vector<std::pair<int, Persisted>> answers;
  auto waiter = [&](int n) { return [&answers, n](Persisted p) { answers.push_back({n, p}); }; };
  std::vector<ReplicationCore::Publication> burst;
  burst.push_back({record(2), 2, true, waiter(2)});
  burst.push_back({std::nullopt, 1, true, waiter(1)});   // the removal of session 1
  burst.push_back({std::nullopt, 9, true, waiter(9)});   // never recorded: nothing to replicate
  burst.push_back({record(3), 3, false, waiter(3)});     // a counter update, not durable
  core_->publish_batch(std::move(burst), now());
  // After session 1's: three changes, in the burst's order (seq 2, 3, 4); the unknown index at once.
  EXPECT_EQ(fx_.kinds(1), "hcccc");
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0], (std::pair<int, Persisted>{9, Persisted::local_only}));
  ack(4);
  ASSERT_EQ(answers.size(), 4u);
  EXPECT_EQ(answers[1].first, 2);
  EXPECT_EQ(answers[2].first, 1);
  EXPECT_EQ(answers[3].first, 3);
  for (std::size_t i = 1; i < 4; ++i) EXPECT_EQ(answers[i].second, Persisted::replicated);
  EXPECT_EQ(core_->status(now()).lag_sequence, 0u);
}

TEST_F(CoreTest, ABurstOnAStandbyIsRefusedWhole) {
  make();
  int failed = 0;
  std::vector<ReplicationCore::Publication> burst;
  for (std::uint64_t i = 1; i <= 3; ++i)
    burst.push_back({record(i), i, true, [&](Persisted p) { failed += p == Persisted::failed; }});
  core_->publish_batch(std::move(burst), now());
  EXPECT_EQ(failed, 3);
}

TEST_F(CoreTest, HeartbeatsFollowTheInterval) {
  CoreSettings s;
  s.heartbeat_interval = 200ms;
  make_active_with_follower(s);
  advance(100ms);
  EXPECT_EQ(fx_.kinds(1), "h");
  advance(100ms);
  EXPECT_EQ(fx_.kinds(1), "hh");
}

TEST_F(CoreTest, AStandbyALittleBehindGetsTheMissingChanges) {
  make();
  advance(2s);
  for (std::uint64_t i = 1; i <= 3; ++i) core_->publish_upsert(record(i), true, nullptr, now());
  ASSERT_TRUE(core_->on_follower_start(1, peer(proto::ROLE_STANDBY, 1, 1, 1), now()));
  EXPECT_EQ(fx_.kinds(1), "hcc");
  EXPECT_EQ(fx_.to_follower[1].second.change().seq(), 2u);
  EXPECT_TRUE(core_->status(now()).degraded);  // until it acknowledges them
  ack(3);
  EXPECT_FALSE(core_->status(now()).degraded);
}

TEST_F(CoreTest, AStandbyFarBehindOrAskingGetsASnapshotInChunks) {
  CoreSettings s;
  s.max_replay = 2;
  s.snapshot_chunk = 2;
  make(s);
  advance(2s);
  for (std::uint64_t i = 1; i <= 5; ++i) core_->publish_upsert(record(i), true, nullptr, now());
  ASSERT_TRUE(core_->on_follower_start(1, peer(proto::ROLE_STANDBY, 0), now()));
  EXPECT_EQ(fx_.kinds(1), "hsss");  // 5 sessions, 2 per chunk
  const auto& last = fx_.to_follower.back().second.snapshot();
  EXPECT_TRUE(last.last());
  EXPECT_EQ(last.last_sequence(), 5u);
  EXPECT_EQ(last.next_session_index(), 6u);

  auto asking = peer(proto::ROLE_STANDBY, 1, 5, 1);
  asking.set_want_snapshot(true);
  ASSERT_TRUE(core_->on_follower_start(2, asking, now()));
  EXPECT_EQ(fx_.kinds(2), "hsss");
  EXPECT_EQ(fx_.closed, std::vector<StreamId>{1});  // the new stream replaced the old one
}

TEST_F(CoreTest, AStandbyOnAnotherHistoryGetsASnapshot) {
  make();
  advance(2s);
  core_->publish_upsert(record(1), true, nullptr, now());
  ASSERT_TRUE(core_->on_follower_start(1, peer(proto::ROLE_STANDBY, 2, 1, 2), now()));
  EXPECT_EQ(fx_.kinds(1), "hs");
}

TEST_F(CoreTest, WithoutAStandbyChangesAreAnsweredAtOnceAndDegraded) {
  make();
  advance(2s);
  Persisted answer = Persisted::failed;
  core_->publish_upsert(
      record(1), true, [&](Persisted p) { answer = p; }, now());
  EXPECT_EQ(answer, Persisted::local_only);
  EXPECT_TRUE(core_->status(now()).degraded);
  EXPECT_EQ(core_->status(now()).peer, PeerLink::no_standby);
}

TEST_F(CoreTest, AnAckThatDoesNotComeInTimeDegradesAndALateOneHeals) {
  CoreSettings s;
  s.ack_timeout = 500ms;
  make_active_with_follower(s);
  std::vector<Persisted> answers;
  core_->publish_upsert(
      record(1), true, [&](Persisted p) { answers.push_back(p); }, now());
  advance(400ms);
  EXPECT_TRUE(answers.empty());
  advance(100ms);
  // Not claimed: a client told of it could lose it to a failover.
  EXPECT_EQ(answers, std::vector<Persisted>{Persisted::failed});
  EXPECT_TRUE(core_->status(now()).degraded);
  ack(1);
  EXPECT_FALSE(core_->status(now()).degraded);
  EXPECT_EQ(answers.size(), 1u);  // answered once only
}

TEST_F(CoreTest, RemovingASessionThatWasNeverRecordedIsANoOp) {
  make();
  advance(2s);
  Persisted answer = Persisted::replicated;
  core_->publish_remove(
      42, [&](Persisted p) { answer = p; }, now());  // no such row: nothing to do
  EXPECT_EQ(answer, Persisted::local_only);
  EXPECT_EQ(core_->role(), Role::active);
}

TEST_F(CoreTest, AStandbyNeverClaimsAChange) {
  make_following();
  Persisted answer = Persisted::replicated;
  core_->publish_upsert(
      record(1), true, [&](Persisted p) { answer = p; }, now());
  EXPECT_EQ(answer, Persisted::failed);
}

TEST_F(CoreTest, AnAckForWhatWasNeverSentDropsTheStandby) {
  make_active_with_follower();
  Persisted answer = Persisted::failed;
  core_->publish_upsert(
      record(1), true, [&](Persisted p) { answer = p; }, now());
  ack(99);
  EXPECT_EQ(fx_.closed, std::vector<StreamId>{1});
  EXPECT_EQ(core_->status(now()).peer, PeerLink::no_standby);
  advance(3s);
  EXPECT_EQ(answer, Persisted::failed);  // never counted as on the standby's disk
}

TEST_F(CoreTest, ALostStandbyLeavesUsDegradedAndServing) {
  make_active_with_follower();
  core_->publish_upsert(record(1), true, nullptr, now());
  core_->on_follower_gone(1, now());
  auto st = core_->status(now());
  EXPECT_EQ(st.role, Role::active);
  EXPECT_TRUE(st.degraded);
  EXPECT_TRUE(st.accepting_logins);
  // A stale stream's words change nothing.
  ack(1);
  EXPECT_TRUE(core_->status(now()).degraded);
}

TEST_F(CoreTest, AStandbyNodeRefusesFollowers) {
  make_following();
  EXPECT_FALSE(core_->on_follower_start(1, peer(proto::ROLE_STANDBY, 0), now()));
}

// ---- Planned handover -----------------------------------------------------------------------

TEST_F(CoreTest, HandoverNeedsAStandby) {
  make();
  advance(2s);
  core_->begin_handover([](Result<std::string>) {}, now());
  ASSERT_EQ(fx_.handovers.size(), 1u);
  EXPECT_EQ(fx_.handovers[0].code(), Errc::unavailable);
  EXPECT_EQ(core_->role(), Role::active);
}

TEST_F(CoreTest, HandoverWaitsForTheStandbyThenHandsOver) {
  make_active_with_follower();
  core_->publish_upsert(record(1), true, nullptr, now());
  core_->begin_handover([](Result<std::string>) {}, now());
  EXPECT_FALSE(core_->status(now()).accepting_logins);  // draining
  EXPECT_EQ(fx_.kinds(1), "hc");                        // not before the standby has it all
  ack(1);
  EXPECT_EQ(fx_.kinds(1), "hct");
  // A second request while one runs is refused.
  core_->begin_handover([](Result<std::string>) {}, now());
  ASSERT_EQ(fx_.handovers.size(), 1u);
  EXPECT_EQ(fx_.handovers[0].code(), Errc::busy);
  proto::FollowerMessage promoted;
  *promoted.mutable_promoted() = peer(proto::ROLE_ACTIVE, core_->epoch() + 1);
  core_->on_follower_message(1, promoted, now());
  EXPECT_EQ(core_->role(), Role::standby);
  ASSERT_EQ(fx_.standby.size(), 1u);
  EXPECT_TRUE(fx_.standby[0].second);  // a handover: clients are reset at once
  ASSERT_EQ(fx_.handovers.size(), 2u);
  ASSERT_TRUE(fx_.handovers[1].ok());
  EXPECT_NE(fx_.handovers[1]->find("handed over to node-b"), std::string::npos);
}

TEST_F(CoreTest, APromotionReportWithoutAHandoverIsRefused) {
  make_active_with_follower();
  proto::FollowerMessage promoted;
  *promoted.mutable_promoted() = peer(proto::ROLE_ACTIVE, core_->epoch() + 1);
  core_->on_follower_message(1, promoted, now());
  EXPECT_EQ(core_->role(), Role::active);
}

TEST_F(CoreTest, TheStandbyLostMidHandoverLeavesUsActive) {
  make_active_with_follower();
  core_->begin_handover([](Result<std::string>) {}, now());
  EXPECT_EQ(fx_.kinds(1), "ht");
  core_->on_follower_gone(1, now());
  ASSERT_EQ(fx_.handovers.size(), 1u);
  EXPECT_EQ(fx_.handovers[0].code(), Errc::unavailable);
  EXPECT_EQ(core_->role(), Role::active);
  EXPECT_TRUE(core_->status(now()).accepting_logins);
  // Told to take over, it may have announced the address before it died: we announce it again.
  EXPECT_EQ(fx_.reclaimed, 1);
}

TEST_F(CoreTest, AStandbyLostBeforeTakeOverLeavesTheAddressAlone) {
  make_active_with_follower();
  core_->publish_upsert(record(1), true, nullptr, now());
  core_->begin_handover([](Result<std::string>) {}, now());
  EXPECT_EQ(fx_.kinds(1), "hc");  // not caught up: no take-over sent yet
  core_->on_follower_gone(1, now());
  EXPECT_EQ(core_->role(), Role::active);
  EXPECT_EQ(fx_.reclaimed, 0);
}

TEST_F(CoreTest, AHandoverThatNeverCompletesTimesOut) {
  CoreSettings s;
  s.handover_timeout = 1s;
  make_active_with_follower(s);
  core_->begin_handover([](Result<std::string>) {}, now());
  advance(1s);
  ASSERT_EQ(fx_.handovers.size(), 1u);
  EXPECT_EQ(fx_.handovers[0].code(), Errc::timeout);
  EXPECT_EQ(core_->role(), Role::active);
  EXPECT_TRUE(core_->status(now()).accepting_logins);
}

TEST_F(CoreTest, ShutdownAnswersEveryoneWaiting) {
  make_active_with_follower();
  Persisted answer = Persisted::replicated;
  core_->publish_upsert(
      record(1), true, [&](Persisted p) { answer = p; }, now());
  core_->begin_handover([](Result<std::string>) {}, now());
  core_->shutdown();
  EXPECT_EQ(answer, Persisted::failed);
  ASSERT_EQ(fx_.handovers.size(), 1u);
  EXPECT_FALSE(fx_.handovers[0].ok());
}

// ---- The standby's side ---------------------------------------------------------------------

TEST_F(CoreTest, WithDeferredAcksABurstIsAcknowledgedOnceAfterTheFlush) {
  CoreSettings s;
  s.defer_acks = true;
  make(s);
  core_->on_peer_info(peer(proto::ROLE_ACTIVE, 3), now());
  ASSERT_TRUE(core_->should_follow(now()));
  core_->on_following(now());
  auto changes = changes_from_an_active(dir_.sub("active"), 3);
  for (const auto& c : changes) {
    proto::LeaderMessage m;
    *m.mutable_change() = c;
    leader_says(m);
  }
  // Applied (the node mirrors them at once), but nothing acknowledged before the sync.
  EXPECT_EQ(fx_.upserts.size(), 3u);
  EXPECT_TRUE(fx_.to_leader.empty());
  EXPECT_TRUE(core_->acks_pending());
  core_->flush_acks();
  ASSERT_EQ(fx_.to_leader.size(), 1u);
  EXPECT_EQ(fx_.to_leader[0].ack(), 3u);
  EXPECT_FALSE(core_->acks_pending());
  core_->flush_acks();  // nothing new: no second ack
  EXPECT_EQ(fx_.to_leader.size(), 1u);
}

TEST_F(CoreTest, TheStandbyAppliesChangesInOrderAndAcknowledges) {
  make_following(3);
  auto changes = changes_from_an_active(dir_.sub("active"), 2);
  for (const auto& c : changes) {
    proto::LeaderMessage m;
    *m.mutable_change() = c;
    leader_says(m);
  }
  ASSERT_EQ(fx_.upserts.size(), 2u);
  ASSERT_EQ(fx_.to_leader.size(), 2u);
  EXPECT_EQ(fx_.to_leader[1].ack(), 2u);
  EXPECT_EQ(core_->self_info().last_sequence(), 2u);
}

TEST_F(CoreTest, AGapEndsTheStreamSoTheStandbyReconnectsFromWhereItIs) {
  make_following(3);
  auto changes = changes_from_an_active(dir_.sub("active"), 2);
  proto::LeaderMessage m;
  *m.mutable_change() = changes[1];
  leader_says(m);
  EXPECT_EQ(fx_.stopped_following, 1);
  EXPECT_TRUE(fx_.upserts.empty());
  EXPECT_TRUE(fx_.to_leader.empty());
}

TEST_F(CoreTest, ARecordWithAnImpossibleIndexIsRefused) {
  make_following(3);
  auto changes = changes_from_an_active(dir_.sub("active"), 1);
  changes[0].mutable_upsert()->set_index(~std::uint64_t{0});
  proto::LeaderMessage m;
  *m.mutable_change() = changes[0];
  leader_says(m);
  EXPECT_EQ(fx_.stopped_following, 1);
  EXPECT_EQ(core_->self_info().last_sequence(), 0u);
}

proto::LeaderMessage snapshot_chunk(std::vector<std::uint64_t> indexes, bool last,
                                    std::uint64_t next_index = 10) {
  proto::LeaderMessage m;
  auto* s = m.mutable_snapshot();
  for (auto i : indexes) *s->add_sessions() = record(i);
  if (last) {
    s->set_last(true);
    s->set_last_sequence(7);
    s->set_last_epoch(3);
    s->set_epoch(3);
    s->set_next_session_index(next_index);
  }
  return m;
}

TEST_F(CoreTest, TheStandbyInstallsASnapshotFromItsChunks) {
  make_following(3);
  leader_says(snapshot_chunk({1, 2}, false));
  EXPECT_TRUE(fx_.resets.empty());
  leader_says(snapshot_chunk({5}, true));
  EXPECT_EQ(fx_.resets, std::vector<std::size_t>{3});
  ASSERT_EQ(fx_.to_leader.size(), 1u);
  EXPECT_EQ(fx_.to_leader[0].ack(), 7u);
  EXPECT_EQ(core_->self_info().last_sequence(), 7u);
}

TEST_F(CoreTest, ASnapshotThatWouldWrapTheIndexIsRefused) {
  make_following(3);
  leader_says(snapshot_chunk({1}, true, ~std::uint64_t{0}));
  EXPECT_TRUE(fx_.resets.empty());
  EXPECT_EQ(fx_.stopped_following, 1);
  EXPECT_EQ(core_->self_info().last_sequence(), 0u);
}

TEST_F(CoreTest, TakeOverPromotesAndReportsOnTheSameStream) {
  make_following(3);
  proto::LeaderMessage m;
  *m.mutable_take_over() = peer(proto::ROLE_ACTIVE, 3);
  leader_says(m);
  EXPECT_EQ(core_->role(), Role::active);
  EXPECT_EQ(core_->epoch(), 4u);
  EXPECT_EQ(fx_.stopped_following, 0);  // the old active ends the call once it has read this
  ASSERT_EQ(fx_.to_leader.size(), 1u);
  ASSERT_TRUE(fx_.to_leader[0].has_promoted());
  EXPECT_EQ(fx_.to_leader[0].promoted().epoch(), 4u);
  EXPECT_EQ(fx_.to_leader[0].promoted().role(), proto::ROLE_ACTIVE);
  EXPECT_EQ(core_->status(now()).failovers, 1u);
}

TEST_F(CoreTest, WordsFromTheLeaderAfterTheStreamEndedAreIgnored) {
  make_following(3);
  core_->on_follow_ended(now());
  leader_says(snapshot_chunk({1}, true));
  EXPECT_TRUE(fx_.resets.empty());
}

}  // namespace
}  // namespace tandem::replication
