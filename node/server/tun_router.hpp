#pragma once
// Moves packets between the TUN device and the sessions: a packet read from the TUN goes to
// the session that owns its destination address; a packet from a client is written to the TUN
// if the session's traffic policy allows it (docs/traffic-policy.md).
#include <boost/asio/posix/stream_descriptor.hpp>
#include <cstdint>
#include <vector>

#include "node/server/runtime.hpp"

namespace tandem::server {

class TunRouter final : public TunWriter {
 public:
  TunRouter(TunnelRuntime& rt, int tun_fd);  // takes ownership of the fd

  void start();
  bool from_client(session::SessionRef s, std::span<const std::uint8_t> ip_packet) override;

  std::uint64_t unroutable() const { return unroutable_; }

 private:
  asio::awaitable<void> read_loop();
  void route(std::span<const std::uint8_t> packet);
  void dropped(const session::Session& s, std::span<const std::uint8_t> packet,
               session::FilterVerdict why);

  TunnelRuntime& rt_;
  asio::posix::stream_descriptor tun_;
  std::uint64_t unroutable_ = 0;
};

}  // namespace tandem::server
