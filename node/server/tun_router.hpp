#pragma once
// Moves packets between the TUN device and the sessions: a packet read from the TUN goes to
// the session that owns its destination address; a packet from a client is written to the TUN
// if the session's traffic policy allows it (docs/traffic-policy.md). With the device's offloads
// on, each read and write carries a virtio-net header: a TCP super-packet read is cut into the
// packets the client gets (node/tun/offload.hpp), and a batch of client packets is joined into
// super-packets where it can be (upstream_writes.hpp, docs/data-plane.md).
#include <boost/asio/posix/stream_descriptor.hpp>
#include <cstdint>
#include <memory>
#include <vector>

#include "base/log_limiter.hpp"
#include "node/server/runtime.hpp"
#include "node/server/upstream_writes.hpp"
#include "node/tun/offload.hpp"

namespace tandem::server {

class TunRouter final : public TunWriter {
 public:
  // Takes ownership of the fd; `vnet_header`: the device was opened with IFF_VNET_HDR.
  // `workers` (may be null) write the client packets (upstream_writes.hpp).
  TunRouter(TunnelRuntime& rt, int tun_fd, bool vnet_header, DataWorkers* workers);

  void start();
  bool from_client(session::SessionRef s, std::span<const std::uint8_t> ip_packet) override;
  void hold() override { upstream_.hold(); }
  void release() override { upstream_.release(); }

  std::uint64_t unroutable() const { return unroutable_; }

 private:
  asio::awaitable<void> read_loop();
  // One read of `n` bytes with a virtio-net header at arena_[used]: its packets routed; returns
  // where the arena's free space now starts. May send the drain so far to make room.
  std::size_t take(std::size_t used, std::size_t n);
  void read_dropped(tun::OffloadDrop why);
  void route(std::span<const std::uint8_t> packet);
  void dropped(const session::Session& s, std::span<const std::uint8_t> packet,
               session::FilterVerdict why);

  TunnelRuntime& rt_;
  asio::posix::stream_descriptor tun_;
  bool vnet_header_;
  std::unique_ptr<std::uint8_t[]> arena_;
  std::vector<std::uint16_t> segment_lengths_;
  log::LogLimiter read_drop_log_;
  UpstreamWrites upstream_;  // writes to tun_'s descriptor
  std::uint64_t unroutable_ = 0;
};

}  // namespace tandem::server
