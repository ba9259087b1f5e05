#include "node/server/dtls_server.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sys/socket.h>

#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <cstring>
#include <memory>

#include "base/log.hpp"
#include "node/server/dtls_tunnel.hpp"

namespace tandem::server {

using udp = asio::ip::udp;

namespace {

// Kernel socket buffers: DTLS loss under load is the receive queue overflowing (reference
// figures), so ask for generous ones.
void enlarge_buffers(udp::socket& s) {
  boost::system::error_code ignored;
  s.set_option(asio::socket_base::receive_buffer_size(8 * 1024 * 1024), ignored);
  s.set_option(asio::socket_base::send_buffer_size(8 * 1024 * 1024), ignored);
}

std::span<const std::uint8_t> peer_bytes(const udp::endpoint& ep) {
  return {reinterpret_cast<const std::uint8_t*>(ep.data()), ep.size()};
}

}  // namespace

Result<udp::socket> DtlsServer::bind(asio::io_context& io, const udp::endpoint& at) {
  udp::socket socket(io);
  boost::system::error_code ec;
  socket.open(at.protocol(), ec);
  if (!ec) socket.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) {
    int one = 1;  // may be the service address, held only while active
    ::setsockopt(socket.native_handle(), IPPROTO_IP, IP_FREEBIND, &one, sizeof one);
  }
  if (!ec) socket.bind(at, ec);
  if (!ec) socket.non_blocking(true, ec);
  if (ec)
    return fail("udp " + at.address().to_string() + ":" + std::to_string(at.port()) + ": " +
                ec.message());
  enlarge_buffers(socket);
  return socket;
}

Result<std::unique_ptr<DtlsServer>> DtlsServer::open(TunnelRuntime& rt,
                                                     log::LogLimiter& refusal_log,
                                                     udp::socket socket, DataWorkers* workers) {
  auto ctx = dtls::make_server_context();
  if (!ctx) return fail("DTLS context: " + ctx.error());
  auto legacy_ctx = dtls::make_legacy_server_context();
  if (!legacy_ctx) return fail("DTLS legacy context: " + legacy_ctx.error());
  auto guard = dtls::CookieGuard::create();
  if (!guard) return fail("DTLS cookies: " + guard.error());
  return std::unique_ptr<DtlsServer>(new DtlsServer(rt, refusal_log, std::move(socket),
                                                    std::move(*ctx), std::move(*legacy_ctx),
                                                    std::move(*guard), workers));
}

DtlsServer::DtlsServer(TunnelRuntime& rt, log::LogLimiter& refusal_log, udp::socket socket,
                       dtls::ContextPtr ctx, dtls::ContextPtr legacy_ctx, dtls::CookieGuard guard,
                       DataWorkers* workers)
    : rt_(rt),
      refusal_log_(refusal_log),
      socket_(std::move(socket)),
      port_(socket_.local_endpoint().port()),
      ctx_(std::move(ctx)),
      legacy_ctx_(std::move(legacy_ctx)),
      guard_(std::move(guard)),
      sends_(rt, socket_.native_handle(), dropped_, workers) {}

DtlsServer::~DtlsServer() = default;

void DtlsServer::start() { asio::co_spawn(rt_.io, receive_loop(), asio::detached); }

// 32 random bytes no registration uses: an App-ID or a legacy session id (one namespace, since
// both arrive as the ClientHello's session_id).
std::string DtlsServer::new_id() {
  std::string id(32, '\0');
  do {
    RAND_bytes(reinterpret_cast<unsigned char*>(id.data()), static_cast<int>(id.size()));
  } while (registrations_.count(id));
  return id;
}

std::string DtlsServer::register_tunnel(std::uint64_t session_index,
                                        const std::array<std::uint8_t, 32>& psk) {
  auto app_id = new_id();
  registrations_[app_id] = Registration{session_index, psk, std::nullopt, {}};
  return app_id;
}

std::string DtlsServer::register_legacy_tunnel(std::uint64_t session_index,
                                               dtls::LegacySession legacy) {
  auto session_id = new_id();
  std::copy(session_id.begin(), session_id.end(), legacy.session_id.begin());
  registrations_[session_id] = Registration{session_index, {}, legacy, {}};
  OPENSSL_cleanse(legacy.master_secret.data(), legacy.master_secret.size());
  return session_id;
}

void DtlsServer::unregister_tunnel(const std::string& app_id) {
  auto it = registrations_.find(app_id);
  if (it == registrations_.end()) return;
  auto tunnel = it->second.latest.lock();
  OPENSSL_cleanse(it->second.psk.data(), it->second.psk.size());
  if (it->second.legacy) {
    OPENSSL_cleanse(it->second.legacy->master_secret.data(),
                    it->second.legacy->master_secret.size());
  }
  registrations_.erase(it);
  // A handshake still in progress for this TLS connection dies with it.
  if (tunnel && !tunnel->established()) tunnel->close(session::EndReason::replaced, false);
}

bool DtlsServer::send_to(const udp::endpoint& peer, std::span<const std::uint8_t> datagram) {
  boost::system::error_code ec;
  socket_.send_to(asio::buffer(datagram.data(), datagram.size()), peer, 0, ec);
  if (!ec) return true;
  ++dropped_;
  return ec == asio::error::would_block || ec == asio::error::try_again ||
         ec == asio::error::no_buffer_space;
}

void DtlsServer::forget(const udp::endpoint& peer, const DtlsTunnel* tunnel) {
  auto it = by_peer_.find(peer);
  if (it != by_peer_.end() && it->second.get() == tunnel) by_peer_.erase(it);
}

void DtlsServer::handshake_over(const std::string& app_id) {
  if (handshakes_ > 0) --handshakes_;
  auto it = registrations_.find(app_id);
  if (it != registrations_.end() && it->second.handshakes > 0) --it->second.handshakes;
}

// Each handshake holds an OpenSSL object and its retransmission state until it completes or
// times out (15 s): bounded in total, and per session so that one client (or whoever learnt its
// App-ID) cannot take them all. The cookie exchange already proved the source address.
bool DtlsServer::admit_handshake(const udp::endpoint& peer, Registration& reg) {
  const auto& l = rt_.config.limits;
  const char* why = nullptr;
  if (handshakes_ >= static_cast<std::size_t>(l.dtls_handshakes)) {
    ++refused_total_;
    why = "dtls_handshakes";
  } else if (l.dtls_handshakes_per_session > 0 &&
             reg.handshakes >= static_cast<std::size_t>(l.dtls_handshakes_per_session)) {
    ++refused_per_session_;
    why = "dtls_handshakes_per_session";
  }
  if (why == nullptr) return true;
  ++dropped_;
  std::uint64_t suppressed = 0;
  if (refusal_log_.allow(rt_.clock.now(), suppressed))
    log::warn("dtls_handshake_refused",
              {{"index", std::to_string(reg.session_index)},
               {"public", peer.address().to_string() + ":" + std::to_string(peer.port())},
               {"reason", why},
               {"suppressed", std::to_string(suppressed)}});
  return false;
}

asio::awaitable<void> DtlsServer::receive_loop() {
  // recvmmsg takes up to kBatch datagrams per system call. Each slot holds the largest UDP
  // payload, so nothing is truncated; the slots are left uninitialised, and a page is only
  // touched when a datagram lands on it.
  constexpr std::size_t kBatch = 32, kSlot = 65536;
  std::unique_ptr<std::uint8_t[]> slots(new std::uint8_t[kBatch * kSlot]);
  std::array<mmsghdr, kBatch> messages{};
  std::array<iovec, kBatch> iovecs{};
  std::array<sockaddr_storage, kBatch> names{};
  const int fd = socket_.native_handle();
  for (;;) {
    auto [ec] = co_await socket_.async_wait(udp::socket::wait_read, use_nothrow);
    if (ec) co_return;
    // Drain what is queued, bounded (64 datagrams, as before batching) so the TLS side gets its
    // turn. The packets they carry may be joined into fewer TUN writes.
    TunBatch batch(rt_.tun);
    for (int round = 0; round < 2; ++round) {
      for (std::size_t i = 0; i < kBatch; ++i) {
        iovecs[i] = iovec{slots.get() + i * kSlot, kSlot};
        messages[i].msg_hdr = msghdr{};
        messages[i].msg_hdr.msg_name = &names[i];
        messages[i].msg_hdr.msg_namelen = sizeof names[i];
        messages[i].msg_hdr.msg_iov = &iovecs[i];
        messages[i].msg_hdr.msg_iovlen = 1;
      }
      const int n = ::recvmmsg(fd, messages.data(), kBatch, MSG_DONTWAIT, nullptr);
      if (n <= 0) break;
      for (int i = 0; i < n; ++i) {
        const auto& h = messages[static_cast<std::size_t>(i)];
        udp::endpoint peer;
        if (h.msg_hdr.msg_namelen > peer.capacity()) continue;
        std::memcpy(peer.data(), &names[static_cast<std::size_t>(i)], h.msg_hdr.msg_namelen);
        peer.resize(h.msg_hdr.msg_namelen);
        on_datagram(peer, std::span<const std::uint8_t>(
                              slots.get() + static_cast<std::size_t>(i) * kSlot, h.msg_len));
      }
      if (static_cast<std::size_t>(n) < kBatch) break;
    }
  }
}

void DtlsServer::on_datagram(const udp::endpoint& peer, std::span<const std::uint8_t> datagram) {
  auto it = by_peer_.find(peer);
  auto hello = dtls::parse_client_hello(datagram);
  if (it != by_peer_.end()) {
    // A ClientHello (always epoch 0, so never a renegotiation) from a peer whose association is
    // up means the client restarted DTLS on the same port: start over. Anything else belongs to
    // the existing association.
    if (!(hello && it->second->established())) {
      auto tunnel = it->second;  // on_datagram may make the tunnel forget itself
      tunnel->on_datagram(datagram);
      return;
    }
  }
  if (!hello) {
    if (!rebind(peer, datagram)) ++dropped_;
    return;
  }
  start_handshake(peer, datagram, hello->session_id);
}

// NAT rebinding: the client's NAT gave its flow a new source port (a mapping expired, or the NAT
// restarted), so records of an established association arrive from an endpoint we do not know.
// Like ocserv, only the same address is considered, and only a few associations are tried per
// datagram (each costs one failed decryption), so an unknown source costs little. A record
// that authenticates moves the association to its new endpoint.
bool DtlsServer::rebind(const udp::endpoint& peer, std::span<const std::uint8_t> datagram) {
  constexpr std::uint8_t kApplicationData = 23;
  constexpr int kMaxTries = 4;
  if (datagram.size() < 13 || datagram[0] != kApplicationData) return false;
  int tries = 0;
  for (auto it = by_peer_.lower_bound(udp::endpoint(peer.address(), 0));
       it != by_peer_.end() && it->first.address() == peer.address() && tries < kMaxTries; ++it) {
    if (!it->second->established()) continue;
    ++tries;
    auto tunnel = it->second;  // adopt_peer moves its entry (moved()): `it` is stale after
    if (tunnel->adopt_peer(peer, datagram)) return true;
  }
  return false;
}

void DtlsServer::moved(const udp::endpoint& from, const udp::endpoint& to,
                       const DtlsTunnel* tunnel) {
  auto it = by_peer_.find(from);
  if (it == by_peer_.end() || it->second.get() != tunnel) return;
  auto owner = std::move(it->second);
  by_peer_.erase(it);
  by_peer_[to] = std::move(owner);
}

void DtlsServer::start_handshake(const udp::endpoint& peer, std::span<const std::uint8_t> datagram,
                                 const std::vector<std::uint8_t>& session_id) {
  auto reg = registrations_.find(std::string(session_id.begin(), session_id.end()));
  if (reg == registrations_.end()) {
    ++dropped_;
    log::debug("dtls_unknown_app_id",
               {{"public", peer.address().to_string() + ":" + std::to_string(peer.port())}});
    return;
  }
  auto verdict = guard_.check(datagram, peer_bytes(peer), rt_.clock.now());
  if (verdict.action == dtls::CookieVerdict::Action::send_hello_verify) {
    send_to(peer, verdict.reply);
    return;
  }
  if (verdict.action != dtls::CookieVerdict::Action::proceed) {
    ++dropped_;
    return;
  }
  if (!admit_handshake(peer, reg->second)) return;
  auto endpoint =
      reg->second.legacy
          ? std::make_unique<dtls::DtlsEndpoint>(legacy_ctx_.get(), *reg->second.legacy,
                                                 rt_.clock.now())
          : std::make_unique<dtls::DtlsEndpoint>(
                ctx_.get(), std::span<const std::uint8_t, 32>(reg->second.psk), rt_.clock.now());
  auto tunnel = std::make_shared<DtlsTunnel>(rt_, *this, peer, reg->second.session_index,
                                             reg->first, std::move(endpoint));
  reg->second.latest = tunnel;
  ++reg->second.handshakes;
  ++handshakes_;
  by_peer_[peer] = tunnel;
  tunnel->on_datagram(datagram);
}

}  // namespace tandem::server
