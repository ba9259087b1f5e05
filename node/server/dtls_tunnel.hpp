#pragma once
// The DTLS tunnel (<index>.3): one DTLS 1.2 PSK association with the client, keyed from the TLS
// connection that carried the CONNECT. Data moves here once the handshake completes; control
// stays on CSTP (S1). Datagrams arrive from the DtlsServer, which owns the UDP socket.
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <string>
#include <vector>

#include "node/dtls/dtls_endpoint.hpp"
#include "node/server/runtime.hpp"
#include "node/session/session.hpp"

namespace tandem::server {

class DtlsServer;
using udp = asio::ip::udp;

class DtlsTunnel final : public session::Transport,
                         public std::enable_shared_from_this<DtlsTunnel> {
 public:
  DtlsTunnel(TunnelRuntime& rt, DtlsServer& server, udp::endpoint peer, std::uint64_t index,
             std::string app_id, std::unique_ptr<dtls::DtlsEndpoint> endpoint);
  ~DtlsTunnel() override;

  void on_datagram(std::span<const std::uint8_t> datagram);
  // A datagram from `peer`, a new source port of our client's address (a NAT rebinding): when it
  // holds a record that authenticates under this association's keys, the association follows
  // the client to `peer` (true) and the datagram is processed. Otherwise nothing changes.
  bool adopt_peer(const udp::endpoint& peer, std::span<const std::uint8_t> datagram);
  const udp::endpoint& peer() const { return peer_; }
  std::uint64_t index() const { return index_; }  // the session's
  bool established() const { return attached_; }
  const std::string& app_id() const { return app_id_; }

  bool send_packet(std::span<const std::uint8_t> ip_packet) override;
  // What became of a packet send_packet() put in the server's batch (DtlsServer::hold_sends):
  // counted when sent; when the socket refused it, the downstream moves to CSTP and the packet
  // goes there (docs/roaming.md). An empty packet is datagrams that carried none of ours.
  // `unsealed`: the worker's sealer refused it; it goes over CSTP and the association ends.
  void batch_done(std::span<const std::uint8_t> ip_packet, bool sent, bool unsealed);
  void close(session::EndReason reason, bool notify_client) override;
  void send_dpd_request() override;

 private:
  void after_io();
  bool flush();  // false when a datagram could not be sent (DtlsServer::send_to)
  void handle_record(const std::vector<std::uint8_t>& record);
  void arm_handshake_timer();
  void finish(session::EndReason reason);
  void log_down(session::EndReason reason);
  void nudge_client();
  void handshake_over();

  TunnelRuntime& rt_;
  DtlsServer& server_;
  udp::endpoint peer_;
  std::string peer_text_;
  std::uint64_t index_;
  std::string app_id_;
  std::unique_ptr<dtls::DtlsEndpoint> endpoint_;
  // Seals this association's downstream data on its data worker, once its records are ours.
  std::shared_ptr<dtls::RecordSealer> worker_sealer_;
  bool no_worker_sealer_ = false;  // its context could not be copied: seal here
  asio::steady_timer handshake_timer_;
  session::SessionRef session_;  // set once attached, cleared when let go
  bool attached_ = false;
  bool closed_ = false;
  bool handshaking_ = true;  // counted in the DtlsServer's handshakes until it ends
  int nudges_left_ = 3;
  std::vector<std::uint8_t> scratch_;
};

}  // namespace tandem::server
