#pragma once
// The headend node: owns the I/O loop, the session table, the TUN device and the listener.
// Asio stays behind this interface (pimpl), so tandemd's main and tests need none of it.
#include <functional>
#include <memory>
#include <string>

#include "base/replication_port.hpp"
#include "base/result.hpp"
#include "node/config/config.hpp"

namespace tandem::server {

class Headend {
 public:
  explicit Headend(config::Config config);
  ~Headend();

  // What replication reports to (valid from construction).
  ReplicaHost& replica_host();

  // What needs root, before any thread exists (docs/privileges.md): create the state dir, read
  // the TLS identity, create the TUN device, bind the listener, the DTLS socket and the metrics
  // port. Errors name what failed.
  Result<bool> open();
  // After open() (and the privilege drop): read the users file, restore the stored sessions,
  // start serving, then start `replication`, which decides when this node serves.
  Result<bool> start(Replication& replication);
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
