#pragma once
// The headend node: owns the I/O loop, the session table, the TUN device and the listener.
// Asio stays behind this interface (pimpl), so tandemd's main and tests need none of it.
#include <memory>

#include "node/common/result.hpp"
#include "node/config/config.hpp"
#include "node/session/replication_sink.hpp"

namespace tandem::server {

class Headend {
 public:
  explicit Headend(config::Config config);
  ~Headend();

  // What replication reports to (valid from construction).
  session::ReplicaHost& replica_host();

  // Create the state dir, TLS identity, TUN device and listener, restore the stored sessions,
  // then start `replication`, which decides when this node serves. Errors name what failed.
  Result<bool> start(session::Replication& replication);
  // Serve until SIGINT/SIGTERM (or stop()).
  void run();
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tandem::server
