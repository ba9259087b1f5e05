#pragma once
// Replication of one member's sessions from the active node to the standby, and the node's
// role. The node sees it as a ReplicationSink (its changes go in) and serves a ReplicatorHost
// (replicated sessions and role changes come out, on the node's thread).
//
// Every node persists its sessions in RocksDB through this class, so a standalone node (no
// [peer]) also comes back with its sessions after a restart; it is simply always active.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "node/common/result.hpp"
#include "node/config/config.hpp"
#include "node/session/replication_sink.hpp"
#include "proto/session.pb.h"

namespace tandem::replication {

// What the replicator asks of the node. post() may be called from any thread; everything else
// runs inside the posted work, on the node's thread.
class ReplicatorHost {
 public:
  virtual ~ReplicatorHost() = default;
  virtual void post(std::function<void()> work) = 0;
  // This node now serves the member: take the service address, bring the TUN up, accept
  // clients coming back with their tokens. `next_index` is where new session indexes start.
  virtual void become_active(std::uint64_t epoch, std::uint64_t next_index) = 0;
  // This node no longer serves: give up the address, drop client transports. `handover`: a
  // planned failover, so transports are reset at once and clients reconnect to the new active.
  virtual void become_standby(std::uint64_t epoch, bool handover) = 0;
  // The standby's mirror of the active's sessions.
  virtual void replica_upsert(const proto::SessionRecord& record) = 0;
  virtual void replica_remove(std::uint64_t index) = 0;
  virtual void replica_reset(const std::vector<proto::SessionRecord>& records) = 0;
};

struct ReplicationStatus {
  std::string role;        // "active" | "standby"
  std::uint64_t epoch = 0;
  std::string peer_state;  // "none" | "following" | "follower connected" | "unreachable"
  std::uint64_t lag_sequence = 0;
  std::uint64_t lag_ms = 0;
  bool degraded = false;
  bool accepting_logins = true;
  std::uint64_t last_sequence = 0;
  std::uint64_t failovers = 0;  // promotions of this node since start
};

class Replicator final : public session::ReplicationSink {
 public:
  // Opens <state_dir>/db. Without config.peer.enabled the node is standalone.
  static Result<std::unique_ptr<Replicator>> create(const config::Config& config,
                                                    ReplicatorHost& host);
  ~Replicator() override;

  // Sessions on disk at start-up (before start()), to restore into the session table.
  Result<std::vector<proto::SessionRecord>> stored_sessions() const;

  // Starts the role machine (and, with a peer, the replication server and link).
  Result<bool> start();
  void stop();

  void upsert(const session::Session& s, bool durable, Acked acked) override;
  void remove(std::uint64_t index, Acked acked) override;

  ReplicationStatus status() const;
  // Planned failover, from either node: the active stops taking logins, drains the stream to
  // the standby and hands over. `done` runs on the node's thread.
  void request_failover(std::function<void(Result<std::string>)> done);
  bool accepting_logins() const;

  struct Core;

 private:
  explicit Replicator(std::unique_ptr<Core> core);
  std::unique_ptr<Core> core_;
};

}  // namespace tandem::replication
