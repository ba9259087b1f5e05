#include "replication/role_machine.hpp"

#include <algorithm>
#include <tuple>

namespace tandem::replication {

RoleMachine::RoleMachine(Identity self, std::uint64_t epoch, Duration hold_time, TimePoint now)
    : self_(std::move(self)), epoch_(epoch), hold_time_(hold_time), last_heard_(now) {}

bool RoleMachine::stronger_than(const PeerState& peer) const {
  return std::tie(epoch_, self_.priority, self_.node_id) >
         std::tie(peer.epoch, peer.identity.priority, peer.identity.node_id);
}

Action RoleMachine::on_tick(TimePoint now) {
  if (role_ == Role::standby && now - last_heard_ >= hold_time_) return Action::promote;
  return Action::none;
}

Action RoleMachine::on_peer(const PeerState& peer, TimePoint now) {
  highest_seen_ = std::max(highest_seen_, peer.epoch);
  if (role_ == Role::active) {
    // Fencing: two actives means one of them is stale; the weaker steps down at once.
    if (peer.active && !stronger_than(peer)) return Action::step_down;
    return Action::none;
  }
  if (peer.active) {
    last_heard_ = now;
    peer_is_active_ = true;
    epoch_ = std::max(epoch_, peer.epoch);  // a follower lives in its active's epoch
    return Action::none;
  }
  // While we follow a live active, a message saying the peer is a standby is stale (sent before
  // it promoted): no election.
  if (peer_is_active_ && now - last_heard_ < hold_time_) return Action::none;
  // Both standby (the pair is starting): the stronger one takes the role, the other waits.
  peer_is_active_ = false;
  return stronger_than(peer) ? Action::promote : Action::none;
}

Action RoleMachine::on_peer_refused(TimePoint) {
  // Refused means the peer's host answered and nothing listens: the process is down. A standby
  // that was following it need not wait out the hold time.
  if (role_ == Role::standby && peer_is_active_) return Action::promote;
  return Action::none;
}

Action RoleMachine::on_handover(TimePoint) {
  return role_ == Role::standby ? Action::promote : Action::none;
}

void RoleMachine::promoted(std::uint64_t epoch) {
  role_ = Role::active;
  epoch_ = epoch;
  highest_seen_ = std::max(highest_seen_, epoch);
  peer_is_active_ = false;
}

void RoleMachine::stepped_down(TimePoint now) {
  role_ = Role::standby;
  peer_is_active_ = true;  // the peer that made us step down is the active now
  last_heard_ = now;       // and it gets a full hold time before we doubt it
}

}  // namespace tandem::replication
