#pragma once
// Stateless handling of a DTLS ClientHello before any association exists (protocol doc §5.2,
// §5.6):
// - parse_client_hello: is this UDP datagram a DTLS 1.x ClientHello, and which tunnel is it for?
//   In PSK-NEGOTIATE mode the client copies X-DTLS-App-ID into the session_id field, so the
//   session_id is the demultiplexing key.
// - CookieGuard: optional HelloVerifyRequest exchange (RFC 6347 §4.2.1) so that a spoofed source
//   address cannot make us create an association. Pure: no SSL objects, no state per peer.
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "base/clock.hpp"
#include "base/result.hpp"

namespace tandem::dtls {

inline constexpr std::size_t kMaxSessionIdSize = 32;
inline constexpr std::size_t kRecordHeaderSize = 13;     // type, version, epoch+seq, length
inline constexpr std::size_t kHandshakeHeaderSize = 12;  // type, len, msg_seq, frag off/len
// Cookies stay valid for one to two periods; the client retries within milliseconds.
inline constexpr Duration kCookiePeriod = std::chrono::seconds(30);
inline constexpr std::size_t kCookieSize = 32;  // HMAC-SHA256; also fits DTLS 1.0's 32-byte limit

struct ClientHello {
  std::uint16_t record_version = 0;      // FE FF or FE FD
  std::uint16_t client_version = 0;      // FE FD = DTLS 1.2
  std::uint64_t record_sequence = 0;     // 48 bits (the epoch of a ClientHello is always 0)
  std::uint16_t message_seq = 0;         // 0 first time, 1 after a HelloVerifyRequest
  std::vector<std::uint8_t> session_id;  // 0..32 bytes: X-DTLS-App-ID in PSK-NEGOTIATE mode
  std::vector<std::uint8_t> cookie;      // empty unless answering a HelloVerifyRequest
  // True if the whole message is in this datagram; then cipher suites, compression methods and
  // extensions were length-checked too. A first fragment is still accepted (rare, but legal).
  bool complete = false;
};

// nullopt for anything that is not the first fragment of a well-formed DTLS 1.x ClientHello
// in epoch 0. Only the first record of the datagram is looked at. Never reads past `datagram`.
std::optional<ClientHello> parse_client_hello(std::span<const std::uint8_t> datagram);

// The HelloVerifyRequest datagram answering a ClientHello: record and server_version FE FF
// (RFC 6347 §4.2.1 says DTLS 1.0 regardless of the version to be negotiated), record sequence
// copied from the ClientHello, message_seq 0. `cookie` must be at most 255 bytes.
std::vector<std::uint8_t> build_hello_verify_request(std::uint64_t record_sequence,
                                                     std::span<const std::uint8_t> cookie);

struct CookieVerdict {
  enum class Action {
    proceed,            // cookie valid: create the association and feed it this datagram
    send_hello_verify,  // send `reply` back to the source; keep no state
    drop,               // not a ClientHello (or an unusable peer address)
  };
  Action action = Action::drop;
  std::vector<std::uint8_t> reply;  // the HelloVerifyRequest for send_hello_verify
};

// Cookie = HMAC-SHA256(secret, epoch || peer || session_id), epoch = now / period; the cookie of
// the current and of the previous epoch are accepted, so the effective key rotates every period
// without any timer. Binding the session_id is safe: openconnect keeps it in its second
// ClientHello [V]. Cheap to copy; share one per process (check() is const and thread-safe).
class CookieGuard {
 public:
  static constexpr std::size_t kMaxPeerSize = 128;  // sockaddr_storage

  // Random 32-byte secret from the CSPRNG.
  static Result<CookieGuard> create(Duration period = kCookiePeriod);
  // Explicit secret (16..64 bytes), e.g. shared by several worker threads, or for tests.
  static Result<CookieGuard> with_secret(std::span<const std::uint8_t> secret,
                                         Duration period = kCookiePeriod);

  // `peer` is any stable encoding of the source address and port (e.g. the raw sockaddr bytes);
  // at most kMaxPeerSize bytes.
  CookieVerdict check(std::span<const std::uint8_t> datagram, std::span<const std::uint8_t> peer,
                      TimePoint now) const;

 private:
  CookieGuard(std::span<const std::uint8_t> secret, Duration period);
  std::array<std::uint8_t, kCookieSize> cookie_for(std::int64_t epoch,
                                                   std::span<const std::uint8_t> peer,
                                                   std::span<const std::uint8_t> session_id) const;

  std::array<std::uint8_t, 64> secret_{};
  std::size_t secret_size_ = 0;
  Duration period_;
};

}  // namespace tandem::dtls
