#pragma once
// Internal to replication/: the wire between the two nodes of a member. gRPC over mutual TLS;
// the only file with gRPC headers is grpc_link.cpp.
#include <functional>
#include <memory>
#include <string>

#include "node/common/result.hpp"
#include "replication/replicator.hpp"

namespace tandem::replication {

class GrpcLink {
 public:
  explicit GrpcLink(Replicator::Core& core);
  ~GrpcLink();

  // Serve Follow/Hello/Handover on peer.listen and run the follower loop towards peer.address.
  Result<bool> start();
  void stop();

  // Standby side of `tandemctl failover`: ask the active to hand over to us.
  void ask_peer_to_hand_over(std::function<void(Result<std::string>)> done);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace tandem::replication
