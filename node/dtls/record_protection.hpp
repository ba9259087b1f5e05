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

// A record a RecordOpener opened in place: its content type, its sequence number (for the
// caller's replay window) and where its plaintext now lies in the caller's buffer.
struct OpenedRecord {
  std::uint8_t type = 0;
  std::uint64_t seq = 0;
  std::size_t offset = 0;
  std::size_t size = 0;
};

// The read half of an association: its key (in a cipher context of its own), IV and epoch. It
// authenticates and decrypts records and keeps no state between them: the replay window stays
// with its one owner (RecordProtection), which judges each opened record's number. A RecordOpener
// made by another_thread() opens on a data worker (docs/data-plane.md, "Opening on the workers").
class RecordOpener {
 public:
  RecordOpener(Aead aead, const DirectionKeys& read, std::uint16_t epoch);
  ~RecordOpener();
  RecordOpener(const RecordOpener&) = delete;
  RecordOpener& operator=(const RecordOpener&) = delete;

  bool ok() const { return ok_; }
  // Whether a record with this 13-byte header and fragment could be ours (epoch, version, room
  // for nonce and tag), before paying for its decryption.
  bool plausible(const std::uint8_t* header, std::span<const std::uint8_t> fragment) const;
  // Decrypts a plausible record into `plain` (room for the fragment's size); its plaintext size,
  // or nullopt when it does not authenticate. `plain` may be the fragment's ciphertext itself
  // (fragment + explicit_nonce()): the record is then opened in place.
  std::optional<std::size_t> open(const std::uint8_t* header,
                                  std::span<const std::uint8_t> fragment, std::uint8_t* plain);
  // Opens every record of `datagram` in place; `base` is the datagram's offset in the caller's
  // buffer, which OpenedRecord::offset counts from. Appends one OpenedRecord per record that
  // authenticates; returns how many others there were.
  std::size_t open_in_place(std::span<std::uint8_t> datagram, std::size_t base,
                            std::vector<OpenedRecord>& out);
  std::size_t explicit_nonce() const;
  // An opener for another thread, with a copy of this one's keyed context; null if it could not
  // be copied. Call on the thread that owns this one.
  std::unique_ptr<RecordOpener> another_thread() const;

 private:
  RecordOpener(const RecordOpener& from, int);

  Aead aead_;
  std::array<std::uint8_t, 12> iv_;
  std::uint16_t epoch_;
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
  // An opener for another thread (RecordOpener::another_thread). What it opens comes back
  // through accept(): the replay window is only ever this object's.
  std::unique_ptr<RecordOpener> opener_for_another_thread() const {
    return opener_.another_thread();
  }
  // A record another thread's opener authenticated: true when it is not a replay (and it is
  // now counted as seen).
  bool accept(std::uint64_t seq);
  // Records another thread's opener could not open: counted as rejected.
  void rejected_elsewhere(std::size_t failed) { rejected_ += failed; }

  std::uint64_t rejected() const { return rejected_; }

 private:
  RecordSealer sealer_;
  RecordOpener opener_;
  ReplayWindow window_;
  std::uint64_t rejected_ = 0;
  bool ok_ = false;
};

}  // namespace tandem::dtls
