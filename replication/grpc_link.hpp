#pragma once
// Internal to replication/: the wire between the two nodes of a member. gRPC over mutual TLS
// with the callback API: no thread of its own, no polling. Every word from the peer goes to the
// core on the replication executor (`Post`); every effect is asked for on that executor. Only the
// grpc_link*.cpp files see gRPC headers.
//
// Only the configured peer may speak: its certificate must name peer.node_id (CN or a DNS
// subjectAltName), and the node id it claims must be that one too.
#include <functional>
#include <memory>
#include <string>

#include "base/clock.hpp"
#include "base/result.hpp"
#include "replication/core.hpp"
#include "replication/peer_keys.hpp"
#include "replication/settings.hpp"

namespace boost::asio {
class io_context;
}

namespace tandem::replication {

class GrpcLink {
 public:
  // Runs the work on the replication executor (and refreshes what the node sees afterwards).
  using Post = std::function<void(std::function<void()>)>;
  // Begins a planned handover the peer asked for (the node flushes its changes first); any thread.
  using StartHandover = std::function<void(HandoverDone)>;

  GrpcLink(const PeerSettings& peer, ReplicationCore& core, const Clock& clock, Post post,
           StartHandover start_handover, boost::asio::io_context& io);
  ~GrpcLink();
  GrpcLink(const GrpcLink&) = delete;
  GrpcLink& operator=(const GrpcLink&) = delete;

  // Serves Follow/Hello/Handover on peer.listen, with the keys read at start-up.
  Result<void> start(const PeerKeys& keys);
  // Ends every stream and the server and waits for the reactors. Not on the executor, which must
  // still run.
  void stop();

  // --- On the executor ---
  // One Hello round. The answer goes to the core (and starts following when the core says so);
  // a failure ends in a connect probe that tells a dead process (refused) from silence.
  void hello();
  bool following() const;
  void send_to_follower(StreamId id, proto::LeaderMessage msg);
  void close_follower(StreamId id);
  void send_to_leader(proto::FollowerMessage msg);
  void stop_following();
  // Standby side of `tandemctl failover`: asks the active to hand over to us; `done` runs on the
  // executor.
  void ask_peer_to_hand_over(HandoverDone done);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace tandem::replication
