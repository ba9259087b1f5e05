#pragma once
// The one narrow interface between the node and replication (DESIGN: node/ talks to
// replication/ through one interface), both directions. It lives in base/ so that neither side
// depends on the other (README, "Layout"):
//  - Replication: what the node asks of it (persist and replicate session changes, the role,
//    planned failover). Implemented by replication::Replicator.
//  - ReplicaHost: what replication asks of the node (serve or stop serving, mirror the active's
//    sessions). Implemented by the headend.
// tandemd's main wires the two together; only it knows both node/ and replication/.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "base/role.hpp"
#include "proto/session.pb.h"

namespace tandem {

// Where a change ended up, as the node's waiting client is told.
enum class Persisted : std::uint8_t {
  replicated,  // on this node's disk and the standby's
  local_only,  // on this node's disk only: standalone, no standby, or it did not answer in time
  failed,      // not recorded (the store refused the write, or this node stopped being active):
               // the client must not be told the change happened
};
const char* to_string(Persisted p) noexcept;

class ReplicationSink {
 public:
  virtual ~ReplicationSink() = default;
  // Called on the node's thread with where the change ended up.
  using Acked = std::function<void(Persisted)>;

  // Persist (and replicate) the session as it is now, in its persisted form (the node makes it
  // with session::to_record). `durable`: synced to disk before the call returns, for what a
  // client is told about (creation, resume); counters need not be. `acked` may be empty when
  // nobody waits.
  virtual void upsert(proto::SessionRecord record, bool durable, Acked acked) = 0;
  virtual void remove(std::uint64_t index, Acked acked) = 0;
};

struct ReplicationStatus {
  Role role = Role::standalone;
  std::uint64_t epoch = 0;
  std::string peer_state = "none";
  std::uint64_t lag_sequence = 0;
  std::uint64_t lag_ms = 0;
  bool degraded = false;
  bool accepting_logins = true;
  std::uint64_t last_sequence = 0;
  std::uint64_t failovers = 0;  // promotions of this node since start
  // Cluster ([arbiter] and [member], docs/arbiter.md).
  bool arbiter = false;
  std::string member_id;
  bool holding_key = false;           // this node holds the member's active key in etcd
  std::uint64_t serving_left_ms = 0;  // how long it may still serve without news (active)
  bool arbiter_reachable = false;     // the last request to etcd succeeded
  std::vector<std::string> arbiter_endpoints;
  bool draining = false;  // tandemctl drain: no new sessions on this member
};

class Replication : public ReplicationSink {
 public:
  // Sessions on disk at start-up, to restore before serving.
  virtual Result<std::vector<proto::SessionRecord>> stored_sessions() const = 0;
  virtual Result<void> start() = 0;
  virtual void stop() = 0;
  virtual ReplicationStatus status() const = 0;
  // New logins: refused while draining and while handing over.
  virtual bool accepting_logins() const = 0;
  // Clients coming back with their token: refused while handing over (the session is about to
  // move), never because of a drain (a drained node keeps the clients it has).
  virtual bool accepting_resumes() const = 0;
  // Planned failover from either node; `done` runs on the node's thread.
  virtual void request_failover(std::function<void(Result<std::string>)> done) = 0;
  // tandemctl drain / undrain: directors stop sending new clients here and the node refuses new
  // logins; connected and resuming clients stay.
  virtual void set_draining(bool draining) = 0;
  // The node's session limit ([limits] max_sessions as it applies now; 0 = none): the member
  // record's capacity is published as at most this, so directors stop sending new clients to a
  // member that would refuse them (docs/limits.md, "Sessions"). Any thread.
  virtual void set_session_limit(std::uint64_t sessions) = 0;
};

// What replication asks of the node. post() may be called from any thread; everything else
// runs inside the posted work, on the node's thread.
class ReplicaHost {
 public:
  virtual ~ReplicaHost() = default;
  virtual void post(std::function<void()> work) = 0;
  // This node now serves the member: take the service address, bring the TUN up, accept
  // clients coming back with their tokens. `next_index` is where new session indexes start.
  virtual void become_active(std::uint64_t epoch, std::uint64_t next_index) = 0;
  // This node no longer serves: give up the address, drop client transports. `handover`: a
  // planned failover, so transports are reset at once and clients reconnect to the new active.
  virtual void become_standby(std::uint64_t epoch, bool handover) = 0;
  // Active: hand replication every session change not yet sent (counters, tunnels), which
  // otherwise goes about once a second. A planned handover asks for it before the standby takes
  // over, so the new active's counters continue from the ones an operator last saw.
  virtual void flush_changes() = 0;
  // The standby's mirror of the active's sessions.
  virtual void replica_upsert(const proto::SessionRecord& record) = 0;
  virtual void replica_remove(std::uint64_t index) = 0;
  virtual void replica_reset(const std::vector<proto::SessionRecord>& records) = 0;
};

}  // namespace tandem
