#pragma once
// The replication core: every decision one node of a member makes about replication, as one
// event-driven object over an injected clock (DESIGN "Roles, epochs, fencing").
//
//  - Events in: the node's changes, the peer's words (Hello, Follow start, acks, heartbeats,
//    changes, snapshot chunks, take-over), the peer's death (a refused connection), ticks.
//  - Effects out, through CoreEffects: messages to send, acknowledgements for the node, role
//    changes, the replica's session mirror. The core does no I/O of its own except through the
//    SessionStore it owns (a local RocksDB, which the unit tests use for real).
//
// Single-threaded: the owner calls it from one executor only (replicator.cpp). Nothing here
// blocks, sleeps or polls; time moves only when the caller says `now`.
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/clock.hpp"
#include "base/replication_port.hpp"
#include "base/result.hpp"
#include "base/role.hpp"
#include "proto/replication.pb.h"
#include "replication/role_machine.hpp"
#include "replication/session_store.hpp"

namespace tandem::replication {

// Why a node took the active role. Only some of these are failovers (a member's service moved).
enum class PromotionReason : std::uint8_t {
  standalone,         // no peer: always active
  elected,            // both nodes started as standby; this one is the stronger
  alone_at_start,     // no peer answered for hold_time after start
  peer_silent,        // the active said nothing for hold_time
  peer_process_gone,  // the active's port refused a connection: its process is down
  planned_handover,   // the active handed over on purpose (`tandemctl failover`)
};
const char* to_string(PromotionReason r) noexcept;
bool is_failover(PromotionReason r) noexcept;

enum class StepDownReason : std::uint8_t {
  higher_epoch_active,  // fencing: another node is active in a newer epoch
  handed_over,          // planned: the standby we handed over to is active now
  arbiter_lost,         // the arbiter's key is no longer provably ours (docs/arbiter.md)
};
const char* to_string(StepDownReason r) noexcept;

// The peer's connection as this node sees it.
enum class PeerLink : std::uint8_t {
  none,               // standalone
  standby_connected,  // active, a standby follows
  no_standby,         // active, nobody follows: degraded
  following,          // standby, following the active's stream
  connecting,         // standby, the peer answers but we do not follow (yet)
  unreachable,        // standby, the peer does not answer
};
const char* to_string(PeerLink p) noexcept;

using Acked = ReplicationSink::Acked;
using HandoverDone = std::function<void(Result<std::string>)>;
using StreamId = std::uint64_t;  // one Follow stream on the active's side

// Every value a peer sends that sizes or indexes something is checked against these.
inline constexpr std::uint64_t kMaxEpoch = std::uint64_t{1} << 48;
inline constexpr std::uint64_t kMaxSessionIndex = std::uint64_t{1} << 48;
inline constexpr std::size_t kMaxSnapshotSessions = 10'000'000;

struct CoreSettings {
  std::string node_id;
  std::uint32_t priority = 100;
  bool standalone = false;  // no [peer]
  Duration hold_time{2000};
  Duration heartbeat_interval{200};   // the active's heartbeat on the stream
  Duration ack_timeout{2000};         // how long a client's answer waits for the standby
  Duration handover_timeout{10000};   // a planned handover that has not completed by then fails
  std::size_t max_replay = 1000;      // past this backlog a returning standby gets a snapshot
  std::size_t snapshot_chunk = 1000;  // sessions per snapshot message
  // With an arbiter (docs/arbiter.md) a node serves only while it holds the member's key in etcd.
  bool arbiter = false;
  Duration campaign_retry{250};   // a lost or failed campaign is tried again after this
  Duration witness_margin{500};   // taken off the standby's hold time when it vouches for us
  // Standby: apply changes without a sync and acknowledge them only at flush_acks(), one sync
  // for all of them (group commit). The runtime calls flush_acks() shortly after a change; off,
  // every change is synced and acknowledged on its own.
  bool defer_acks = false;
};

// What the core asks of the world. Called synchronously from inside the core's methods.
class CoreEffects {
 public:
  virtual ~CoreEffects() = default;
  // Active side: a message on the Follow stream `id`, or the end of that stream.
  virtual void send_to_follower(StreamId id, proto::LeaderMessage msg) = 0;
  virtual void close_follower(StreamId id) = 0;
  // Standby side: a message to the active on our Follow stream, or the end of following (the
  // owner reconnects later; the start message then says where our log ends).
  virtual void send_to_leader(proto::FollowerMessage msg) = 0;
  virtual void stop_following() = 0;
  // The node's waiting client gets its answer.
  virtual void acknowledge(Acked acked, Persisted where) = 0;
  // Role changes. `sessions` are the stored ones, for the address takeover's tickles.
  virtual void become_active(std::uint64_t epoch, std::uint64_t next_index,
                             std::vector<proto::SessionRecord> sessions) = 0;
  virtual void become_standby(std::uint64_t epoch, bool handover) = 0;
  // A handover failed after the standby may have taken our address (it promotes, then reports):
  // announce it again, so the clients' next hop is us once more.
  virtual void reclaim_addresses(std::vector<proto::SessionRecord> sessions) = 0;
  // The standby's mirror of the active's sessions.
  virtual void replica_upsert(const proto::SessionRecord& record) = 0;
  virtual void replica_remove(std::uint64_t index) = 0;
  virtual void replica_reset(std::vector<proto::SessionRecord> records) = 0;
  virtual void handover_finished(HandoverDone done, Result<std::string> result) = 0;
  // Arbiter (settings.arbiter only). Win the member's active key (answer: on_campaign_result);
  // give it up for a planned handover (answer: on_resigned); the moment past which this node
  // may no longer serve, for the keeper that drops the address even if this process is frozen
  // (TimePoint{}: not serving).
  virtual void campaign() = 0;
  virtual void resign() = 0;
  virtual void serving_deadline(TimePoint deadline) = 0;
};

struct CoreStatus {
  Role role = Role::standby;
  std::uint64_t epoch = 0;
  PeerLink peer = PeerLink::none;
  std::uint64_t last_sequence = 0;
  std::uint64_t lag_sequence = 0;
  Duration lag{0};  // age of the oldest change the standby has not acknowledged
  bool degraded = false;
  bool accepting_logins = false;
  std::uint64_t failovers = 0;
  // Arbiter: whether this node holds the member's key, and how long it may still serve.
  bool arbiter = false;
  bool holding_key = false;
  Duration serving_left{0};
};

class ReplicationCore {
 public:
  ReplicationCore(CoreSettings settings, std::unique_ptr<SessionStore> store, CoreEffects& effects,
                  TimePoint now);
  ~ReplicationCore();
  ReplicationCore(const ReplicationCore&) = delete;
  ReplicationCore& operator=(const ReplicationCore&) = delete;

  // --- Life and time ---
  void start(TimePoint now);  // a standalone node promotes at once
  void tick(TimePoint now);   // hold time, ack deadlines, heartbeats, handover deadline
  // Stopping: every waiter and a pending handover get their answer; streams are closed.
  void shutdown();

  // --- The node's changes (active only; elsewhere the waiter gets false at once) ---
  void publish_upsert(const proto::SessionRecord& record, bool durable, Acked acked, TimePoint now);
  void publish_remove(std::uint64_t index, Acked acked, TimePoint now);
  // One of the node's changes as it waits for the executor: an upsert, or the removal of `index`.
  struct Publication {
    std::optional<proto::SessionRecord> upsert;
    std::uint64_t index = 0;
    bool durable = true;
    Acked acked;
  };
  // A burst of the node's changes, in order: all recorded, then made durable with one fsync
  // (group commit), then sent and acknowledged. Hundreds of logoffs at once cost one sync, not
  // hundreds, so the executor (and the arbiter's serving deadline checked on it) never stalls.
  void publish_batch(std::vector<Publication> batch, TimePoint now);
  // Planned failover on the active: no new logins, drain, hand over. `done` gets the outcome.
  void begin_handover(HandoverDone done, TimePoint now);

  // --- The peer's life ---
  void on_peer_info(const proto::NodeInfo& peer, TimePoint now);  // Hello, either direction
  void on_peer_refused(TimePoint now);      // its port refused: the process is gone
  void on_peer_unreachable(TimePoint now);  // no answer (yet)

  // --- The arbiter (core_arbiter.cpp) ---
  // A campaign's outcome: the key's creation revision (the new fencing epoch), or why not.
  void on_campaign_result(Result<std::uint64_t> revision, TimePoint now);
  void on_resigned(Result<void> result, TimePoint now);
  // The lease is good until `deadline` on this node's clock (a safety margin taken off).
  void on_lease(TimePoint deadline, TimePoint now);
  // The lease, and with it our key, no longer exists.
  void on_key_lost(TimePoint now);

  // --- Active side: one Follow stream at a time ---
  // The first message of a stream. False: refused (not active); the caller ends the stream.
  bool on_follower_start(StreamId id, const proto::NodeInfo& start, TimePoint now);
  void on_follower_message(StreamId id, const proto::FollowerMessage& msg, TimePoint now);
  void on_follower_gone(StreamId id, TimePoint now);

  // --- Standby side ---
  // Standby, the peer is the active, and no recent failure asks us to wait before reconnecting.
  bool should_follow(TimePoint now) const;
  proto::FollowerMessage follow_start() const;  // the first message on a new stream
  void on_following(TimePoint now);             // the stream is open
  void on_leader_message(const proto::LeaderMessage& msg, TimePoint now);
  // Standby with defer_acks: sync what was applied since the last flush and acknowledge it.
  void flush_acks();
  bool acks_pending() const { return unsynced_seq_ != 0; }
  void on_follow_ended(TimePoint now);

  // --- Queries ---
  Role role() const;
  std::uint64_t epoch() const { return machine_.epoch(); }
  proto::NodeInfo self_info() const;
  CoreStatus status(TimePoint now) const;
  // Sessions on disk (quarantined rows left out and logged): what the node restores at start.
  Result<std::vector<proto::SessionRecord>> stored_sessions();

 private:
  // The active's view of its standby's stream.
  struct Follower {
    StreamId id = 0;
    proto::NodeInfo info;
    std::uint64_t acked = 0;  // everything up to here is on the standby's disk
    bool take_over_sent = false;
  };
  struct Waiter {
    std::uint64_t seq;
    TimePoint deadline;
    Acked acked;
  };

  // core.cpp: roles
  void apply(Action action, PromotionReason why_promote, TimePoint now);
  void raise_epoch_above(std::uint64_t peer_epoch);
  void promote(PromotionReason why, TimePoint now, std::uint64_t epoch_floor = 0);
  void step_down(StepDownReason why, TimePoint now);
  void report_quarantine();
  void remove_quarantined(std::uint64_t epoch);
  void fail_waiters();  // stepping down or stopping: nothing pending may be claimed
  void finish_handover(Result<std::string> result);
  // core_arbiter.cpp
  void request_campaign(std::optional<PromotionReason> why, TimePoint now);
  TimePoint serving_until() const;
  void check_serving(TimePoint now);
  void note_heard(std::uint64_t beat);
  void handover_failed(Result<std::string> result, TimePoint now);
  // core_leader.cpp: the active's side of the stream
  void publish(Result<proto::Change> change, Acked acked, TimePoint now);
  void send(proto::LeaderMessage msg);
  void send_catchup(const proto::NodeInfo& start);
  void send_snapshot(const std::string& why);
  void on_ack(std::uint64_t seq, TimePoint now);
  void on_follower_promoted(const proto::NodeInfo& info, TimePoint now);
  void maybe_take_over();
  void send_heartbeat(TimePoint now);
  // core_follower.cpp: the standby's side
  void apply_change(const proto::Change& change);
  void add_snapshot_chunk(const proto::Snapshot& chunk);
  void take_over(TimePoint now);
  void report_promotion();  // after a take-over: tell the old active on the same stream
  void send_ack(std::uint64_t seq);
  void end_following(const char* why);  // drop the stream; reconnect after a pause

  CoreSettings settings_;
  std::unique_ptr<SessionStore> store_;
  CoreEffects& fx_;
  RoleMachine machine_;
  bool started_ = false;
  TimePoint last_tick_{};
  std::uint64_t failovers_ = 0;
  std::set<std::uint64_t> reported_quarantine_;

  // Active side.
  std::optional<Follower> follower_;
  TimePoint last_heartbeat_{};
  std::deque<Waiter> waiters_;                  // ascending seq
  std::map<std::uint64_t, TimePoint> unacked_;  // seq -> when it was made, for the lag
  bool degraded_ = false;                       // a change may exist on this node only
  bool draining_ = false;                       // planned handover in progress: no new logins
  HandoverDone handover_done_;
  TimePoint handover_deadline_{};
  std::uint64_t beat_ = 0;
  std::deque<std::pair<std::uint64_t, TimePoint>> beats_;  // recent heartbeats: beat, sent at

  // Arbiter.
  bool holding_key_ = false;
  bool campaigning_ = false;
  bool resigning_ = false;
  std::optional<PromotionReason> campaign_for_;  // a won campaign promotes; nullopt: reclaim
  TimePoint next_campaign_{};
  TimePoint lease_deadline_{};    // our lease is good until then (if we hold the key)
  TimePoint witness_deadline_{};  // our standby cannot take the key before then
  TimePoint told_deadline_{};     // what the keeper was told last
  std::string last_denial_;

  // Standby side.
  bool following_ = false;
  bool peer_answers_ = false;
  std::uint64_t leader_last_sequence_ = 0;
  std::optional<Snapshot> pending_snapshot_;  // chunks received so far
  std::uint64_t unsynced_seq_ = 0;  // defer_acks: the last change applied but not yet synced
  bool end_pending_ = false;                  // end_following was asked: wait before the next
  TimePoint follow_not_before_{};
};

}  // namespace tandem::replication
