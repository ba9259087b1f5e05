#pragma once
// The headend node: owns the I/O loop, the session table, the TUN device and the listener.
// Asio stays behind this interface (pimpl), so tandemd's main and tests need none of it.
#include <memory>

#include "node/common/result.hpp"
#include "node/config/config.hpp"

namespace tandem::server {

class Headend {
 public:
  explicit Headend(config::Config config);
  ~Headend();

  // Create the state dir, TLS identity, TUN device and listener; errors name what failed.
  Result<bool> start();
  // Serve until SIGINT/SIGTERM (or stop()).
  void run();
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tandem::server
