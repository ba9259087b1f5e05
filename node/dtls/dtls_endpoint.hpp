#pragma once
// One server-side DTLS 1.2 association, driven entirely through memory, in either mode of
// docs/dtls-modes.md: PSK-NEGOTIATE (protocol doc §5.2-§5.6), or Cisco's legacy resumption of
// a session whose master secret the client sent on CONNECT (§5.5). Driven entirely through memory:
// the caller feeds received UDP payloads and sends what it pops. No sockets, no timers of its own;
// time is passed in.
//
// Datagram boundaries: OpenSSL 3.0 has no datagram memory BIO (BIO_s_dgram_mem is 3.2+), and a
// plain BIO_s_mem merges writes, so a tiny custom BIO queues each BIO_write as one datagram and
// serves each BIO_read from one datagram. OpenSSL itself decides what one write holds: during
// the handshake it packs a flight's records into one datagram up to the MTU (ServerHello +
// ServerHelloDone = 1 datagram); each application record (one send()) is its own datagram.
#include <openssl/types.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/clock.hpp"
#include "base/result.hpp"
#include "node/dtls/dtls_mode.hpp"
#include "node/dtls/record_protection.hpp"

namespace tandem::dtls {

inline constexpr std::size_t kPskSize = 32;
// Largest UDP payload we emit: Ethernet 1500 - IPv4 20 - UDP 8. Use 1452 for IPv6 peers.
inline constexpr std::size_t kDefaultMaxDatagram = 1472;
// openconnect abandons a handshake after 12 s; past that the association is dead anyway.
inline constexpr Duration kHandshakeTimeout = std::chrono::seconds(15);
inline constexpr Duration kInitialRetransmit = std::chrono::seconds(1);  // OpenSSL's default

struct ContextDeleter {
  void operator()(SSL_CTX* ctx) const noexcept;
};
using ContextPtr = std::unique_ptr<SSL_CTX, ContextDeleter>;

// The shared server context: DTLS 1.2 only, AEAD PSK suites (defaults::kDtlsCiphers: GCM and
// ChaCha20, what openconnect offers first; no CBC), no tickets, no session cache, EMS not
// required, no renegotiation (rekeying is a new association), PSK taken from the endpoint.
// Build once and share between endpoints (read-only after creation).
Result<ContextPtr> make_server_context();

// The legacy context: DTLS 1.2, the AEAD suites of dtls_mode.cpp, no certificate and no PSK, so
// the only handshake that can complete is the abbreviated one that resumes the session the
// endpoint was built with (its id and the client's master secret), handed to OpenSSL by the
// external session-cache callback. A client that does not resume gets a handshake failure.
Result<ContextPtr> make_legacy_server_context();

// What a legacy association resumes. Secret: never logged, replicated or stored.
struct LegacySession {
  std::array<std::uint8_t, kMasterSecretSize> master_secret{};
  std::array<std::uint8_t, kSessionIdSize> session_id{};
  std::uint16_t cipher_id = 0;  // the suite announced on CONNECT
};

struct EndpointOptions {
  std::size_t max_datagram = kDefaultMaxDatagram;  // DTLS MTU; OpenSSL 3.0 refuses < 208
  std::size_t max_queued_datagrams = 64;  // outgoing, not yet popped; beyond: dropped like UDP
  std::size_t max_queued_records = 256;   // received plaintext, not yet popped; beyond: dropped
  Duration handshake_timeout = kHandshakeTimeout;
  // Doubles per retransmission up to 60 s; at least 20 ms (OpenSSL rounds < 15 ms to "expired").
  Duration initial_retransmit = kInitialRetransmit;
};

// Datagrams laid back to back in one buffer, each one's size apart: where seal() writes, so a
// caller can send many with one system call without copying them again.
struct DatagramList {
  std::vector<std::uint8_t> bytes;
  std::vector<std::size_t> sizes;

  void append(const std::uint8_t* data, std::size_t n) {
    bytes.insert(bytes.end(), data, data + n);
    sizes.push_back(n);
  }
  void clear() {
    bytes.clear();
    sizes.clear();
  }
};

namespace detail {
// What OpenSSL callbacks reach through the SSL's ex_data and the BIO's data pointer.
struct Shared {
  std::array<std::uint8_t, kPskSize> psk{};
  std::optional<LegacySession> legacy;
  unsigned initial_retransmit_us = 1'000'000;
  // Only ever one received datagram, and only during feed(): the BIO reads it in place.
  std::span<const std::uint8_t> inbound;
  bool inbound_pending = false;
  std::deque<std::vector<std::uint8_t>> outbound;
  std::vector<std::vector<std::uint8_t>> spare;  // recycled buffers (bounded by max_outbound)
  std::size_t max_outbound = 64;
  std::uint64_t dropped_outbound = 0;
  DatagramList* capture = nullptr;  // set only during seal(): output goes there, not to the queue
  // The newest epoch-1 sequence number OpenSSL wrote (seen in its datagrams): our own records
  // continue after it (RecordProtection).
  std::optional<std::uint64_t> last_write_seq;
};
}  // namespace detail

class DtlsEndpoint {
 public:
  enum class SendStatus { sent, too_big, not_ready, failed };

  // The SSL takes its own reference on `ctx`. Setup problems (MTU below OpenSSL's minimum, OOM)
  // show up as failed() right away.
  DtlsEndpoint(SSL_CTX* ctx, std::span<const std::uint8_t, kPskSize> psk, TimePoint now,
               EndpointOptions options = {});
  // A legacy association; `ctx` from make_legacy_server_context().
  DtlsEndpoint(SSL_CTX* ctx, const LegacySession& legacy, TimePoint now,
               EndpointOptions options = {});
  ~DtlsEndpoint();
  DtlsEndpoint(const DtlsEndpoint&) = delete;  // OpenSSL callbacks hold a pointer to shared_
  DtlsEndpoint& operator=(const DtlsEndpoint&) = delete;

  // One received UDP payload. Before the handshake has started only a ClientHello is accepted
  // (if it carries a cookie, the CookieGuard already checked it). Invalid records are dropped
  // silently, as DTLS requires; afterwards pop_outgoing()/pop_received() have the results.
  // Once established, a plaintext (epoch 0) ClientHello is dropped here: a client restarting
  // DTLS needs a new endpoint. (A renegotiation attempt is encrypted, reaches OpenSSL here,
  // and is refused with a no_renegotiation alert.)
  void feed(std::span<const std::uint8_t> datagram);

  // One record of plaintext `type` + `payload` (one SSL_write). too_big if it would not fit in
  // max_datagram: the caller sends it over CSTP instead (or, for a DPD echo, a bare 0x04).
  SendStatus send(std::uint8_t type, std::span<const std::uint8_t> payload);
  // The same, but the datagram(s) the record makes are appended to `out` instead of the queue
  // (the caller sends them; the queue's bound does not apply, `out` is the caller's to bound).
  SendStatus seal(std::uint8_t type, std::span<const std::uint8_t> payload, DatagramList& out);

  // What send() would answer for a payload of `payload_size` bytes, without sending.
  SendStatus can_send(std::size_t payload_size) const;
  // Once records are ours (own_records()): a sealer for another thread that continues this
  // association's write sequence (RecordSealer::another_thread); a record it seals is one
  // send() would have made. Null before, or when its cipher context could not be copied.
  std::unique_ptr<RecordSealer> sealer_for_another_thread() const;

  // Datagrams to send to the peer, oldest first; drain after every feed/send/handle_timeout/
  // close, also after a failure (a fatal alert may be queued). Moves the datagram into `out` and
  // keeps `out`'s old storage for reuse, so a caller that reuses one vector allocates nothing
  // in steady state. False when none is queued.
  bool pop_outgoing(std::vector<std::uint8_t>& out);
  // Received plaintext records, each = 1 type byte + payload (never empty); same contract.
  bool pop_received(std::vector<std::uint8_t>& out);
  // Records are waiting: the last datagram fed authenticated under this association's keys.
  bool has_received() const { return !received_.empty(); }

  // When handle_timeout() should next be called; nullopt when no timer is needed. OpenSSL runs
  // its retransmission timer on its own real clock: the time it has left is added to `now`.
  std::optional<TimePoint> next_timeout(TimePoint now) const;
  // Retransmits the last handshake flight if OpenSSL's timer expired; fails the endpoint once
  // handshake_timeout has passed since construction without a completed handshake.
  void handle_timeout(TimePoint now);

  // Queue a close_notify (best effort; DTLS has no reliable close).
  void close();

  bool handshake_started() const { return started_; }
  bool handshake_done() const { return done_; }
  bool failed() const { return failed_; }
  bool peer_closed() const { return peer_closed_; }
  // The handshake's SSL object is gone and records are sealed and opened by RecordProtection
  // (docs/data-plane.md, "After the handshake").
  bool own_records() const { return records_ != nullptr; }
  const std::string& error() const { return error_; }

  // Largest payload (after the type byte) send() accepts; 0 before the handshake.
  std::size_t max_payload() const;
  std::string cipher_name() const;   // e.g. "PSK-AES256-GCM-SHA384"
  std::string version_name() const;  // e.g. "DTLSv1.2"
  std::uint64_t dropped_outgoing() const { return shared_.dropped_outbound; }
  std::uint64_t dropped_received() const { return dropped_received_; }
  std::uint64_t ignored_datagrams() const { return ignored_; }

 private:
  void init(SSL_CTX* ctx);
  void start(bool has_cookie);
  void drive();
  void read_records();
  void fail(std::string message);
  void note_records(std::span<const std::uint8_t> datagram);
  void apply_link_settings();
  void take_over_records(std::span<const std::uint8_t> last_datagram);
  void feed_own(std::span<const std::uint8_t> datagram);
  SendStatus send_own(std::uint8_t type, std::span<const std::uint8_t> payload);

  detail::Shared shared_;
  EndpointOptions options_;
  SSL* ssl_ = nullptr;
  TimePoint deadline_;
  bool started_ = false;
  bool done_ = false;
  bool failed_ = false;
  bool peer_closed_ = false;
  bool saw_encrypted_handshake_ = false;  // the client's Finished arrived (epoch 1)
  std::string error_;
  std::deque<std::vector<std::uint8_t>> received_;
  // Once the client has sent data after the handshake, records are ours (own_records()).
  std::unique_ptr<RecordProtection> records_;
  bool client_sent_data_ = false;  // OpenSSL returned a record after the handshake
  std::size_t own_max_payload_ = 0;
  std::string own_cipher_name_;
  std::string own_version_name_;
  std::uint64_t dropped_received_ = 0;
  std::uint64_t ignored_ = 0;
};

}  // namespace tandem::dtls
