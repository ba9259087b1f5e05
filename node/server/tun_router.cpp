#include "node/server/tun_router.hpp"

#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <cerrno>

#include "node/common/log.hpp"
#include "node/session/traffic.hpp"

namespace tandem::server {

TunRouter::TunRouter(Runtime& rt, int tun_fd) : rt_(rt), tun_(rt.io, tun_fd) {}

void TunRouter::start() {
  asio::co_spawn(
      rt_.io, [this]() { return read_loop(); }, asio::detached);
}

bool TunRouter::write_packet(std::span<const std::uint8_t> packet) {
  // A TUN write hands the packet to the kernel's stack and does not block in practice; when
  // the device's queue is full the packet is dropped, like on any router.
  ssize_t n = ::write(tun_.native_handle(), packet.data(), packet.size());
  return n == static_cast<ssize_t>(packet.size());
}

asio::awaitable<void> TunRouter::read_loop() {
  std::vector<std::uint8_t> buf(65536);
  for (;;) {
    auto [ec] = co_await tun_.async_wait(asio::posix::stream_descriptor::wait_read, use_nothrow);
    if (ec) {
      if (ec != asio::error::operation_aborted)
        log::error("tun_read_failed", {{"reason", ec.message()}});
      co_return;
    }
    // Drain what is ready (bounded, so one busy device cannot starve the TLS side).
    for (int i = 0; i < 64; ++i) {
      ssize_t n = ::read(tun_.native_handle(), buf.data(), buf.size());
      if (n <= 0) break;
      route(std::span<const std::uint8_t>(buf.data(), static_cast<std::size_t>(n)));
    }
  }
}

void TunRouter::route(std::span<const std::uint8_t> packet) {
  auto dst = session::ipv4_destination(packet);
  session::Session* s = dst ? rt_.sessions.find_by_ip(*dst) : nullptr;
  if (!s) {
    ++unroutable_;
    return;
  }
  if (!s->ssl) {
    ++s->counters.drops_tx;  // waiting to resume: nowhere to send it
    return;
  }
  // DTLS when it is up; CSTP otherwise, or when the packet does not fit a DTLS record.
  if (s->dtls && s->dtls->send_packet(packet)) return;
  s->ssl->send_packet(packet);
}

}  // namespace tandem::server
