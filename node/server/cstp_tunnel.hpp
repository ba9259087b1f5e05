#pragma once
// The SSL tunnel (<index>.2): CSTP frames over the TLS connection that carried the CONNECT.
// A read loop (client -> TUN) and a write loop draining a bounded queue (TUN -> client). Each
// frame is its own TLS record (one SSL_write, notes §4.1); the records of all queued frames go
// out in one socket write (TlsChannel). Everything queued towards the client is bounded: data
// frames (kMaxTunnelWriteQueue), control frames such as DPD replies (kMaxTunnelControlQueue),
// and encrypted bytes (kMaxTunnelTlsBacklog: beyond it the tunnel stops reading the client).
#include <openssl/ssl.h>

#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "node/cstp/frame.hpp"
#include "node/server/runtime.hpp"
#include "node/server/tls_channel.hpp"
#include "node/session/session.hpp"

namespace tandem::server {

class CstpTunnel final : public session::Transport,
                         public std::enable_shared_from_this<CstpTunnel> {
 public:
  CstpTunnel(TunnelRuntime& rt, std::unique_ptr<TlsStream> stream, session::SessionRef session,
             std::string public_address, std::string leftover, std::string dtls_app_id);
  ~CstpTunnel() override;

  void start();

  bool send_packet(std::span<const std::uint8_t> ip_packet) override;
  void close(session::EndReason reason, bool notify_client) override;
  void send_dpd_request() override;

 private:
  asio::awaitable<void> read_loop();
  asio::awaitable<void> write_loop();
  asio::awaitable<void> drain_until_closed();
  // Returns false when the tunnel must end.
  bool handle_frame(const cstp::Frame& frame);
  void handle_data(std::span<const std::uint8_t> packet);
  void enqueue(std::vector<std::uint8_t> frame, bool control);
  bool enqueue_control(cstp::Type type, std::span<const std::uint8_t> payload = {});
  std::vector<std::uint8_t> spare_buffer();
  bool process_plaintext();
  void finish(session::EndReason reason);
  void log_down(session::EndReason reason);
  void release_dtls_key();

  struct SslFree {
    void operator()(SSL* ssl) const { SSL_free(ssl); }
  };
  TunnelRuntime& rt_;
  // The connection's SSL and socket, taken out of the asio stream that made the handshake: the
  // stream's own buffers (2 x 17 KiB, and a BIO pair) would stay for the life of the tunnel,
  // unused, since TlsChannel does the TLS.
  std::unique_ptr<SSL, SslFree> ssl_;
  tcp::socket socket_;
  session::SessionRef session_;  // empty once the session let go of this tunnel
  std::uint64_t index_;
  std::string public_address_;
  cstp::Decoder decoder_;
  std::string leftover_;
  std::string dtls_app_id_;  // registered with the DtlsServer for the life of this connection
  TlsChannel tls_;
  std::vector<std::uint8_t> plain_;  // decrypted, not yet decoded
  struct Queued {
    std::vector<std::uint8_t> frame;
    bool control;
  };
  std::deque<Queued> queue_;
  std::size_t control_queued_ = 0;                // of queue_, the control frames
  std::vector<std::vector<std::uint8_t>> spare_;  // frame buffers for reuse
  asio::steady_timer wake_writer_;
  asio::steady_timer wake_reader_;  // the reader waits here while the TLS backlog is too large
  bool closing_ = false;
  bool finished_ = false;
};

}  // namespace tandem::server
