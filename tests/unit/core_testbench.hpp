#pragma once
// The replication core's test bench: a recorder of every effect, records and peers as a real
// pair makes them, and a fixture with a fake clock over a real RocksDB store.
#include <gtest/gtest.h>

#include "replication/core.hpp"
#include "tests/unit/temp_dir.hpp"

namespace tandem::replication::testbench {

using namespace std::chrono_literals;

struct Recorder final : CoreEffects {
  std::vector<std::pair<StreamId, proto::LeaderMessage>> to_follower;
  std::vector<StreamId> closed;
  std::vector<proto::FollowerMessage> to_leader;
  int stopped_following = 0;
  std::vector<Persisted> acks;
  std::vector<std::uint64_t> active_epochs;
  std::vector<std::pair<std::uint64_t, bool>> standby;  // epoch, handover
  std::vector<proto::SessionRecord> upserts;
  std::vector<std::uint64_t> removes;
  std::vector<std::size_t> resets;  // sizes
  std::vector<Result<std::string>> handovers;
  int reclaimed = 0;

  void send_to_follower(StreamId id, proto::LeaderMessage msg) override {
    to_follower.emplace_back(id, std::move(msg));
  }
  void close_follower(StreamId id) override { closed.push_back(id); }
  void send_to_leader(proto::FollowerMessage msg) override { to_leader.push_back(std::move(msg)); }
  void stop_following() override { ++stopped_following; }
  void acknowledge(Acked acked, Persisted where) override {
    acks.push_back(where);
    if (acked) acked(where);
  }
  void become_active(std::uint64_t epoch, std::uint64_t,
                     std::vector<proto::SessionRecord>) override {
    active_epochs.push_back(epoch);
  }
  void become_standby(std::uint64_t epoch, bool handover) override {
    standby.emplace_back(epoch, handover);
  }
  void reclaim_addresses(std::vector<proto::SessionRecord>) override { ++reclaimed; }
  int campaigns = 0, resigns = 0;
  std::vector<TimePoint> deadlines;
  void campaign() override { ++campaigns; }
  void resign() override { ++resigns; }
  void serving_deadline(TimePoint d) override { deadlines.push_back(d); }
  void replica_upsert(const proto::SessionRecord& r) override { upserts.push_back(r); }
  void replica_remove(std::uint64_t index) override { removes.push_back(index); }
  void replica_reset(std::vector<proto::SessionRecord> records) override {
    resets.push_back(records.size());
  }
  void handover_finished(HandoverDone done, Result<std::string> r) override {
    handovers.push_back(r);
    if (done) done(r);
  }

  // Kinds of the messages sent to follower `id`, in order: 'h'eartbeat, 'c'hange, 's'napshot,
  // 't'ake-over.
  std::string kinds(StreamId id) const {
    std::string out;
    for (const auto& [to, m] : to_follower) {
      if (to != id) continue;
      out += m.has_heartbeat() ? 'h' : m.has_change() ? 'c' : m.has_snapshot() ? 's' : 't';
    }
    return out;
  }
};

inline proto::SessionRecord record(std::uint64_t index) {
  proto::SessionRecord r;
  r.set_index(index);
  r.set_username("user" + std::to_string(index));
  r.set_assigned_ipv4(0x0a4d0000u + static_cast<std::uint32_t>(index));
  r.set_token_hash(std::string(32, 'h'));
  return r;
}

inline proto::NodeInfo peer(proto::Role role, std::uint64_t epoch, std::uint64_t last_seq = 0,
                     std::uint64_t last_epoch = 0) {
  proto::NodeInfo n;
  n.set_node_id("node-b");
  n.set_role(role);
  n.set_epoch(epoch);
  n.set_priority(100);
  n.set_last_sequence(last_seq);
  n.set_last_epoch(last_epoch);
  return n;
}

// Changes as a real active's store makes them.
inline std::vector<proto::Change> changes_from_an_active(const std::string& dir, int n,
                                                  std::uint64_t epoch = 3) {
  auto store = SessionStore::open(dir);
  std::vector<proto::Change> out;
  for (int i = 1; i <= n; ++i)
    out.push_back(*(*store)->record_upsert(record(static_cast<std::uint64_t>(i)), epoch, true));
  return out;
}

class CoreTest : public ::testing::Test {
 protected:
  void make(CoreSettings s = {}) {
    if (s.node_id.empty()) s.node_id = "node-a";
    auto store = SessionStore::open(dir_.sub(s.node_id));
    ASSERT_TRUE(store.ok()) << store.error();
    core_ = std::make_unique<ReplicationCore>(s, std::move(*store), fx_, clock_.now());
    core_->start(clock_.now());
  }
  TimePoint now() const { return clock_.now(); }
  void advance(Duration d) {
    clock_.advance(d);
    core_->tick(clock_.now());
  }
  // Time passing as it does for a running node: a tick every 50 ms.
  void run_for(Duration d) {
    for (Duration done{0}; done < d; done += Duration{50}) advance(Duration{50});
  }
  // Makes this node the active of a fresh pair (alone at start-up) with follower stream 1.
  void make_active_with_follower(CoreSettings s = {}) {
    make(s);
    advance(2s);
    ASSERT_EQ(core_->role(), Role::active);
    ASSERT_TRUE(core_->on_follower_start(1, peer(proto::ROLE_STANDBY, core_->epoch()), now()));
  }
  void ack(std::uint64_t seq) {
    proto::FollowerMessage m;
    m.set_ack(seq);
    core_->on_follower_message(1, m, now());
  }
  // The standby side following an active peer at epoch `epoch`.
  void make_following(std::uint64_t epoch = 3) {
    make();
    core_->on_peer_info(peer(proto::ROLE_ACTIVE, epoch), now());
    ASSERT_TRUE(core_->should_follow(now()));
    core_->on_following(now());
  }
  void leader_says(const proto::LeaderMessage& m) { core_->on_leader_message(m, now()); }

  testing::TempDir dir_;
  FakeClock clock_;
  Recorder fx_;
  std::unique_ptr<ReplicationCore> core_;
};

}  // namespace tandem::replication::testbench
