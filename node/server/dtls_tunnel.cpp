#include "node/server/dtls_tunnel.hpp"

#include <utility>

#include "base/log.hpp"
#include "node/server/dtls_server.hpp"

namespace tandem::server {

using session::EndReason;

namespace {

constexpr std::uint8_t kData = 0x00, kDpdRequest = 0x03, kDpdResponse = 0x04, kKeepalive = 0x07;

}  // namespace

DtlsTunnel::DtlsTunnel(TunnelRuntime& rt, DtlsServer& server, udp::endpoint peer,
                       std::uint64_t index, std::string app_id,
                       std::unique_ptr<dtls::DtlsEndpoint> endpoint)
    : rt_(rt),
      server_(server),
      peer_(peer),
      peer_text_(peer.address().to_string() + ":" + std::to_string(peer.port())),
      index_(index),
      app_id_(std::move(app_id)),
      endpoint_(std::move(endpoint)),
      handshake_timer_(rt.io) {}

DtlsTunnel::~DtlsTunnel() = default;

void DtlsTunnel::on_datagram(std::span<const std::uint8_t> datagram) {
  if (closed_) return;
  endpoint_->feed(datagram);
  after_io();
}

bool DtlsTunnel::adopt_peer(const udp::endpoint& peer, std::span<const std::uint8_t> datagram) {
  if (closed_ || !attached_) return false;
  // A record that fails authentication is dropped silently by DTLS and changes nothing; the
  // replay window refuses an old record replayed from elsewhere.
  endpoint_->feed(datagram);
  if (!endpoint_->has_received()) return false;
  const std::string from =
      std::exchange(peer_text_, peer.address().to_string() + ":" + std::to_string(peer.port()));
  server_.moved(std::exchange(peer_, peer), peer, this);
  if (session_)
    rt_.sessions.dtls_peer_moved(session_, this, peer.address().to_string(), peer.port());
  log::info("dtls_peer_moved", {{"index", std::to_string(index_)},
                                {"tunnel", std::to_string(index_) + ".3"},
                                {"from", from},
                                {"to", peer_text_}});
  after_io();
  return true;
}

// After every input: send what the endpoint produced, attach on handshake completion, deliver
// records, and notice failure.
void DtlsTunnel::after_io() {
  flush();
  if (endpoint_->failed() || endpoint_->peer_closed()) {
    if (!attached_)
      log::warn("dtls_handshake_failed",
                {{"index", std::to_string(index_)},
                 {"public", peer_text_},
                 {"reason", endpoint_->failed() ? endpoint_->error() : "peer closed"}});
    finish(endpoint_->failed() ? EndReason::transport_error : EndReason::client_closed);
    return;
  }
  if (!attached_ && endpoint_->handshake_done()) {
    session::SessionRef s = rt_.sessions.find(index_);
    if (!s || !s->ssl) {  // the session or its TLS connection is gone: this key is stale
      finish(EndReason::replaced);
      return;
    }
    handshake_timer_.cancel();
    handshake_over();
    attached_ = true;
    session_ = s;
    session::TunnelInfo info;
    info.public_ip = peer_.address().to_string();
    info.public_port = peer_.port();
    info.local_port = server_.port();
    info.encapsulation = endpoint_->version_name();
    info.cipher = endpoint_->cipher_name();
    info.connected_at_unix = wall_seconds();
    rt_.sessions.attach_dtls(s, shared_from_this(), std::move(info));
    log::info("tunnel_up", {{"index", std::to_string(index_)},
                            {"tunnel", std::to_string(index_) + ".3"},
                            {"kind", "dtls"},
                            {"ip", net::format_ipv4(s->ip)},
                            {"public", peer_text_},
                            {"encapsulation", endpoint_->version_name()},
                            {"cipher", endpoint_->cipher_name()}});
  }
  while (endpoint_->pop_received(scratch_)) {
    handle_record(scratch_);
    if (closed_) return;
  }
  if (!attached_) arm_handshake_timer();
}

bool DtlsTunnel::flush() {
  bool all_sent = true;
  while (endpoint_->pop_outgoing(scratch_)) all_sent = server_.send_to(peer_, scratch_) && all_sent;
  return all_sent;
}

void DtlsTunnel::handle_record(const std::vector<std::uint8_t>& record) {
  if (!session_) return;
  rt_.sessions.frame_from_client(session_, session::Carrier::dtls);
  std::span<const std::uint8_t> payload(record.data() + 1, record.size() - 1);
  switch (record[0]) {
    case kData: {
      if (!rt_.tun->from_client(session_, payload)) {
        rt_.sessions.dropped_from_client(session_);
        return;
      }
      rt_.sessions.data_from_client(session_, session::Carrier::dtls, payload.size());
      return;
    }
    case kDpdRequest:
      // Echo the payload untouched: openconnect's MTU probe waits for it (notes §5.3).
      if (endpoint_->send(kDpdResponse, payload) == dtls::DtlsEndpoint::SendStatus::too_big)
        endpoint_->send(kDpdResponse, {});
      flush();
      nudge_client();
      return;
    case kDpdResponse:
    case kKeepalive:
      return;
    default:
      return;  // unknown types are skipped, as the client does
  }
}

bool DtlsTunnel::send_packet(std::span<const std::uint8_t> ip_packet) {
  if (!attached_ || closed_ || !session_) return false;
  if (server_.holding()) {
    if (server_.seals_on_workers() && endpoint_->own_records()) {
      if (endpoint_->can_send(ip_packet.size()) != dtls::DtlsEndpoint::SendStatus::sent)
        return false;  // the caller sends it over CSTP now
      if (!worker_sealer_ && !no_worker_sealer_) {
        worker_sealer_ = endpoint_->sealer_for_another_thread();
        no_worker_sealer_ = !worker_sealer_;
      }
      if (worker_sealer_) {
        server_.to_seal(shared_from_this(), worker_sealer_, ip_packet);
        return true;
      }
    }
    auto& batch = server_.batch_list(*this);
    const std::size_t before = batch.sizes.size();
    const auto status = endpoint_->seal(kData, ip_packet, batch);
    const bool sealed = status == dtls::DtlsEndpoint::SendStatus::sent;
    if (sealed || batch.sizes.size() > before)
      server_.batched(shared_from_this(), sealed ? ip_packet : std::span<const std::uint8_t>{});
    return sealed;  // not sealed: the caller sends it over CSTP now
  }
  auto status = endpoint_->send(kData, ip_packet);
  if (status != dtls::DtlsEndpoint::SendStatus::sent) return false;  // caller falls back to CSTP
  if (!flush()) {
    // The session moves the downstream to CSTP; this packet goes there too (the caller).
    rt_.sessions.dtls_send_failed(session_, this);
    return false;
  }
  rt_.sessions.data_to_client(session_, session::Carrier::dtls, ip_packet.size());
  return true;
}

void DtlsTunnel::batch_done(std::span<const std::uint8_t> ip_packet, bool sent, bool unsealed) {
  if (ip_packet.empty() || !session_) return;
  if (sent) {
    rt_.sessions.data_to_client(session_, session::Carrier::dtls, ip_packet.size());
    return;
  }
  auto s = session_;  // dtls_send_failed and finish let go of us
  if (unsealed) {
    log::warn("dtls_seal_failed", {{"index", std::to_string(index_)},
                                   {"tunnel", std::to_string(index_) + ".3"},
                                   {"reason", "a data worker could not seal a record"}});
    finish(EndReason::transport_error);  // the session falls back to CSTP
  } else {
    rt_.sessions.dtls_send_failed(s, this);
  }
  if (s->ssl) s->ssl->send_packet(ip_packet);
}

void DtlsTunnel::send_dpd_request() {
  if (!attached_ || closed_) return;
  endpoint_->send(kDpdRequest, {});
  flush();
}

// openconnect brings its tun device up only after its MTU probe is answered, and when the answer
// lands in the same pass of its main loop it first sleeps for up to a second. A keepalive shortly
// after the first echoes wakes it, so the tunnel comes up in tens of milliseconds every time.
void DtlsTunnel::nudge_client() {
  if (nudges_left_ <= 0) return;
  --nudges_left_;
  handshake_timer_.expires_after(std::chrono::milliseconds(5));
  handshake_timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
    auto self = weak.lock();
    if (ec || !self || self->closed_ || !self->attached_) return;
    self->endpoint_->send(kKeepalive, {});
    self->flush();
  });
}

void DtlsTunnel::arm_handshake_timer() {
  auto when = endpoint_->next_timeout(rt_.clock.now());
  if (!when) return;
  handshake_timer_.expires_at(asio::steady_timer::time_point(when->time_since_epoch()));
  handshake_timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
    auto self = weak.lock();
    if (ec || !self || self->closed_) return;
    self->endpoint_->handle_timeout(self->rt_.clock.now());
    self->after_io();
  });
}

void DtlsTunnel::handshake_over() {
  if (std::exchange(handshaking_, false)) server_.handshake_over(app_id_);
}

void DtlsTunnel::log_down(EndReason reason) {
  log::info("tunnel_down", {{"index", std::to_string(index_)},
                            {"tunnel", std::to_string(index_) + ".3"},
                            {"kind", "dtls"},
                            {"public", peer_text_},
                            {"reason", session::to_string(reason)}});
}

// The session let go of us (replaced, DPD, session ended).
void DtlsTunnel::close(EndReason reason, bool) {
  if (closed_) return;
  closed_ = true;
  handshake_over();
  if (attached_) log_down(reason);
  session_ = {};
  handshake_timer_.cancel();
  endpoint_->close();
  flush();
  auto self = shared_from_this();  // forget() may drop the last owner
  server_.forget(peer_, this);
}

// We ended on our own (failure, peer's close_notify): tell the session, which falls back to CSTP.
void DtlsTunnel::finish(EndReason reason) {
  if (closed_) return;
  closed_ = true;
  handshake_over();
  handshake_timer_.cancel();
  auto self = shared_from_this();
  if (attached_) log_down(reason);
  if (session_) {
    auto s = std::exchange(session_, {});
    rt_.sessions.detach_dtls(s, this, reason);
  }
  server_.forget(peer_, this);
}

}  // namespace tandem::server
