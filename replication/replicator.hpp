#pragma once
// Replication of one member's sessions from the active node to the standby, and the node's
// role. The node sees it through Replication (its changes go in) and serves a
// ReplicaHost (replicated sessions and role changes come out, on the node's thread).
//
// Inside: one executor (an io_context on a thread of its own) runs the pure ReplicationCore,
// the RocksDB store it owns, the gRPC link's reactions and the address takeover. The node's
// thread never waits for the disk or the peer: it posts, and hears back through ReplicaHost.
//
// Every node persists its sessions in RocksDB through this class, so a standalone node (no
// [peer]) also comes back with its sessions after a restart; it is simply always active.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/replication_port.hpp"
#include "base/result.hpp"
#include "proto/session.pb.h"
#include "replication/peer_keys.hpp"
#include "replication/settings.hpp"

namespace tandem::replication {

using ReplicatorHost = ReplicaHost;

// The SYN guard (service_address.hpp) for this node's listen or service address. It runs `nft`,
// which gets no capabilities from a daemon that is no longer root: tandemd installs it before
// the privilege drop. Failure is logged (syn_guard_unavailable), not fatal.
void install_syn_guard(const Settings& config);

class Replicator final : public Replication {
 public:
  // Opens <state_dir>/db (RocksDB starts its threads here: after the privilege drop). Without
  // config.peer.enabled the node is standalone and `peer_keys` is not used.
  static Result<std::unique_ptr<Replicator>> create(const Settings& config, ReplicatorHost& host,
                                                    PeerKeys peer_keys);
  ~Replicator() override;

  // Sessions on disk at start-up (before start()), to restore into the session table.
  Result<std::vector<proto::SessionRecord>> stored_sessions() const override;

  // Before start(): the keeper to tell how long this node may serve (arbiter only). Not owned.
  void set_keeper(class AddressKeeper* keeper);

  // Starts the executor and the core (and, with a peer, the replication server and link).
  Result<void> start() override;
  void stop() override;

  // Any thread; the work happens on the executor.
  void upsert(proto::SessionRecord record, bool durable, Acked acked) override;
  void remove(std::uint64_t index, Acked acked) override;

  // A copy refreshed after every event (at most a tick old).
  ReplicationStatus status() const override;
  // Planned failover, from either node: the active stops taking logins, drains the stream to
  // the standby and hands over. `done` runs on the node's thread.
  void request_failover(std::function<void(Result<std::string>)> done) override;
  bool accepting_logins() const override;
  bool accepting_resumes() const override;
  void set_draining(bool draining) override;
  void set_session_limit(std::uint64_t sessions) override;

  struct Impl;

 private:
  explicit Replicator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tandem::replication
