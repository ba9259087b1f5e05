#include "node/server/tun_router.hpp"

#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <cerrno>
#include <cstring>
#include <memory>

#include "base/log.hpp"
#include "base/text.hpp"
#include "node/config/defaults.hpp"
#include "node/server/dtls_server.hpp"
#include "node/session/traffic.hpp"

namespace tandem::server {

namespace {

// One read: the largest IP packet, behind the virtio-net header when there is one.
constexpr std::size_t kMaxRead = 65536 + tun::kVnetHdrSize;
// Each packet of a drain gets its own place here: DTLS datagrams made from them are sent only
// at the drain's end (DtlsServer::hold_sends), and a refused one's packet then goes over CSTP.
// A super-packet of 64 KiB cut into 1400-byte packets takes about 67 KiB more, so this holds a
// drain of several (docs/data-plane.md). Left uninitialised: only what is written is touched.
constexpr std::size_t kArena = 1024 * 1024;
// Read only while a super-packet and its segments (64 KiB cut at an MSS of 536 or more) fit.
constexpr std::size_t kSegmentsRoom = 96 * 1024;
// Segments of one super-packet: 64 KiB cut at the smallest MSS Linux sends (48 bytes) is 1366.
constexpr std::size_t kMaxSegments = 2048;

}  // namespace

TunRouter::TunRouter(TunnelRuntime& rt, int tun_fd, bool vnet_header, DataWorkers* workers)
    : rt_(rt),
      tun_(rt.io, tun_fd),
      vnet_header_(vnet_header),
      arena_(new std::uint8_t[kArena]),
      segment_lengths_(vnet_header ? kMaxSegments : 0),
      read_drop_log_(defaults::kRefusalLogBurst, defaults::kRefusalLogInterval),
      upstream_(rt, tun_.native_handle(), vnet_header, workers) {}

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
  return upstream_.write(packet);
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
  std::uint8_t* arena = arena_.get();
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
    const std::size_t room = kMaxRead + (vnet_header_ ? kSegmentsRoom : 0);
    for (int i = 0; i < 64 && used + room <= kArena; ++i) {
      ssize_t n = ::read(tun_.native_handle(), arena + used, kMaxRead);
      if (n <= 0) break;
      if (vnet_header_) {
        used = take(used, static_cast<std::size_t>(n));
        continue;
      }
      route(std::span<const std::uint8_t>(arena + used, static_cast<std::size_t>(n)));
      used += static_cast<std::size_t>(n);
    }
    if (rt_.dtls) rt_.dtls->release_sends();
  }
}

std::size_t TunRouter::take(std::size_t used, std::size_t n) {
  std::uint8_t* arena = arena_.get();
  std::span<std::uint8_t> read(arena + used, n);
  // The segments go right behind the super-packet they are cut from.
  auto split = tun::split_read(read, {arena + used + n, kArena - used - n}, segment_lengths_);
  if (split.result.drop == tun::OffloadDrop::no_room && used > 0) {
    // Send the drain so far (its packets are then no longer needed) and start the arena again.
    if (rt_.dtls) {
      rt_.dtls->release_sends();
      rt_.dtls->hold_sends();
    }
    std::memmove(arena, read.data(), n);
    used = 0;
    read = {arena, n};
    split = tun::split_read(read, {arena + n, kArena - n}, segment_lengths_);
  }
  if (split.result.drop != tun::OffloadDrop::none) {
    read_dropped(split.result.drop);
    return used;  // its place is free for the next read
  }
  if (split.in_place) {
    route(read.subspan(tun::kVnetHdrSize));
    return used + n;
  }
  ++rt_.counters.tun_super_packets;
  rt_.counters.tun_segments += split.result.segments;
  const std::uint8_t* segment = arena + used + n;
  for (std::size_t i = 0; i < split.result.segments; ++i) {
    route({segment, segment_lengths_[i]});
    segment += segment_lengths_[i];
  }
  return used + n + split.result.bytes;
}

void TunRouter::read_dropped(tun::OffloadDrop why) {
  // The kernel made these reads; a malformed one says more about the kernel than about anyone
  // sending, but it must not take the data plane down.
  ++rt_.counters.tun_reads_dropped;
  std::uint64_t suppressed = 0;
  if (!read_drop_log_.allow(rt_.clock.now(), suppressed)) return;
  log::warn("tun_read_dropped", {{"reason", std::string(tun::to_string(why))},
                                 {"suppressed", std::to_string(suppressed)}});
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
