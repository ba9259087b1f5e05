#pragma once
// The headend node: owns the I/O loop, the session table, the TUN device and the listener.
// Asio stays behind this interface (pimpl), so tandemd's main and tests need none of it.
#include <functional>
#include <memory>
#include <string>

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

  // Lifecycle events for a service manager (tandemd forwards them to systemd's sd_notify):
  // `stopping` when SIGINT/SIGTERM arrives, `reloading` and then `reloaded` around a SIGHUP
  // reload (detail: its outcome, as logged). Called on the I/O thread; set before start().
  enum class Lifecycle { stopping, reloading, reloaded };
  void on_lifecycle(std::function<void(Lifecycle, const std::string& detail)> observer);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tandem::server
