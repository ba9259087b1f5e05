#pragma once
// Who serves: the role state machine of one node of a member (DESIGN "Roles, epochs, fencing").
// Pure: events in (with the time), one action out; the Replicator carries actions out.
//
//  - A node starts as standby. If the peer is active it follows it; if the peer is a standby too
//    (the pair is starting), the stronger one - higher epoch, then priority, then node id -
//    promotes; if nobody answers for hold_time, it promotes on its own.
//  - A standby promotes when the active has been silent for hold_time, at once when the
//    active's process is known to be gone (its port refuses connections), or when the active
//    hands over on purpose.
//  - An active that learns of an active peer with a higher epoch (or the same epoch and a
//    stronger identity) steps down at once.
// Promotion always takes epoch = max(every epoch seen) + 1, so epochs never repeat.
#include <cstdint>
#include <string>

#include "base/clock.hpp"
#include "base/role.hpp"

namespace tandem::replication {

// The machine moves between Role::standby and Role::active; a standalone node has no machine.
using tandem::Role;

struct Identity {
  std::string node_id;
  std::uint32_t priority = 100;
};

struct PeerState {
  Identity identity;
  bool active = false;
  std::uint64_t epoch = 0;
};

enum class Action { none, promote, step_down };

class RoleMachine {
 public:
  RoleMachine(Identity self, std::uint64_t epoch, Duration hold_time, TimePoint now);

  Role role() const { return role_; }
  std::uint64_t epoch() const { return epoch_; }
  // The epoch a promotion now would take.
  std::uint64_t next_epoch() const { return std::max(epoch_, highest_seen_) + 1; }

  Action on_tick(TimePoint now);
  // Anything the peer said about itself: a heartbeat, a Hello answer, a Follow start.
  Action on_peer(const PeerState& peer, TimePoint now);
  // The peer's port refused the connection: its process is not running.
  Action on_peer_refused(TimePoint now);
  // The active handed over on purpose (everything it had is acknowledged).
  Action on_handover(TimePoint now);

  // The caller carried out the action.
  void promoted(std::uint64_t epoch);
  void stepped_down(TimePoint now);

  bool peer_alive(TimePoint now) const { return now - last_heard_ < hold_time_; }
  // This node itself did not run for a while (frozen, starved): silence it did not witness is no
  // evidence against the peer, which gets a full hold time again.
  void restart_hold(TimePoint now) { last_heard_ = now; }
  // A standby believes the peer is the active (it heard so and has not given up on it).
  bool peer_is_active() const { return peer_is_active_; }

 private:
  bool stronger_than(const PeerState& peer) const;

  Identity self_;
  Role role_ = Role::standby;
  std::uint64_t epoch_;
  std::uint64_t highest_seen_ = 0;
  Duration hold_time_;
  TimePoint last_heard_;  // last sign of life of an active peer (or start-up)
  bool peer_is_active_ = false;
};

}  // namespace tandem::replication
