// The replication core's roles: start, time, promotion, step-down, the peer's life, and what
// the core reports. The active's stream is in core_leader.cpp, the standby's in core_follower.cpp.
#include "replication/core.hpp"

#include <utility>
#include <algorithm>

#include "base/log.hpp"

namespace tandem::replication {

const char* to_string(PromotionReason r) noexcept {
  switch (r) {
    case PromotionReason::standalone:
      return "standalone node";
    case PromotionReason::elected:
      return "elected at start-up";
    case PromotionReason::alone_at_start:
      return "no peer answered at start-up";
    case PromotionReason::peer_silent:
      return "the active was silent for hold_time";
    case PromotionReason::peer_process_gone:
      return "the active's process is gone";
    case PromotionReason::planned_handover:
      return "planned handover";
  }
  return "?";
}

bool is_failover(PromotionReason r) noexcept {
  return r == PromotionReason::peer_silent || r == PromotionReason::peer_process_gone ||
         r == PromotionReason::planned_handover;
}

const char* to_string(StepDownReason r) noexcept {
  switch (r) {
    case StepDownReason::higher_epoch_active:
      return "a peer with a higher epoch is active";
    case StepDownReason::handed_over:
      return "planned handover";
    case StepDownReason::arbiter_lost:
      return "the arbiter's key is no longer ours";
  }
  return "?";
}

const char* to_string(PeerLink p) noexcept {
  switch (p) {
    case PeerLink::none:
      return "none";
    case PeerLink::standby_connected:
      return "standby connected";
    case PeerLink::no_standby:
      return "no standby";
    case PeerLink::following:
      return "following";
    case PeerLink::connecting:
      return "connecting";
    case PeerLink::unreachable:
      return "unreachable";
  }
  return "?";
}

ReplicationCore::ReplicationCore(CoreSettings settings, std::unique_ptr<SessionStore> store,
                                 CoreEffects& effects, TimePoint now)
    : settings_(std::move(settings)),
      store_(std::move(store)),
      fx_(effects),
      machine_({settings_.node_id, settings_.priority}, store_->epoch(), settings_.hold_time, now) {
  report_quarantine();  // before a promotion can remove them
}

ReplicationCore::~ReplicationCore() = default;

void ReplicationCore::start(TimePoint now) {
  started_ = true;
  if (settings_.standalone) promote(PromotionReason::standalone, now);
}

void ReplicationCore::tick(TimePoint now) {
  if (!started_ || settings_.standalone) return;
  // Ticks come every 20-100 ms. A much longer pause means this node was frozen or starved: the
  // silence it measured is its own, not the peer's.
  if (last_tick_ != TimePoint{} && now - last_tick_ > settings_.hold_time / 2) {
    log::warn("node_stalled", {{"for_ms", std::to_string((now - last_tick_).count())}});
    machine_.restart_hold(now);
  }
  last_tick_ = now;
  check_serving(now);
  apply(machine_.on_tick(now),
        machine_.peer_is_active() ? PromotionReason::peer_silent : PromotionReason::alone_at_start,
        now);
  // A client waits for a connected standby only so long. Then the change is not claimed: a
  // client told of it could lose it to a failover. (A standby that is stuck for good is dropped
  // by the link's keepalive; without a standby, changes are answered at once as local only.)
  while (!waiters_.empty() && waiters_.front().deadline <= now) {
    fx_.acknowledge(std::move(waiters_.front().acked), Persisted::failed);
    waiters_.pop_front();
    if (!degraded_)
      log::warn("replication_degraded", {{"reason", "standby acknowledgement timed out"}});
    degraded_ = true;
  }
  if (draining_ && now >= handover_deadline_)
    handover_failed(fail(Errc::timeout, "the standby did not take over in time; still active"),
                    now);
  send_heartbeat(now);
}

void ReplicationCore::shutdown() {
  fail_waiters();
  if (draining_) {
    draining_ = false;
    finish_handover(fail(Errc::unavailable, "the node is stopping"));
  }
  if (follower_) fx_.close_follower(follower_->id);
  follower_.reset();
  if (following_) fx_.stop_following();
  following_ = false;
  started_ = false;
}

Role ReplicationCore::role() const {
  if (settings_.standalone) return started_ ? Role::standalone : Role::standby;
  return machine_.role();
}

void ReplicationCore::apply(Action action, PromotionReason why_promote, TimePoint now) {
  if (action == Action::promote) {
    // With an arbiter, the right to serve comes from etcd, not from the peer's silence.
    if (settings_.arbiter)
      request_campaign(why_promote, now);
    else
      promote(why_promote, now);
  } else if (action == Action::step_down)
    step_down(StepDownReason::higher_epoch_active, now);
}

void ReplicationCore::promote(PromotionReason why, TimePoint now, std::uint64_t epoch_floor) {
  if (machine_.role() == Role::active) return;
  // What we applied is served from now on: on disk first.
  if (std::exchange(unsynced_seq_, 0) != 0) {
    if (auto r = store_->sync(); !r)
      log::error("store_sync_failed", {{"reason", r.error()}, {"code", to_string(r.code())}});
  }
  // With an arbiter the epoch is the revision of the key we won, unless the history has already
  // passed it (an etcd started afresh): epochs never move back.
  const std::uint64_t epoch = std::max(machine_.next_epoch(), epoch_floor);
  if (epoch > kMaxEpoch) {
    log::error("promotion_refused", {{"reason", "epoch past its ceiling"}});
    return;
  }
  if (auto r = store_->set_epoch(epoch); !r) {
    log::error("promotion_failed", {{"reason", r.error()}});
    return;
  }
  if (is_failover(why)) ++failovers_;
  machine_.promoted(epoch);
  pending_snapshot_.reset();
  // After a take-over the stream stays open for our promotion report; the old active ends it.
  if (following_ && why != PromotionReason::planned_handover) fx_.stop_following();
  following_ = false;
  remove_quarantined(epoch);
  degraded_ = !settings_.standalone;  // until a standby follows us
  draining_ = false;
  log::warn("role_change", {{"role", settings_.standalone ? "standalone" : "active"},
                            {"epoch", std::to_string(epoch)},
                            {"reason", to_string(why)},
                            {"node", settings_.node_id},
                            {"last_sequence", std::to_string(store_->last_sequence())}});
  auto sessions = store_->load_sessions();
  fx_.become_active(epoch, store_->next_session_index(),
                    sessions ? std::move(*sessions) : std::vector<proto::SessionRecord>{});
  (void)now;
}

void ReplicationCore::raise_epoch_above(std::uint64_t peer_epoch) {
  // A standby that promoted and died before we heard of it comes back with a higher epoch than
  // ours, and rightly refuses a leader behind it. The active, which never stopped serving, moves
  // its epoch past it; that also fences whatever that node wrote in its short-lived epoch.
  const std::uint64_t epoch = std::max(machine_.next_epoch(), peer_epoch + 1);
  if (epoch > kMaxEpoch) return;
  if (auto r = store_->set_epoch(epoch); !r) {
    log::error("epoch_raise_failed", {{"reason", r.error()}});
    return;
  }
  machine_.promoted(epoch);
  log::warn("epoch_raised", {{"epoch", std::to_string(epoch)},
                             {"reason", "the standby comes back from a newer epoch"}});
}

void ReplicationCore::step_down(StepDownReason why, TimePoint now) {
  if (machine_.role() != Role::active || settings_.standalone) return;
  // During a handover the new active's word can arrive before its promotion report: that is the
  // handover completing, not a conflict.
  const bool handover = why == StepDownReason::handed_over || draining_;
  if (draining_) {
    draining_ = false;
    finish_handover(std::string("handed over to the standby (it is active now)"));
  }
  machine_.stepped_down(now);
  holding_key_ = false;
  witness_deadline_ = {};
  if (settings_.arbiter) {
    told_deadline_ = {};
    fx_.serving_deadline({});
  }
  if (follower_) fx_.close_follower(follower_->id);
  follower_.reset();
  fail_waiters();
  log::warn("role_change", {{"role", "standby"},
                            {"epoch", std::to_string(machine_.epoch())},
                            {"reason", to_string(why)},
                            {"node", settings_.node_id}});
  fx_.become_standby(machine_.epoch(), handover);
}

void ReplicationCore::fail_waiters() {
  // The new active may not have these changes: their clients must not be told they happened.
  for (auto& w : waiters_) fx_.acknowledge(std::move(w.acked), Persisted::failed);
  waiters_.clear();
  unacked_.clear();
}

void ReplicationCore::finish_handover(Result<std::string> result) {
  if (!handover_done_) return;
  auto done = std::move(handover_done_);
  handover_done_ = nullptr;
  fx_.handover_finished(std::move(done), std::move(result));
}

void ReplicationCore::on_peer_info(const proto::NodeInfo& peer, TimePoint now) {
  if (settings_.standalone || !started_) return;
  peer_answers_ = true;
  // A peer that claims an epoch no real history reaches is lying or broken: believing it would
  // fence us and wrap the epoch for good.
  if (peer.epoch() > kMaxEpoch || peer.last_epoch() > peer.epoch()) {
    log::error("peer_refused", {{"reason", "epoch out of range"},
                                {"epoch", std::to_string(peer.epoch())},
                                {"peer", peer.node_id()}});
    return;
  }
  const bool active = peer.role() == proto::ROLE_ACTIVE;
  PeerState p{{peer.node_id(), peer.priority()}, active, peer.epoch()};
  apply(machine_.on_peer(p, now), PromotionReason::elected, now);
}

void ReplicationCore::on_peer_refused(TimePoint now) {
  if (settings_.standalone || !started_) return;
  peer_answers_ = false;
  apply(machine_.on_peer_refused(now), PromotionReason::peer_process_gone, now);
}

void ReplicationCore::on_peer_unreachable(TimePoint) { peer_answers_ = false; }

void ReplicationCore::report_quarantine() {
  for (const auto& row : store_->quarantined()) {
    if (!reported_quarantine_.insert(row.index).second) continue;
    log::error("session_row_quarantined", {{"index", std::to_string(row.index)},
                                           {"reason", row.reason},
                                           {"detail", "the session is skipped; a copy is kept"}});
  }
}

void ReplicationCore::remove_quarantined(std::uint64_t epoch) {
  // The active's word is the member's history: a session it cannot read is removed there, so the
  // standby drops it too and its address is never handed out twice.
  for (const auto& row : store_->quarantined()) {
    auto change = store_->record_remove(row.index, epoch, /*durable=*/true);
    if (!change) {
      log::error("store_write_failed",
                 {{"index", std::to_string(row.index)}, {"reason", change.error()}});
      continue;
    }
    log::warn("quarantined_session_removed", {{"index", std::to_string(row.index)}});
    if (follower_)
      send([&] {
        proto::LeaderMessage m;
        *m.mutable_change() = *change;
        return m;
      }());
  }
}

Result<std::vector<proto::SessionRecord>> ReplicationCore::stored_sessions() {
  auto rows = store_->load_sessions();
  report_quarantine();
  return rows;
}

proto::NodeInfo ReplicationCore::self_info() const {
  proto::NodeInfo n;
  n.set_node_id(settings_.node_id);
  const Role r = role();
  n.set_role(r == Role::active       ? proto::ROLE_ACTIVE
             : r == Role::standalone ? proto::ROLE_STANDALONE
                                     : proto::ROLE_STANDBY);
  n.set_epoch(machine_.epoch());
  n.set_priority(settings_.priority);
  n.set_last_sequence(store_->position().sequence);
  n.set_last_epoch(store_->position().epoch);
  n.set_accepting_logins(serves(r) && !draining_);
  n.set_want_snapshot(!store_->quarantined().empty());
  return n;
}

CoreStatus ReplicationCore::status(TimePoint now) const {
  CoreStatus s;
  s.role = role();
  s.epoch = machine_.epoch();
  s.last_sequence = store_->last_sequence();
  s.failovers = failovers_;
  s.accepting_logins = serves(s.role) && !draining_;
  if (settings_.standalone) return s;
  s.arbiter = settings_.arbiter;
  s.holding_key = holding_key_;
  if (s.role == Role::active && settings_.arbiter)
    s.serving_left = std::max(Duration{0}, serving_until() - now);
  if (s.role == Role::active) {
    s.peer = follower_ ? PeerLink::standby_connected : PeerLink::no_standby;
    s.degraded = !follower_ || degraded_;
    if (follower_) s.lag_sequence = s.last_sequence - std::min(s.last_sequence, follower_->acked);
    if (!unacked_.empty()) s.lag = std::max(Duration{0}, now - unacked_.begin()->second);
  } else {
    s.peer = following_      ? PeerLink::following
             : peer_answers_ ? PeerLink::connecting
                             : PeerLink::unreachable;
    s.lag_sequence = leader_last_sequence_ - std::min(leader_last_sequence_, s.last_sequence);
  }
  return s;
}

}  // namespace tandem::replication
