// The standby's side of the replication stream: applying changes in order, installing a
// snapshot from its chunks, acknowledging what is on disk, and taking over when the active
// hands over. Everything the active sends that sizes or indexes something is range-checked.
#include "base/log.hpp"
#include "replication/core.hpp"

namespace tandem::replication {
namespace {

constexpr std::uint64_t kMaxSequence = std::uint64_t{1} << 62;

// Why a record from the active cannot be taken, or empty.
std::string check_record(const proto::SessionRecord& r) {
  if (r.index() == 0 || r.index() >= kMaxSessionIndex) return "session index out of range";
  if (r.token_hash().size() != 32) return "token hash is not 32 bytes";
  return {};
}

}  // namespace

bool ReplicationCore::should_follow(TimePoint now) const {
  return started_ && !settings_.standalone && machine_.role() == Role::standby &&
         machine_.peer_is_active() && !following_ && now >= follow_not_before_;
}

void ReplicationCore::end_following(const char* why) {
  // A pause before the next attempt: a failure that repeats (a full disk, a bad record) must not
  // turn into a tight reconnect loop.
  log::warn("follow_stopped", {{"reason", why}});
  end_pending_ = true;
  unsynced_seq_ = 0;  // never acknowledged: the next stream starts from what our log holds
  pending_snapshot_.reset();
  fx_.stop_following();
}

proto::FollowerMessage ReplicationCore::follow_start() const {
  proto::FollowerMessage m;
  *m.mutable_start() = self_info();
  return m;
}

void ReplicationCore::on_following(TimePoint) {
  following_ = true;
  pending_snapshot_.reset();
}

void ReplicationCore::on_follow_ended(TimePoint now) {
  following_ = false;
  pending_snapshot_.reset();
  if (end_pending_) follow_not_before_ = now + Duration{1000};
  end_pending_ = false;
}

void ReplicationCore::on_leader_message(const proto::LeaderMessage& msg, TimePoint now) {
  if (!following_ || end_pending_ || machine_.role() != Role::standby) return;
  switch (msg.kind_case()) {
    case proto::LeaderMessage::kHeartbeat:
      // A leader behind the epoch this node has seen is stale: following it would take changes
      // the member's history may not have.
      if (msg.heartbeat().node().epoch() < store_->epoch()) {
        log::warn("leader_refused", {{"its_epoch", std::to_string(msg.heartbeat().node().epoch())},
                                     {"our_epoch", std::to_string(store_->epoch())}});
        return end_following("the active is behind our epoch");
      }
      leader_last_sequence_ = std::min(msg.heartbeat().node().last_sequence(), kMaxSequence);
      on_peer_info(msg.heartbeat().node(), now);
      if (msg.heartbeat().beat() != 0) {
        proto::FollowerMessage heard;
        heard.set_heard(msg.heartbeat().beat());
        fx_.send_to_leader(std::move(heard));
      }
      break;
    case proto::LeaderMessage::kChange:
      apply_change(msg.change());
      break;
    case proto::LeaderMessage::kSnapshot:
      add_snapshot_chunk(msg.snapshot());
      break;
    case proto::LeaderMessage::kTakeOver:
      take_over(now);
      break;
    default:
      log::warn("leader_message_ignored", {{"reason", "unexpected message kind"}});
  }
}

void ReplicationCore::apply_change(const proto::Change& change) {
  std::string bad;
  if (change.epoch() > kMaxEpoch) bad = "epoch out of range";
  if (change.has_upsert()) bad = check_record(change.upsert());
  if (!bad.empty()) {
    log::error("replication_change_refused",
               {{"seq", std::to_string(change.seq())}, {"reason", bad}});
    return end_following("a change out of range");
  }
  auto r = store_->apply(change, /*sync=*/!settings_.defer_acks);
  if (!r) {
    // A gap, a duplicate, a stale epoch or a disk error: reconnect, and the start message tells
    // the active where our log really ends.
    log::warn("replication_apply_failed", {{"seq", std::to_string(change.seq())},
                                           {"code", to_string(r.code())},
                                           {"reason", r.error()}});
    return end_following("a change could not be applied");
  }
  if (change.has_upsert())
    fx_.replica_upsert(change.upsert());
  else
    fx_.replica_remove(change.remove_index());
  if (settings_.defer_acks)
    unsynced_seq_ = change.seq();  // acknowledged at flush_acks(), after one sync for all
  else
    send_ack(change.seq());
}

void ReplicationCore::flush_acks() {
  const std::uint64_t seq = std::exchange(unsynced_seq_, 0);
  if (seq == 0 || !following_) return;
  if (auto r = store_->sync(); !r) {
    log::warn("replication_apply_failed",
              {{"seq", std::to_string(seq)}, {"code", to_string(r.code())}, {"reason", r.error()}});
    return end_following("the applied changes could not be synced");
  }
  send_ack(seq);
}

void ReplicationCore::add_snapshot_chunk(const proto::Snapshot& chunk) {
  if (!pending_snapshot_) pending_snapshot_.emplace();
  Snapshot& snap = *pending_snapshot_;
  std::string bad;
  if (snap.sessions.size() + static_cast<std::size_t>(chunk.sessions_size()) > kMaxSnapshotSessions)
    bad = "snapshot larger than " + std::to_string(kMaxSnapshotSessions) + " sessions";
  for (const auto& r : chunk.sessions()) {
    if (!bad.empty()) break;
    bad = check_record(r);
  }
  if (bad.empty() && chunk.last()) {
    if (chunk.epoch() > kMaxEpoch || chunk.last_epoch() > chunk.epoch())
      bad = "snapshot epoch out of range";
    else if (chunk.next_session_index() > kMaxSessionIndex)
      bad = "next session index out of range";
    else if (chunk.last_sequence() > kMaxSequence)
      bad = "snapshot position out of range";
  }
  if (!bad.empty()) {
    log::error("snapshot_refused", {{"reason", bad}});
    return end_following("a snapshot out of range");
  }
  for (const auto& r : chunk.sessions()) snap.sessions.push_back(r);
  if (!chunk.last()) return;
  snap.position = {chunk.last_sequence(), chunk.last_epoch()};
  snap.epoch = chunk.epoch();
  snap.next_session_index = chunk.next_session_index();
  auto r = store_->install_snapshot(snap);
  if (!r) {
    log::error("snapshot_install_failed", {{"code", to_string(r.code())}, {"reason", r.error()}});
    return end_following("the snapshot could not be installed");
  }
  log::info("replication_snapshot_installed",
            {{"sessions", std::to_string(snap.sessions.size())},
             {"sequence", std::to_string(snap.position.sequence)}});
  fx_.replica_reset(std::move(snap.sessions));
  pending_snapshot_.reset();
  send_ack(chunk.last_sequence());
}

void ReplicationCore::take_over(TimePoint now) {
  if (machine_.on_handover(now) != Action::promote) return;
  if (settings_.arbiter) return request_campaign(PromotionReason::planned_handover, now);
  promote(PromotionReason::planned_handover, now);
  report_promotion();
}

void ReplicationCore::report_promotion() {
  if (machine_.role() != Role::active) return;
  // The old active reads this, steps down and resets its clients, which come back to us: the
  // address is ours already (become_active took it before this returns).
  proto::FollowerMessage promoted;
  *promoted.mutable_promoted() = self_info();
  fx_.send_to_leader(std::move(promoted));
}

void ReplicationCore::send_ack(std::uint64_t seq) {
  proto::FollowerMessage ack;
  ack.set_ack(seq);
  fx_.send_to_leader(std::move(ack));
}

}  // namespace tandem::replication
