#include "node/server/tun_router.hpp"

#include <unistd.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <cerrno>
#include <memory>

#include "base/log.hpp"
#include "base/text.hpp"
#include "node/server/dtls_server.hpp"
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
  const auto verdict =
      session::filter_from_client(packet, s->ip, *s->traffic_policy, s->ip6 ? &*s->ip6 : nullptr);
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
  // Multicast, broadcast and IPv6 link-local packets are what idle operating systems send all
  // day (mDNS, SSDP, NetBIOS, router solicitations, MLD): counted, logged only at debug. A client
  // sending what it cannot have been told to is worth a warning; the rest is policy at work.
  const log::Level level =
      why == FilterVerdict::broadcast || why == FilterVerdict::ipv6_link_local ? log::Level::debug
      : why == FilterVerdict::not_ipv4 || why == FilterVerdict::malformed ||
              why == FilterVerdict::spoofed_source || why == FilterVerdict::martian_destination
          ? log::Level::warn
          : log::Level::info;
  if (level < log::level()) return;
  std::uint64_t suppressed = 0;
  if (!rt_.traffic_drop_log.allow(rt_.clock.now(), suppressed)) return;
  const bool v4 = packet.size() >= 20 && (packet[0] >> 4) == 4;
  const bool v6 = packet.size() >= 40 && (packet[0] >> 4) == 6;
  auto addr = [&](std::size_t at4, std::size_t at6) {
    if (v6) {
      net::Ipv6Addr a;
      std::copy_n(packet.data() + at6, 16, a.begin());
      return net::format_ipv6(a);
    }
    return v4 ? net::format_ipv4((std::uint32_t{packet[at4]} << 24) |
                                 (std::uint32_t{packet[at4 + 1]} << 16) |
                                 (std::uint32_t{packet[at4 + 2]} << 8) | packet[at4 + 3])
              : std::string("-");
  };
  log::event(level, "traffic_dropped",
             {{"index", std::to_string(s.index)},
              {"user", text::sanitize(s.user, text::kMaxUsername)},
              {"ip", net::format_ipv4(s.ip)},
              {"reason", session::to_string(why)},
              {"src", addr(12, 8)},
              {"dst", addr(16, 24)},
              // IPv6: the next header after the fixed one (an extension header, if any).
              {"protocol", v4   ? std::to_string(packet[9])
                           : v6 ? std::to_string(packet[6])
                                : std::string("-")},
              {"suppressed", std::to_string(suppressed)},
              {"ip6", s.ip6 ? net::format_ipv6(*s.ip6) : "-"}});
}

asio::awaitable<void> TunRouter::read_loop() {
  // Each packet of a drain gets its own place here: DTLS datagrams made from them are sent only
  // at the drain's end (DtlsServer::hold_sends), and a refused one's packet then goes over CSTP.
  // Left uninitialised: only what read() fills is ever touched.
  constexpr std::size_t kMaxPacket = 65536;
  constexpr std::size_t kArena = 256 * 1024;
  std::unique_ptr<std::uint8_t[]> arena(new std::uint8_t[kArena]);
  for (;;) {
    auto [ec] = co_await tun_.async_wait(asio::posix::stream_descriptor::wait_read, use_nothrow);
    if (ec) {
      if (ec != asio::error::operation_aborted)
        log::error("tun_read_failed", {{"reason", ec.message()}});
      co_return;
    }
    // Drain what is ready (bounded, so one busy device cannot starve the TLS side).
    if (rt_.dtls) rt_.dtls->hold_sends();
    std::size_t used = 0;
    for (int i = 0; i < 64 && used + kMaxPacket <= kArena; ++i) {
      ssize_t n = ::read(tun_.native_handle(), arena.get() + used, kMaxPacket);
      if (n <= 0) break;
      route(std::span<const std::uint8_t>(arena.get() + used, static_cast<std::size_t>(n)));
      used += static_cast<std::size_t>(n);
    }
    if (rt_.dtls) rt_.dtls->release_sends();
  }
}

void TunRouter::route(std::span<const std::uint8_t> packet) {
  session::SessionRef s;
  if (auto dst = session::ipv4_destination(packet))
    s = rt_.sessions.find_by_ip(*dst);
  else if (auto dst6 = session::ipv6_destination(packet))
    s = rt_.sessions.find_by_ip6(*dst6);
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
