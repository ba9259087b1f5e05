#pragma once
// DTLS 1.2 record protection for the AEAD suites (AES-GCM, ChaCha20-Poly1305), without OpenSSL's
// SSL object. Once an association's handshake is over, what it needs to carry records is two
// keys, two IVs, its write sequence number and a replay window: a few hundred bytes, where the
// SSL object keeps about 45 KB (tests/bench/SCALE.md). DtlsEndpoint switches to this once the
// client has proved it finished the handshake (docs/data-plane.md, "After the handshake").
// Bytes in, bytes out: no I/O.
#include <openssl/types.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/result.hpp"

namespace tandem::dtls {

enum class Aead { aes_128_gcm, aes_256_gcm, chacha20_poly1305 };

inline constexpr std::size_t kRecordHeader = 13;  // type, version, epoch, sequence, length
inline constexpr std::uint8_t kContentAlert = 21;
inline constexpr std::uint8_t kContentHandshake = 22;
inline constexpr std::uint8_t kContentApplicationData = 23;

// One direction's key and IV. GCM uses the first 4 IV bytes (the salt, RFC 5288); ChaCha20-
// Poly1305 all 12 (RFC 7905).
struct DirectionKeys {
  std::vector<std::uint8_t> key;
  std::array<std::uint8_t, 12> iv{};
};

struct RecordKeys {
  DirectionKeys client_write;
  DirectionKeys server_write;
};

// RFC 5246 §6.3: key_block = PRF(master_secret, "key expansion", server_random || client_random)
// with the suite's PRF hash (`prf_digest`, e.g. "SHA384"), cut into client write key, server
// write key, client IV, server IV (AEAD suites have no MAC keys).
Result<RecordKeys> derive_record_keys(Aead aead, const std::string& prf_digest,
                                      std::span<const std::uint8_t> master_secret,
                                      std::span<const std::uint8_t> client_random,
                                      std::span<const std::uint8_t> server_random);

// RFC 6347 §4.1.2.6: a record is accepted once, and only within 64 of the newest accepted.
class ReplayWindow {
 public:
  bool fresh(std::uint64_t seq) const;
  void accept(std::uint64_t seq);

 private:
  std::uint64_t newest_ = 0;
  std::uint64_t seen_ = 0;  // bit i: newest_ - i was accepted
  bool any_ = false;
};

// The write half of an association: its key (in a cipher context of its own), IV and epoch, and
// the association's write sequence. A sealer made by another_thread() seals on another thread
// (a data worker, docs/data-plane.md "Sealing on the workers") with its own context: the two
// share only the sequence, an atomic, so no record number (and so no nonce) is ever used twice,
// whichever thread seals. Records sealed on both may leave out of order; DTLS allows that.
class RecordSealer {
 public:
  RecordSealer(Aead aead, const DirectionKeys& write, std::uint16_t epoch,
               std::uint64_t next_write_seq);
  ~RecordSealer();
  RecordSealer(const RecordSealer&) = delete;
  RecordSealer& operator=(const RecordSealer&) = delete;

  bool ok() const { return ok_; }
  // Appends one record of `content_type` whose plaintext is `head` followed by `body`. False
  // (and `out` unchanged) when it cannot: the sequence is spent, or the cipher failed.
  bool seal(std::uint8_t content_type, std::span<const std::uint8_t> head,
            std::span<const std::uint8_t> body, std::vector<std::uint8_t>& out);
  // A sealer for another thread, sharing this one's sequence; null if its context could not be
  // copied. Call on the thread that owns this one.
  std::unique_ptr<RecordSealer> another_thread() const;

 private:
  RecordSealer(const RecordSealer& from, int);

  Aead aead_;
  std::array<std::uint8_t, 12> iv_;
  std::uint16_t epoch_;
  std::shared_ptr<std::atomic<std::uint64_t>> next_seq_;
  EVP_CIPHER_CTX* ctx_ = nullptr;
  bool ok_ = false;
};

class RecordProtection {
 public:
  // `read`: the peer's write keys; `write`: ours. Records of other epochs are ignored.
  RecordProtection(Aead aead, const DirectionKeys& read, const DirectionKeys& write,
                   std::uint16_t epoch, std::uint64_t next_write_seq);
  ~RecordProtection();
  RecordProtection(const RecordProtection&) = delete;
  RecordProtection& operator=(const RecordProtection&) = delete;

  bool ok() const { return ok_; }
  // Bytes a record adds to its plaintext: header, explicit nonce (GCM), tag.
  std::size_t overhead() const;

  // Appends one record of `content_type` whose plaintext is `head` followed by `body`.
  bool seal(std::uint8_t content_type, std::span<const std::uint8_t> head,
            std::span<const std::uint8_t> body, std::vector<std::uint8_t>& out) {
    return sealer_.seal(content_type, head, body, out);
  }
  // A sealer for another thread (RecordSealer::another_thread).
  std::unique_ptr<RecordSealer> sealer_for_another_thread() const {
    return sealer_.another_thread();
  }

  // Calls `on_record(type, plaintext)` for each record of `datagram` that is of our epoch,
  // authenticates and is not a replay; the others are skipped and counted (DTLS drops them
  // silently). The plaintext is valid during the call only.
  void open(std::span<const std::uint8_t> datagram,
            const std::function<void(std::uint8_t, std::span<const std::uint8_t>)>& on_record);

  std::uint64_t rejected() const { return rejected_; }

 private:
  Aead aead_;
  std::array<std::uint8_t, 12> read_iv_;
  std::uint16_t epoch_;
  RecordSealer sealer_;
  EVP_CIPHER_CTX* open_ctx_ = nullptr;
  ReplayWindow window_;
  std::uint64_t rejected_ = 0;
  bool ok_ = false;
};

}  // namespace tandem::dtls
