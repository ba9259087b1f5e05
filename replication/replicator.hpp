#pragma once
// Replication of one member's sessions from the active node to the standby, and the node's
// role. The node sees it through session::Replication (its changes go in) and serves a
// session::ReplicaHost (replicated sessions and role changes come out, on the node's thread).
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

using ReplicatorHost = session::ReplicaHost;
using session::ReplicationStatus;

class Replicator final : public session::Replication {
 public:
  // Opens <state_dir>/db. Without config.peer.enabled the node is standalone.
  static Result<std::unique_ptr<Replicator>> create(const config::Config& config,
                                                    ReplicatorHost& host);
  ~Replicator() override;

  // Sessions on disk at start-up (before start()), to restore into the session table.
  Result<std::vector<proto::SessionRecord>> stored_sessions() const override;

  // Starts the role machine (and, with a peer, the replication server and link).
  Result<bool> start() override;
  void stop() override;

  void upsert(const session::Session& s, bool durable, Acked acked) override;
  void remove(std::uint64_t index, Acked acked) override;

  ReplicationStatus status() const override;
  // Planned failover, from either node: the active stops taking logins, drains the stream to
  // the standby and hands over. `done` runs on the node's thread.
  void request_failover(std::function<void(Result<std::string>)> done) override;
  bool accepting_logins() const override;

  struct Core;

 private:
  explicit Replicator(std::unique_ptr<Core> core);
  std::unique_ptr<Core> core_;
};

}  // namespace tandem::replication
