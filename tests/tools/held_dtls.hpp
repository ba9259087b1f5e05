#pragma once
// A DTLS tunnel the load client holds beside its CSTP one (--dtls): the PSK-NEGOTIATE handshake
// as openconnect makes it (anyconnect-protocol.md §5.2: the App-ID as the session id of a
// made-up session, the PSK exported from the TLS connection), then what a quiet client does:
// answer DPD requests, send keepalives. OpenSSL works on memory; one connected UDP socket
// carries the datagrams.
#include <openssl/types.h>

#include <array>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "tests/tools/tls_connection.hpp"

namespace tandem::load {

using udp = asio::ip::udp;

// What the CONNECT answer offered for DTLS, and the key the TLS connection exported for it.
struct DtlsOffer {
  std::vector<std::uint8_t> app_id;  // X-DTLS-App-ID, decoded
  std::array<std::uint8_t, 32> psk{};
  udp::endpoint server;                           // the CONNECT's address, X-DTLS-Port
  asio::ip::address local;                        // the TLS connection's local address
  std::optional<std::chrono::seconds> keepalive;  // X-DTLS-Keepalive
};

// The exported PSK (label EXPORTER-openconnect-psk, no context), or nothing if OpenSSL refused.
std::optional<std::array<std::uint8_t, 32>> export_dtls_psk(SSL* tls);

class HeldDtls : public std::enable_shared_from_this<HeldDtls> {
 public:
  enum class Event { up, failed, lost };
  // `on_event` runs once with `up` or `failed` when the handshake ends, and once with `lost`
  // if an established tunnel ends before release().
  HeldDtls(asio::io_context& io, std::size_t index, DtlsOffer offer, SteadyDuration keepalive,
           SteadyDuration handshake_timeout,
           std::function<void(const HeldDtls&, Event, const std::string&)> on_event);
  ~HeldDtls();

  void start();
  void release();  // closes the socket; the server's association times out by DPD
  std::size_t index() const { return index_; }
  std::size_t dpd_answered() const { return dpd_answered_; }
  std::size_t keepalives_sent() const { return keepalives_sent_; }

 private:
  asio::awaitable<void> run();
  asio::awaitable<bool> handshake();
  asio::awaitable<void> keepalive_loop();
  bool flush();  // sends what OpenSSL wrote, as one datagram
  bool write_record(std::span<const std::uint8_t> payload);
  void end(Event event, const std::string& why);

  std::size_t index_;
  DtlsOffer offer_;
  SteadyDuration keepalive_;
  SteadyDuration handshake_timeout_;
  std::function<void(const HeldDtls&, Event, const std::string&)> on_event_;
  udp::socket socket_;
  asio::steady_timer timer_;
  asio::steady_timer keepalive_timer_;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  BIO* in_ = nullptr;   // owned by ssl_
  BIO* out_ = nullptr;  // owned by ssl_
  bool established_ = false;
  bool ended_ = false;
  std::size_t dpd_answered_ = 0;
  std::size_t keepalives_sent_ = 0;
};

}  // namespace tandem::load
