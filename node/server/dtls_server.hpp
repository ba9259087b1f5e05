#pragma once
// The UDP side of the headend: one socket on the listen address, demultiplexing datagrams to
// DTLS tunnels by source address, and new handshakes by the ClientHello's session id, which
// openconnect fills with the X-DTLS-App-ID we gave it on CONNECT (notes §5.2). A cookie exchange
// keeps spoofed sources from creating state.
#include <array>
#include <boost/asio/ip/udp.hpp>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "node/dtls/client_hello.hpp"
#include "node/dtls/dtls_endpoint.hpp"
#include "node/server/downstream_sends.hpp"
#include "node/server/runtime.hpp"

namespace tandem::server {

class DtlsTunnel;

class DtlsServer {
 public:
  // Binds the UDP socket (before the privilege drop; see Headend::open).
  static Result<asio::ip::udp::socket> bind(asio::io_context& io,
                                            const asio::ip::udp::endpoint& at);
  // Serves on a socket from bind(), made on rt.io. Refusals are logged through `refusal_log`
  // (the front door's connection log: one budget for TCP and UDP refusals).
  // `workers` (may be null) make the downstream sends (downstream_sends.hpp).
  static Result<std::unique_ptr<DtlsServer>> open(TunnelRuntime& rt, log::LogLimiter& refusal_log,
                                                  asio::ip::udp::socket socket,
                                                  DataWorkers* workers);
  ~DtlsServer();

  void start();
  std::uint16_t port() const { return port_; }

  // Called for each CONNECT that negotiates DTLS; returns the App-ID (32 raw bytes) the client
  // will present. Valid until unregister_tunnel, i.e. for the life of that TLS connection.
  std::string register_tunnel(std::uint64_t session_index, const std::array<std::uint8_t, 32>& psk);
  // The same for legacy DTLS 1.2 (docs/dtls-modes.md): the id returned is the session id the
  // client will ask to resume (X-DTLS-Session-ID), `legacy` brings its master secret and suite.
  std::string register_legacy_tunnel(std::uint64_t session_index, dtls::LegacySession legacy);
  void unregister_tunnel(const std::string& app_id);

  // For DtlsTunnel.
  // False when the socket refused the datagram for a reason other than a full queue (no route,
  // a local firewall): the client cannot be reached over UDP from here. A full queue drops the
  // datagram, as UDP may.
  bool send_to(const asio::ip::udp::endpoint& peer, std::span<const std::uint8_t> datagram);
  void forget(const asio::ip::udp::endpoint& peer, const DtlsTunnel* tunnel);

  // Downstream batching for one TUN drain (TunRouter, docs/data-plane.md): from hold_sends() to
  // release_sends(), DtlsTunnel::send_packet encrypts into a batch instead of sending, and the
  // packets it was given must stay valid until release_sends(), which sends the batches
  // (sendmmsg, UDP GSO runs; on the data workers if there are any) and then tells each tunnel
  // what became of each of its packets (downstream_sends.hpp).
  void hold_sends() { sends_.hold(); }
  void release_sends() { sends_.release(); }
  bool holding() const { return sends_.holding(); }
  // While holding: seal into batch_list(tunnel), then hand the packet over (an empty span when
  // the datagrams sealed carry no packet of ours, such as an alert).
  dtls::DatagramList& batch_list(const DtlsTunnel& tunnel) { return sends_.list_for(tunnel); }
  void batched(std::shared_ptr<DtlsTunnel> tunnel, std::span<const std::uint8_t> packet) {
    sends_.batched(std::move(tunnel), packet);
  }
  // With data workers, an association whose records are ours is sealed there instead: while
  // holding, hand over the plaintext packet and the association's worker sealer
  // (downstream_sends.hpp).
  bool seals_on_workers() const { return sends_.seals_on_workers(); }
  void to_seal(std::shared_ptr<DtlsTunnel> tunnel, std::shared_ptr<dtls::RecordSealer> sealer,
               std::span<const std::uint8_t> packet) {
    sends_.to_seal(std::move(tunnel), std::move(sealer), packet);
  }
  // The association now talks to `to` (NAT rebinding).
  void moved(const asio::ip::udp::endpoint& from, const asio::ip::udp::endpoint& to,
             const DtlsTunnel* tunnel);
  // Once per association, when its handshake ended (completed, failed or abandoned).
  void handshake_over(const std::string& app_id);

  std::uint64_t dropped_datagrams() const { return dropped_; }
  // Handshakes past the cookie exchange and not yet done; [limits] dtls_handshakes caps them,
  // and dtls_handshakes_per_session caps those made with one registration (App-ID).
  std::size_t handshakes() const { return handshakes_; }
  std::uint64_t refused_handshakes() const { return refused_total_; }
  std::uint64_t refused_handshakes_per_session() const { return refused_per_session_; }

 private:
  DtlsServer(TunnelRuntime& rt, log::LogLimiter& refusal_log, asio::ip::udp::socket socket,
             dtls::ContextPtr ctx, dtls::ContextPtr legacy_ctx, dtls::CookieGuard guard,
             DataWorkers* workers);
  std::string new_id();
  asio::awaitable<void> receive_loop();
  void on_datagram(const asio::ip::udp::endpoint& peer, std::span<const std::uint8_t> datagram);
  // A record from an unknown source: an association of the same address may have moved port.
  bool rebind(const asio::ip::udp::endpoint& peer, std::span<const std::uint8_t> datagram);
  void start_handshake(const asio::ip::udp::endpoint& peer, std::span<const std::uint8_t> datagram,
                       const std::vector<std::uint8_t>& session_id);

  struct Registration {
    std::uint64_t session_index;
    std::array<std::uint8_t, 32> psk;
    std::optional<dtls::LegacySession> legacy;  // set: a legacy registration (psk unused)
    std::weak_ptr<DtlsTunnel> latest;           // the association made from it, if any
    std::size_t handshakes = 0;                 // of its associations, those still handshaking
  };
  bool admit_handshake(const asio::ip::udp::endpoint& peer, Registration& reg);

  TunnelRuntime& rt_;
  log::LogLimiter& refusal_log_;
  asio::ip::udp::socket socket_;
  std::uint16_t port_;
  dtls::ContextPtr ctx_;
  dtls::ContextPtr legacy_ctx_;
  dtls::CookieGuard guard_;
  std::unordered_map<std::string, Registration> registrations_;
  std::map<asio::ip::udp::endpoint, std::shared_ptr<DtlsTunnel>> by_peer_;
  std::uint64_t dropped_ = 0;
  std::size_t handshakes_ = 0;
  std::uint64_t refused_total_ = 0;
  std::uint64_t refused_per_session_ = 0;
  DownstreamSends sends_;  // on socket_, counting into dropped_
};

}  // namespace tandem::server
