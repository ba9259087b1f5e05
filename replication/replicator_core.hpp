#pragma once
// Internal to replication/: the state shared by the replicator's threads (the node's thread
// publishing changes, the control thread ticking the role machine, and the gRPC link's
// leader/follower threads). One mutex guards all of it; see replicator.cpp for the rules and
// grpc_link.cpp for the wire side.
#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "node/common/clock.hpp"
#include "proto/replication.pb.h"
#include "replication/replicator.hpp"
#include "replication/role_machine.hpp"
#include "replication/service_address.hpp"
#include "replication/session_store.hpp"

namespace tandem::replication {

class GrpcLink;  // grpc_link.cpp

// The leader's view of its one connected standby.
struct Follower {
  proto::NodeInfo info;
  std::deque<proto::LeaderMessage> outbound;
  std::uint64_t acked = 0;
  bool gone = false;
  bool take_over_sent = false;
};

struct Replicator::Core {
  Core(const config::Config& config, ReplicatorHost& host, std::unique_ptr<SessionStore> store);

  // --- identity and settings (immutable after construction) ---
  std::string node_id;
  config::Peer peer;
  Duration ack_timeout;
  std::optional<ServiceAddress> service;  // moves with the active role
  std::optional<ServiceAddress> inside;
  std::uint16_t service_port = 0;    // the client-facing listen port
  std::uint32_t listen_address = 0;  // the client-facing listen address (0 = any)
  ReplicatorHost& host;
  SteadyClock clock;

  // --- guarded by mutex ---
  mutable std::mutex mutex;
  std::condition_variable wake;  // leader writer: outbound queue or state changed
  std::unique_ptr<SessionStore> store;
  RoleMachine role;
  std::shared_ptr<Follower> follower;  // leader side, at most one
  struct Waiter {
    std::uint64_t seq;
    TimePoint deadline;
    session::ReplicationSink::Acked acked;
  };
  std::deque<Waiter> waiters;
  std::map<std::uint64_t, std::int64_t> unacked_at_ms;  // seq -> when it was made, for lag
  bool degraded = false;
  bool draining = false;  // planned handover in progress: no new logins
  std::function<void(Result<std::string>)> handover_done;
  std::function<void()> cancel_follow;  // follower side: aborts the current Follow call
  bool following = false;
  bool peer_reachable = false;
  std::uint64_t leader_last_sequence = 0;
  std::uint64_t failovers = 0;
  std::set<std::uint64_t> reported_quarantine;  // quarantined rows already logged

  std::atomic<bool> running{false};
  std::thread control_thread;
  std::thread takeover_thread;
  // Taking and releasing the service address never interleave (see take_service_address).
  std::mutex address_mutex;
  // The epoch whose promotion has put the address up (and announced it); a handover waits for
  // it before reporting the promotion, so the old active resets its clients only then.
  std::mutex address_state_mutex;
  std::condition_variable address_cv;
  std::uint64_t address_taken_epoch = 0;
  std::unique_ptr<GrpcLink> link;

  // --- called with the mutex held ---
  proto::NodeInfo self_info_locked() const;
  void enqueue_locked(const proto::Change& change, session::ReplicationSink::Acked acked);
  void promote_locked(const char* reason);
  void step_down_locked(const char* reason, bool handover);
  void fail_waiters_locked();
  void apply_action_locked(Action action, const char* reason);
  // Logs the store's quarantined rows not logged before.
  void report_quarantine_locked();
  // On promotion: records (and replicates) the removal of every quarantined row.
  void remove_quarantined_locked(std::uint64_t epoch);

  // --- entry points for the link (lock inside) ---
  proto::NodeInfo self_info() const;
  void on_peer_info(const proto::NodeInfo& peer, bool is_heartbeat);
  void on_peer_refused();
  void on_peer_unreachable();
  // Leader side.
  std::shared_ptr<Follower> attach_follower(const proto::NodeInfo& start);
  void on_ack(const std::shared_ptr<Follower>& f, std::uint64_t seq);
  void on_follower_promoted(const std::shared_ptr<Follower>& f, const proto::NodeInfo& info);
  void detach_follower(const std::shared_ptr<Follower>& f);
  // Follower side.
  Result<bool> apply_change(const proto::Change& change);
  Result<bool> install_snapshot(const Snapshot& snapshot);
  // A take_over arrived: promote; returns our info to send back as `promoted`.
  proto::NodeInfo take_over();
  // Active side of a planned failover: stop logins, drain to the standby, hand over. `done`
  // runs on the node's thread.
  void begin_handover(std::function<void(Result<std::string>)> done);

  void control_loop();
  // Address takeover on promotion: the address, gratuitous ARP, and tickles that make every
  // client of the old active reconnect to us at once. Called without the mutex.
  void take_service_address(const std::vector<proto::SessionRecord>& sessions);
  void release_service_address();
};

}  // namespace tandem::replication
