#include "tests/tools/held_dtls.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <cstring>

namespace tandem::load {
namespace {

constexpr std::size_t kMtu = 1400;
// The record types inside a DTLS record (the CSTP ones, without the header, §4.2).
constexpr std::uint8_t kDpdRequest = 0x03;
constexpr std::uint8_t kDpdResponse = 0x04;
constexpr std::uint8_t kKeepalive = 0x07;

unsigned int psk_callback(SSL* ssl, const char*, char* identity, unsigned int max_identity,
                          unsigned char* psk, unsigned int max_psk) {
  const auto* key = static_cast<const std::array<std::uint8_t, 32>*>(SSL_get_app_data(ssl));
  if (!key || max_identity < 4 || max_psk < key->size()) return 0;
  std::memcpy(identity, "psk", 4);  // openconnect's identity; the server ignores it
  std::memcpy(psk, key->data(), key->size());
  return static_cast<unsigned int>(key->size());
}

std::string openssl_error(const char* what) {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  char text[256] = "no detail";
  if (e != 0) ERR_error_string_n(e, text, sizeof text);
  return std::string(what) + ": " + text;
}

}  // namespace

std::optional<std::array<std::uint8_t, 32>> export_dtls_psk(SSL* tls) {
  static constexpr char kLabel[] = "EXPORTER-openconnect-psk";
  std::array<std::uint8_t, 32> psk{};
  if (SSL_export_keying_material(tls, psk.data(), psk.size(), kLabel, sizeof kLabel - 1, nullptr, 0,
                                 0) != 1) {
    ERR_clear_error();
    return std::nullopt;
  }
  return psk;
}

HeldDtls::HeldDtls(asio::io_context& io, std::size_t index, DtlsOffer offer,
                   SteadyDuration keepalive, SteadyDuration handshake_timeout,
                   std::function<void(const HeldDtls&, Event, const std::string&)> on_event)
    : index_(index),
      offer_(std::move(offer)),
      keepalive_(keepalive),
      handshake_timeout_(handshake_timeout),
      on_event_(std::move(on_event)),
      socket_(io),
      timer_(io),
      keepalive_timer_(io) {}

HeldDtls::~HeldDtls() {
  if (ssl_) SSL_free(ssl_);
  if (ctx_) SSL_CTX_free(ctx_);
}

void HeldDtls::start() {
  auto self = shared_from_this();
  asio::co_spawn(
      socket_.get_executor(), [self] { return self->run(); }, asio::detached);
}

void HeldDtls::release() {
  if (ended_) return;
  ended_ = true;
  on_event_ = nullptr;
  boost::system::error_code ignored;
  socket_.close(ignored);
  timer_.cancel();
  keepalive_timer_.cancel();
}

void HeldDtls::end(Event event, const std::string& why) {
  if (ended_) return;
  ended_ = true;
  boost::system::error_code ignored;
  socket_.close(ignored);
  timer_.cancel();
  keepalive_timer_.cancel();
  if (auto callback = std::move(on_event_)) callback(*this, event, why);
}

bool HeldDtls::flush() {
  const std::size_t pending = BIO_ctrl_pending(out_);
  if (pending == 0) return true;
  std::vector<std::uint8_t> datagram(pending);
  BIO_read(out_, datagram.data(), static_cast<int>(datagram.size()));
  boost::system::error_code ec;
  socket_.send(asio::buffer(datagram), 0, ec);
  // A full socket buffer drops the datagram as the network might; DTLS retransmits.
  return !ec || ec == asio::error::would_block || ec == asio::error::no_buffer_space;
}

bool HeldDtls::write_record(std::span<const std::uint8_t> payload) {
  ERR_clear_error();
  if (SSL_write(ssl_, payload.data(), static_cast<int>(payload.size())) <= 0) return false;
  return flush();
}

asio::awaitable<void> HeldDtls::run() {
  auto self = shared_from_this();  // alive across suspensions
  boost::system::error_code ec;
  socket_.open(offer_.server.protocol(), ec);
  if (!ec) socket_.bind(udp::endpoint(offer_.local, 0), ec);
  if (!ec) socket_.connect(offer_.server, ec);
  if (!ec) socket_.non_blocking(true, ec);
  if (ec) {
    end(Event::failed, "UDP socket: " + ec.message());
    co_return;
  }
  ctx_ = SSL_CTX_new(DTLS_client_method());
  if (ctx_) {  // before SSL_new, which copies the context's settings
    SSL_CTX_set_min_proto_version(ctx_, DTLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(ctx_, DTLS1_2_VERSION);
    SSL_CTX_set_cipher_list(ctx_, "PSK-AES256-GCM-SHA384:PSK-AES128-GCM-SHA256");
    SSL_CTX_set_psk_client_callback(ctx_, psk_callback);
  }
  ssl_ = ctx_ ? SSL_new(ctx_) : nullptr;
  in_ = BIO_new(BIO_s_mem());
  out_ = BIO_new(BIO_s_mem());
  if (!ssl_ || !in_ || !out_) {
    if (in_) BIO_free(in_);
    if (out_) BIO_free(out_);
    in_ = out_ = nullptr;
    end(Event::failed, openssl_error("DTLS context"));
    co_return;
  }
  SSL_set_app_data(ssl_, &offer_.psk);
  BIO_set_mem_eof_return(in_, -1);
  SSL_set_bio(ssl_, in_, out_);
  SSL_set_options(ssl_, SSL_OP_NO_QUERY_MTU);
  SSL_set_mtu(ssl_, kMtu);
  SSL_set_connect_state(ssl_);
  // The App-ID travels as the session id of a session we pretend to resume (§5.2); the server
  // finds the registration by it and makes a full PSK handshake.
  SSL_SESSION* session = SSL_SESSION_new();
  SSL_SESSION_set1_id(session, offer_.app_id.data(), static_cast<unsigned>(offer_.app_id.size()));
  SSL_SESSION_set_protocol_version(session, DTLS1_2_VERSION);
  SSL_SESSION_set_cipher(session,
                         SSL_CIPHER_find(ssl_, reinterpret_cast<const unsigned char*>("\x00\xA9")));
  SSL_SESSION_set1_master_key(session, offer_.psk.data(), offer_.psk.size());
  SSL_set_session(ssl_, session);
  SSL_SESSION_free(session);

  if (!co_await handshake()) co_return;
  established_ = true;
  if (on_event_) on_event_(*this, Event::up, "");
  // openconnect's first record after the handshake is a DPD request (its MTU probe); the
  // server answers it and knows the client has finished the handshake.
  const std::uint8_t probe[1] = {kDpdRequest};
  if (!write_record(probe)) {
    end(Event::lost, "DTLS send failed");
    co_return;
  }
  asio::co_spawn(
      socket_.get_executor(), [self] { return self->keepalive_loop(); }, asio::detached);

  std::vector<std::uint8_t> datagram(64 * 1024);
  std::vector<std::uint8_t> record(17 * 1024);
  while (!ended_) {
    auto [rec, n] = co_await socket_.async_receive(asio::buffer(datagram), use_nothrow);
    if (ended_) co_return;
    if (rec) {
      end(Event::lost, "DTLS receive: " + rec.message());
      co_return;
    }
    BIO_write(in_, datagram.data(), static_cast<int>(n));
    for (;;) {
      ERR_clear_error();
      const int m = SSL_read(ssl_, record.data(), static_cast<int>(record.size()));
      if (m <= 0) {
        const int err = SSL_get_error(ssl_, m);
        if (err == SSL_ERROR_WANT_READ) break;
        end(Event::lost, err == SSL_ERROR_ZERO_RETURN ? "server closed the DTLS association"
                                                      : openssl_error("DTLS read"));
        co_return;
      }
      if (record[0] == kDpdRequest) {
        record[0] = kDpdResponse;  // same payload back (§6)
        ++dpd_answered_;
        if (!write_record(std::span(record.data(), static_cast<std::size_t>(m)))) {
          end(Event::lost, "DTLS send failed");
          co_return;
        }
      }
    }
  }
}

asio::awaitable<bool> HeldDtls::handshake() {
  const auto deadline = std::chrono::steady_clock::now() + handshake_timeout_;
  std::vector<std::uint8_t> datagram(64 * 1024);
  for (;;) {
    ERR_clear_error();
    const int r = SSL_do_handshake(ssl_);
    const int err = r == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl_, r);
    if (!flush()) {
      end(Event::failed, "DTLS handshake: send failed");
      co_return false;
    }
    if (r == 1) co_return true;
    if (err != SSL_ERROR_WANT_READ) {
      end(Event::failed, openssl_error("DTLS handshake"));
      co_return false;
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      end(Event::failed, "DTLS handshake timed out");
      co_return false;
    }
    // Wait for a datagram, or until OpenSSL wants to retransmit its flight.
    SteadyDuration wait = std::chrono::seconds(1);
    timeval tv{};
    if (DTLSv1_get_timeout(ssl_, &tv) == 1)
      wait = std::chrono::seconds(tv.tv_sec) + std::chrono::microseconds(tv.tv_usec);
    timer_.expires_after(std::min<SteadyDuration>(wait, deadline - now));
    timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec) self->socket_.cancel();
    });
    auto [ec] = co_await socket_.async_wait(udp::socket::wait_read, use_nothrow);
    timer_.cancel();
    if (ended_) co_return false;
    if (ec == asio::error::operation_aborted) {
      DTLSv1_handle_timeout(ssl_);  // retransmits if the timer really ran out
      continue;
    }
    if (ec) {
      end(Event::failed, "DTLS handshake: " + ec.message());
      co_return false;
    }
    for (;;) {
      boost::system::error_code rec;
      const std::size_t n = socket_.receive(asio::buffer(datagram), 0, rec);
      if (rec == asio::error::would_block) break;
      if (rec) {
        end(Event::failed, "DTLS handshake: " + rec.message());
        co_return false;
      }
      BIO_write(in_, datagram.data(), static_cast<int>(n));
    }
  }
}

asio::awaitable<void> HeldDtls::keepalive_loop() {
  auto self = shared_from_this();
  const std::uint8_t keepalive[1] = {kKeepalive};
  while (!ended_) {
    keepalive_timer_.expires_after(keepalive_);
    auto [ec] = co_await keepalive_timer_.async_wait(use_nothrow);
    if (ec || ended_) co_return;
    if (!write_record(keepalive)) {
      end(Event::lost, "DTLS send failed");
      co_return;
    }
    ++keepalives_sent_;
  }
}

}  // namespace tandem::load
