#include "node/server/tun_router.hpp"

#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <cerrno>

#include "base/log.hpp"
#include "base/text.hpp"
#include "node/session/traffic.hpp"

namespace tandem::server {

TunRouter::TunRouter(TunnelRuntime& rt, int tun_fd) : rt_(rt), tun_(rt.io, tun_fd) {}

void TunRouter::start() {
  asio::co_spawn(
      rt_.io, [this]() { return read_loop(); }, asio::detached);
}

bool TunRouter::from_client(session::SessionRef s, std::span<const std::uint8_t> packet) {
  // Looked up once per session after a start or a reload; then a few comparisons per packet.
  if (!s->traffic_policy) rt_.sessions.cache_traffic_policy(s, rt_.traffic_policy_for(*s));
  if (!s->traffic_policy) return false;  // cannot happen: every policy is compiled
  const auto verdict = session::filter_from_client(packet, s->ip, *s->traffic_policy);
  if (verdict != session::FilterVerdict::allow) {
    dropped(*s, packet, verdict);
    return false;
  }
  // A TUN write hands the packet to the kernel's stack and does not block in practice; when
  // the device's queue is full the packet is dropped, like on any router.
  ssize_t n = ::write(tun_.native_handle(), packet.data(), packet.size());
  return n == static_cast<ssize_t>(packet.size());
}

void TunRouter::dropped(const session::Session& s, std::span<const std::uint8_t> packet,
                        session::FilterVerdict why) {
  using session::FilterVerdict;
  ++rt_.counters.traffic_dropped[session::drop_index(why)];
  // Multicast and broadcast are what idle operating systems send all day (mDNS, SSDP,
  // NetBIOS): counted, logged only at debug. A client sending what it cannot have been told
  // to is worth a warning; the rest is policy at work.
  const log::Level level = why == FilterVerdict::broadcast ? log::Level::debug
                           : why == FilterVerdict::not_ipv4 || why == FilterVerdict::malformed ||
                                   why == FilterVerdict::spoofed_source ||
                                   why == FilterVerdict::martian_destination
                               ? log::Level::warn
                               : log::Level::info;
  if (level < log::level()) return;
  std::uint64_t suppressed = 0;
  if (!rt_.traffic_drop_log.allow(rt_.clock.now(), suppressed)) return;
  const bool v4 = packet.size() >= 20 && (packet[0] >> 4) == 4;
  auto addr = [&](std::size_t at) {
    return v4 ? net::format_ipv4((std::uint32_t{packet[at]} << 24) |
                                 (std::uint32_t{packet[at + 1]} << 16) |
                                 (std::uint32_t{packet[at + 2]} << 8) | packet[at + 3])
              : std::string("-");
  };
  log::event(level, "traffic_dropped",
             {{"index", std::to_string(s.index)},
              {"user", text::sanitize(s.user, text::kMaxUsername)},
              {"ip", net::format_ipv4(s.ip)},
              {"reason", session::to_string(why)},
              {"src", addr(12)},
              {"dst", addr(16)},
              {"protocol", v4 ? std::to_string(packet[9]) : std::string("-")},
              {"suppressed", std::to_string(suppressed)}});
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
  session::SessionRef s = dst ? rt_.sessions.find_by_ip(*dst) : session::SessionRef{};
  if (!s) {
    ++unroutable_;
    return;
  }
  if (!s->ssl) {
    rt_.sessions.dropped_to_client(s);  // waiting to resume: nowhere to send it
    return;
  }
  // DTLS while the client uses it (the session table decides, docs/roaming.md); CSTP otherwise,
  // or when the packet does not fit a DTLS record or the datagram could not be sent.
  if (s->downstream == session::Carrier::dtls && s->dtls && s->dtls->send_packet(packet)) return;
  s->ssl->send_packet(packet);
}

}  // namespace tandem::server
