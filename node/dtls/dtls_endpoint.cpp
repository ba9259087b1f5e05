#include "node/dtls/dtls_endpoint.hpp"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cstring>

#include "node/config/defaults.hpp"
#include "node/dtls/client_hello.hpp"

namespace tandem::dtls {
namespace {

constexpr std::size_t kMaxPlaintext = 16384;  // SSL3_RT_MAX_PLAIN_LENGTH
constexpr std::size_t kMaxSpare = 64;
constexpr unsigned kMaxRetransmitUs = 60'000'000;  // OpenSSL's own cap
// DTLSv1_get_timeout reports anything under 15 ms as already expired, so a shorter timer would
// retransmit on every read.
constexpr long long kMinRetransmitUs = 20'000;

// Drains OpenSSL's (thread-local) error queue into one line of reason strings.
std::string openssl_errors() {
  std::string out;
  while (const unsigned long code = ERR_get_error()) {
    char buf[256];
    const char* reason = ERR_reason_error_string(code);
    if (reason == nullptr) {
      ERR_error_string_n(code, buf, sizeof buf);
      reason = buf;
    }
    if (!out.empty()) out += "; ";
    out += reason;
  }
  return out;
}

std::string describe(const char* what, int ssl_error) {
  std::string detail = openssl_errors();
  if (detail.empty()) {
    detail = ssl_error == SSL_ERROR_SYSCALL ? "I/O error" : "error " + std::to_string(ssl_error);
  }
  return std::string(what) + ": " + detail;
}

void recycle(detail::Shared& shared, std::vector<std::uint8_t>&& buffer) {
  if (shared.spare.size() < kMaxSpare && buffer.capacity() > 0) {
    buffer.clear();
    shared.spare.push_back(std::move(buffer));
  }
}

std::vector<std::uint8_t> fresh_buffer(detail::Shared& shared) {
  if (shared.spare.empty()) return {};
  auto buffer = std::move(shared.spare.back());
  shared.spare.pop_back();
  return buffer;
}

// The newest sequence number among a datagram's epoch-1 records (the epoch of the first
// handshake's keys), if it has any: where our own records continue (RecordProtection).
std::optional<std::uint64_t> newest_epoch1_seq(std::span<const std::uint8_t> datagram) {
  std::optional<std::uint64_t> newest;
  while (datagram.size() >= kRecordHeaderSize) {
    const std::size_t epoch = (std::size_t{datagram[3]} << 8) | datagram[4];
    std::uint64_t seq = 0;
    for (int i = 5; i < 11; ++i) seq = (seq << 8) | datagram[i];
    const std::size_t length = (std::size_t{datagram[11]} << 8) | datagram[12];
    if (epoch == 1) newest = std::max(newest.value_or(0), seq);
    if (length > datagram.size() - kRecordHeaderSize) break;
    datagram = datagram.subspan(kRecordHeaderSize + length);
  }
  return newest;
}

void note_written(detail::Shared& shared, const char* data, int len) {
  const auto seq = newest_epoch1_seq(
      std::span(reinterpret_cast<const std::uint8_t*>(data), static_cast<std::size_t>(len)));
  if (seq) shared.last_write_seq = std::max(shared.last_write_seq.value_or(0), *seq);
}

// --- the datagram BIO: one BIO_write = one datagram out, one BIO_read = one datagram in ---

int bio_write(BIO* bio, const char* data, int len) {
  BIO_clear_retry_flags(bio);
  auto* shared = static_cast<detail::Shared*>(BIO_get_data(bio));
  if (shared == nullptr || data == nullptr || len < 0) return -1;
  note_written(*shared, data, len);
  if (shared->capture != nullptr) {
    shared->capture->append(reinterpret_cast<const std::uint8_t*>(data),
                            static_cast<std::size_t>(len));
    return len;
  }
  // A full queue behaves like a congested network: the datagram is lost, not the association;
  // DTLS retransmits handshake flights, and tunnel traffic tolerates loss.
  if (shared->outbound.size() >= shared->max_outbound) {
    ++shared->dropped_outbound;
    return len;
  }
  auto buffer = fresh_buffer(*shared);
  buffer.assign(data, data + len);
  shared->outbound.push_back(std::move(buffer));
  return len;
}

int bio_read(BIO* bio, char* out, int len) {
  BIO_clear_retry_flags(bio);
  auto* shared = static_cast<detail::Shared*>(BIO_get_data(bio));
  if (shared == nullptr || out == nullptr || len < 0) return -1;
  if (!shared->inbound_pending) {
    BIO_set_retry_read(bio);
    return -1;
  }
  // Like recvfrom: a datagram larger than the buffer is truncated, never split across reads.
  const std::size_t n = std::min(shared->inbound.size(), static_cast<std::size_t>(len));
  std::memcpy(out, shared->inbound.data(), n);
  shared->inbound_pending = false;
  return static_cast<int>(n);
}

// No IP/UDP header overhead (GET_MTU_OVERHEAD = 0): our MTU already is the UDP payload size.
// QUERY_MTU is never asked (SSL_OP_NO_QUERY_MTU), and every other dgram control is optional.
long bio_ctrl(BIO* bio, int cmd, long /*num*/, void* /*ptr*/) {
  const auto* shared = static_cast<detail::Shared*>(BIO_get_data(bio));
  if (cmd == BIO_CTRL_FLUSH) return 1;
  if (cmd == BIO_CTRL_PENDING && shared != nullptr && shared->inbound_pending) {
    return static_cast<long>(shared->inbound.size());
  }
  return 0;
}

int bio_create(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

int bio_destroy(BIO* bio) {
  BIO_set_data(bio, nullptr);  // the endpoint owns the queues
  return 1;
}

const BIO_METHOD* datagram_bio_method() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "tandem-dgram");
    if (m == nullptr) return m;
    BIO_meth_set_write(m, bio_write);
    BIO_meth_set_read(m, bio_read);
    BIO_meth_set_ctrl(m, bio_ctrl);
    BIO_meth_set_create(m, bio_create);
    BIO_meth_set_destroy(m, bio_destroy);
    return m;
  }();
  return method;
}

// --- OpenSSL callbacks ---

int ex_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

detail::Shared* shared_of(SSL* ssl) {
  return static_cast<detail::Shared*>(SSL_get_ex_data(ssl, ex_index()));
}

// The identity is ignored: openconnect always sends "psk" (§5.2); the key is per association.
unsigned int psk_server_cb(SSL* ssl, const char* /*identity*/, unsigned char* psk,
                           unsigned int max_psk_len) {
  const auto* shared = shared_of(ssl);
  if (shared == nullptr || max_psk_len < kPskSize) return 0;
  std::memcpy(psk, shared->psk.data(), kPskSize);
  return kPskSize;
}

// Legacy mode: the client asks to resume the session id we announced; build that session from
// the master secret it sent us. Anything else is a cache miss, and with no certificate and no
// PSK the full handshake OpenSSL then tries fails.
SSL_SESSION* get_session_cb(SSL* ssl, const unsigned char* id, int length, int* copy) {
  *copy = 0;  // OpenSSL takes the one reference we return
  const auto* shared = shared_of(ssl);
  if (shared == nullptr || !shared->legacy) return nullptr;
  const auto& legacy = *shared->legacy;
  if (length != static_cast<int>(legacy.session_id.size()) ||
      std::memcmp(id, legacy.session_id.data(), legacy.session_id.size()) != 0) {
    return nullptr;
  }
  const unsigned char suite[2] = {static_cast<unsigned char>(legacy.cipher_id >> 8),
                                  static_cast<unsigned char>(legacy.cipher_id & 0xFF)};
  const SSL_CIPHER* cipher = SSL_CIPHER_find(ssl, suite);
  SSL_SESSION* session = cipher != nullptr ? SSL_SESSION_new() : nullptr;
  if (session == nullptr) return nullptr;
  if (SSL_SESSION_set1_id(session, id, static_cast<unsigned>(length)) != 1 ||
      SSL_SESSION_set_protocol_version(session, DTLS1_2_VERSION) != 1 ||
      SSL_SESSION_set_cipher(session, cipher) != 1 ||
      SSL_SESSION_set1_master_key(session, legacy.master_secret.data(),
                                  legacy.master_secret.size()) != 1) {
    SSL_SESSION_free(session);
    return nullptr;
  }
  SSL_SESSION_set_time(session, static_cast<long>(time(nullptr)));
  SSL_SESSION_set_timeout(session, 3600);
  return session;
}

unsigned int timer_cb(SSL* ssl, unsigned int previous_us) {
  const auto* shared = shared_of(ssl);
  const unsigned initial = shared != nullptr ? shared->initial_retransmit_us : 1'000'000;
  if (previous_us == 0) return initial;
  return previous_us >= kMaxRetransmitUs / 2 ? kMaxRetransmitUs : previous_us * 2;
}

// DTLSv1_listen is only run on a ClientHello the CookieGuard has already accepted (it is how
// OpenSSL learns to expect message_seq 1), so every cookie that reaches it is good, and it never
// has to mint one.
int cookie_generate_cb(SSL*, unsigned char*, unsigned int*) { return 0; }
int cookie_verify_cb(SSL*, const unsigned char*, unsigned int) { return 1; }

}  // namespace

void ContextDeleter::operator()(SSL_CTX* ctx) const noexcept { SSL_CTX_free(ctx); }

namespace {

// What both server contexts share: DTLS 1.2 only, `ciphers`, no tickets, no compression, no
// renegotiation (the CONNECT answer says X-DTLS-Rekey-Method: none, so a client that wants new
// keys makes a new association; a renegotiating ClientHello gets a no_renegotiation alert and the
// association stays as it was), and the cookie callbacks DTLSv1_listen needs.
Result<ContextPtr> make_dtls12_context(const char* ciphers, const char* which) {
  ERR_clear_error();
  ContextPtr ctx(SSL_CTX_new(DTLS_server_method()));
  if (!ctx) return fail("dtls: SSL_CTX_new failed: " + openssl_errors());
  if (SSL_CTX_set_min_proto_version(ctx.get(), DTLS1_2_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(ctx.get(), DTLS1_2_VERSION) != 1) {
    return fail("dtls: cannot restrict to DTLS 1.2: " + openssl_errors());
  }
  if (SSL_CTX_set_cipher_list(ctx.get(), ciphers) != 1) {
    return fail(std::string("dtls: no usable ") + which + " cipher suite: " + openssl_errors());
  }
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_TICKET | SSL_OP_NO_QUERY_MTU | SSL_OP_NO_RENEGOTIATION |
                                     SSL_OP_NO_COMPRESSION);
  SSL_CTX_clear_options(
      ctx.get(), SSL_OP_ALLOW_CLIENT_RENEGOTIATION | SSL_OP_ALLOW_UNSAFE_LEGACY_RENEGOTIATION);
  SSL_CTX_set_cookie_generate_cb(ctx.get(), cookie_generate_cb);
  SSL_CTX_set_cookie_verify_cb(ctx.get(), cookie_verify_cb);
  if (datagram_bio_method() == nullptr || ex_index() < 0) {
    return fail("dtls: cannot register the datagram BIO: " + openssl_errors());
  }
  return ctx;
}

}  // namespace

Result<ContextPtr> make_server_context() {
  auto ctx = make_dtls12_context(defaults::kDtlsCiphers, "PSK");
  if (!ctx) return ctx;
  // No EMS requirement: OpenSSL 3.0 servers accept clients without it (openconnect sends none).
  SSL_CTX_set_options(ctx->get(), SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_session_cache_mode(ctx->get(), SSL_SESS_CACHE_OFF);
  SSL_CTX_set_psk_server_callback(ctx->get(), psk_server_cb);
  return ctx;
}

Result<ContextPtr> make_legacy_server_context() {
  auto ctx = make_dtls12_context(defaults::kDtlsLegacyCiphers, "legacy");
  if (!ctx) return ctx;
  // Server-side lookups, but only through the callback: nothing is ever stored in OpenSSL's own
  // cache, so a master secret lives only in its endpoint.
  SSL_CTX_set_session_cache_mode(ctx->get(), SSL_SESS_CACHE_SERVER | SSL_SESS_CACHE_NO_INTERNAL);
  SSL_CTX_sess_set_get_cb(ctx->get(), get_session_cb);
  return ctx;
}

DtlsEndpoint::DtlsEndpoint(SSL_CTX* ctx, std::span<const std::uint8_t, kPskSize> psk, TimePoint now,
                           EndpointOptions options)
    : options_(options), deadline_(now + options.handshake_timeout) {
  std::copy(psk.begin(), psk.end(), shared_.psk.begin());
  init(ctx);
}

DtlsEndpoint::DtlsEndpoint(SSL_CTX* ctx, const LegacySession& legacy, TimePoint now,
                           EndpointOptions options)
    : options_(options), deadline_(now + options.handshake_timeout) {
  shared_.legacy = legacy;
  init(ctx);
}

void DtlsEndpoint::init(SSL_CTX* ctx) {
  shared_.max_outbound = std::max<std::size_t>(options_.max_queued_datagrams, 1);
  const auto initial_us =
      std::chrono::duration_cast<std::chrono::microseconds>(options_.initial_retransmit).count();
  shared_.initial_retransmit_us =
      static_cast<unsigned>(std::clamp<long long>(initial_us, kMinRetransmitUs, kMaxRetransmitUs));

  ERR_clear_error();
  const BIO_METHOD* method = datagram_bio_method();
  ssl_ = ctx != nullptr && method != nullptr ? SSL_new(ctx) : nullptr;
  if (ssl_ == nullptr) {
    fail("dtls: cannot create the association: " + openssl_errors());
    return;
  }
  BIO* bio = BIO_new(method);
  if (bio == nullptr || SSL_set_ex_data(ssl_, ex_index(), &shared_) != 1) {
    BIO_free(bio);
    fail("dtls: cannot set up the association: " + openssl_errors());
    return;
  }
  BIO_set_data(bio, &shared_);
  SSL_set_bio(ssl_, bio, bio);  // one reference, used for both directions
  SSL_set_accept_state(ssl_);
  apply_link_settings();
}

DtlsEndpoint::~DtlsEndpoint() {
  SSL_free(ssl_);  // also frees the BIO, before shared_ goes away
  OPENSSL_cleanse(shared_.psk.data(), shared_.psk.size());
  if (shared_.legacy) {
    OPENSSL_cleanse(shared_.legacy->master_secret.data(), shared_.legacy->master_secret.size());
  }
}

void DtlsEndpoint::apply_link_settings() {
  // Memory BIOs cannot report a path MTU, so it is fixed here; without NO_QUERY_MTU OpenSSL
  // would ask the BIO and give up.
  SSL_set_options(ssl_, SSL_OP_NO_QUERY_MTU);
  if (SSL_set_mtu(ssl_, static_cast<long>(options_.max_datagram)) <= 0) {
    ERR_clear_error();
    fail("dtls: max_datagram " + std::to_string(options_.max_datagram) +
         " is below OpenSSL's minimum DTLS MTU");
    return;
  }
  // No record is larger than a datagram (send() refuses bigger payloads), so OpenSSL's write
  // buffer need not be sized for 16 KiB records: held associations are many.
  SSL_set_max_send_fragment(ssl_, std::max<long>(512, static_cast<long>(options_.max_datagram)));
  ERR_clear_error();
  DTLS_set_timer_cb(ssl_, timer_cb);
}

void DtlsEndpoint::feed(std::span<const std::uint8_t> datagram) {
  if (records_) return feed_own(datagram);
  if (failed_ || ssl_ == nullptr || datagram.size() < kRecordHeaderSize) {
    ++ignored_;
    return;
  }
  std::optional<ClientHello> hello;
  if (!started_) {
    hello = parse_client_hello(datagram);
    if (!hello) {
      ++ignored_;  // records before any ClientHello would only confuse the state machine
      return;
    }
  }
  shared_.inbound = datagram;
  shared_.inbound_pending = true;
  note_records(datagram);
  if (hello) start(!hello->cookie.empty());
  if (started_ && !failed_) drive();
  shared_.inbound = {};
  shared_.inbound_pending = false;
  // The client's data proves it finished the handshake: OpenSSL will not have to answer a
  // retransmitted last flight any more, so the association no longer needs its SSL object.
  if (done_ && client_sent_data_ && !failed_ && !peer_closed_) take_over_records(datagram);
}

void DtlsEndpoint::take_over_records(std::span<const std::uint8_t> last_datagram) {
  if (!shared_.last_write_seq) return;  // none of our epoch-1 records seen: stay with OpenSSL
  const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl_);
  const SSL_SESSION* session = SSL_get_session(ssl_);
  const EVP_MD* prf = cipher != nullptr ? SSL_CIPHER_get_handshake_digest(cipher) : nullptr;
  if (session == nullptr || prf == nullptr) return;
  Aead aead;
  switch (SSL_CIPHER_get_cipher_nid(cipher)) {
    case NID_aes_128_gcm:
      aead = Aead::aes_128_gcm;
      break;
    case NID_aes_256_gcm:
      aead = Aead::aes_256_gcm;
      break;
    case NID_chacha20_poly1305:
      aead = Aead::chacha20_poly1305;
      break;
    default:
      return;  // not an AEAD suite of ours: OpenSSL keeps the records
  }
  std::array<std::uint8_t, SSL_MAX_MASTER_KEY_LENGTH> master{};
  std::array<std::uint8_t, SSL3_RANDOM_SIZE> client_random{}, server_random{};
  const std::size_t master_size = SSL_SESSION_get_master_key(session, master.data(), master.size());
  SSL_get_client_random(ssl_, client_random.data(), client_random.size());
  SSL_get_server_random(ssl_, server_random.data(), server_random.size());
  auto keys = derive_record_keys(aead, EVP_MD_get0_name(prf), std::span(master.data(), master_size),
                                 client_random, server_random);
  OPENSSL_cleanse(master.data(), master.size());
  if (!keys) return;
  auto records = std::make_unique<RecordProtection>(aead, keys->client_write, keys->server_write, 1,
                                                    *shared_.last_write_seq + 1);
  OPENSSL_cleanse(keys->client_write.key.data(), keys->client_write.key.size());
  OPENSSL_cleanse(keys->server_write.key.data(), keys->server_write.key.size());
  if (!records->ok()) return;
  // The datagram OpenSSL just read carried the client's first data: opened again here (and
  // discarded), its records enter the replay window. Sequence numbers are taken only from
  // records that authenticate: a forged header must not move the window.
  records->open(last_datagram, [](std::uint8_t, std::span<const std::uint8_t>) {});
  own_max_payload_ = max_payload();
  own_cipher_name_ = cipher_name();
  own_version_name_ = version_name();
  records_ = std::move(records);
  SSL_free(ssl_);  // and its BIO; shared_ stays for the queues
  ssl_ = nullptr;
}

void DtlsEndpoint::feed_own(std::span<const std::uint8_t> datagram) {
  if (failed_) return;
  bool any = false;
  records_->open(datagram, [&](std::uint8_t type, std::span<const std::uint8_t> plaintext) {
    any = true;
    if (type == kContentApplicationData) {
      if (plaintext.empty()) return;  // ours always start with the type byte
      if (received_.size() >= options_.max_queued_records) {
        ++dropped_received_;
        return;
      }
      auto record = fresh_buffer(shared_);
      record.assign(plaintext.begin(), plaintext.end());
      received_.push_back(std::move(record));
    } else if (type == kContentAlert && plaintext.size() == 2) {
      if (plaintext[1] == 0) {
        peer_closed_ = true;  // close_notify
      } else if (plaintext[0] == 2) {
        fail("DTLS: the client sent fatal alert " + std::to_string(plaintext[1]));
      }
    }
    // A handshake record in this epoch is a retransmitted Finished or a renegotiation: neither
    // needs an answer (renegotiation is refused; a new association is the way to rekey).
  });
  if (!any) ++ignored_;
}

void DtlsEndpoint::start(bool has_cookie) {
  if (!has_cookie) {
    started_ = true;
    return;
  }
  // A ClientHello with a cookie has message_seq 1; only DTLSv1_listen sets a fresh SSL up to
  // expect that (and it keeps the ClientHello buffered for the handshake that follows).
  BIO_ADDR* peer = BIO_ADDR_new();
  ERR_clear_error();
  const int r = peer != nullptr ? DTLSv1_listen(ssl_, peer) : -1;
  BIO_ADDR_free(peer);
  if (r < 0) {
    fail(describe("DTLS cookie handover failed", SSL_ERROR_SSL));
  } else if (r == 0) {
    ++ignored_;  // listen found the datagram unusable and dropped it; wait for another
    ERR_clear_error();
  } else {
    started_ = true;
    apply_link_settings();  // listen runs SSL_clear
  }
}

void DtlsEndpoint::drive() {
  if (!done_) {
    ERR_clear_error();
    const int r = SSL_do_handshake(ssl_);
    if (r == 1) {
      done_ = true;
    } else {
      const int e = SSL_get_error(ssl_, r);
      if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
        fail(describe("DTLS handshake failed", e));
        return;
      }
    }
  }
  // Records after the client's Finished may share its datagram, so read even right after done.
  if (done_) read_records();
}

void DtlsEndpoint::read_records() {
  // One per thread, not per association: an idle association then holds no plaintext buffer.
  thread_local std::vector<std::uint8_t> read_buffer(kMaxPlaintext);
  for (;;) {
    ERR_clear_error();
    const int n = SSL_read(ssl_, read_buffer.data(), static_cast<int>(read_buffer.size()));
    if (n > 0) {
      client_sent_data_ = true;
      if (received_.size() >= options_.max_queued_records) {
        ++dropped_received_;
        continue;
      }
      auto record = fresh_buffer(shared_);
      record.assign(read_buffer.begin(), read_buffer.begin() + n);
      received_.push_back(std::move(record));
      continue;
    }
    const int e = SSL_get_error(ssl_, n);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return;
    if (e == SSL_ERROR_ZERO_RETURN) {
      peer_closed_ = true;
      return;
    }
    fail(describe("DTLS read failed", e));
    return;
  }
}

// Only for diagnosis: during the handshake an epoch-1 handshake record is the client's Finished.
// If one arrived and the handshake still did not complete, it could not be authenticated,
// which in PSK mode means the two sides derived different keys. (DTLS drops such records
// silently, so OpenSSL itself reports nothing.)
void DtlsEndpoint::note_records(std::span<const std::uint8_t> datagram) {
  if (done_) return;
  while (datagram.size() >= kRecordHeaderSize) {
    const std::size_t epoch = (std::size_t{datagram[3]} << 8) | datagram[4];
    const std::size_t length = (std::size_t{datagram[11]} << 8) | datagram[12];
    if (datagram[0] == 0x16 && epoch != 0) saw_encrypted_handshake_ = true;
    if (length > datagram.size() - kRecordHeaderSize) return;
    datagram = datagram.subspan(kRecordHeaderSize + length);
  }
}

DtlsEndpoint::SendStatus DtlsEndpoint::can_send(std::size_t payload_size) const {
  if (failed_) return SendStatus::failed;
  if (!done_ || peer_closed_) return SendStatus::not_ready;
  if (payload_size > max_payload()) return SendStatus::too_big;
  return SendStatus::sent;
}

std::unique_ptr<RecordSealer> DtlsEndpoint::sealer_for_another_thread() const {
  return records_ ? records_->sealer_for_another_thread() : nullptr;
}

DtlsEndpoint::SendStatus DtlsEndpoint::send(std::uint8_t type,
                                            std::span<const std::uint8_t> payload) {
  if (const SendStatus status = can_send(payload.size()); status != SendStatus::sent) return status;
  if (records_) return send_own(type, payload);
  thread_local std::vector<std::uint8_t> write_buffer;  // per thread, as read_buffer
  write_buffer.resize(1 + payload.size());
  write_buffer[0] = type;
  std::copy(payload.begin(), payload.end(), write_buffer.begin() + 1);
  ERR_clear_error();
  const int r = SSL_write(ssl_, write_buffer.data(), static_cast<int>(write_buffer.size()));
  if (r > 0) return SendStatus::sent;
  const int e = SSL_get_error(ssl_, r);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return SendStatus::not_ready;
  fail(describe("DTLS write failed", e));
  return SendStatus::failed;
}

DtlsEndpoint::SendStatus DtlsEndpoint::seal(std::uint8_t type,
                                            std::span<const std::uint8_t> payload,
                                            DatagramList& out) {
  shared_.capture = &out;
  const SendStatus status = send(type, payload);
  shared_.capture = nullptr;
  return status;
}

DtlsEndpoint::SendStatus DtlsEndpoint::send_own(std::uint8_t type,
                                                std::span<const std::uint8_t> payload) {
  const std::uint8_t head[1] = {type};
  if (shared_.capture != nullptr) {
    DatagramList& list = *shared_.capture;
    const std::size_t before = list.bytes.size();
    if (!records_->seal(kContentApplicationData, head, payload, list.bytes)) {
      fail("DTLS: a record could not be sealed");
      return SendStatus::failed;
    }
    list.sizes.push_back(list.bytes.size() - before);
    return SendStatus::sent;
  }
  if (shared_.outbound.size() >= shared_.max_outbound) {
    ++shared_.dropped_outbound;  // as the BIO does: lost like a datagram on a congested path
    return SendStatus::sent;
  }
  auto buffer = fresh_buffer(shared_);
  buffer.clear();
  if (!records_->seal(kContentApplicationData, head, payload, buffer)) {
    fail("DTLS: a record could not be sealed");
    return SendStatus::failed;
  }
  shared_.outbound.push_back(std::move(buffer));
  return SendStatus::sent;
}

bool DtlsEndpoint::pop_outgoing(std::vector<std::uint8_t>& out) {
  if (shared_.outbound.empty()) return false;
  recycle(shared_, std::move(out));
  out = std::move(shared_.outbound.front());
  shared_.outbound.pop_front();
  return true;
}

bool DtlsEndpoint::pop_received(std::vector<std::uint8_t>& out) {
  if (received_.empty()) return false;
  recycle(shared_, std::move(out));
  out = std::move(received_.front());
  received_.pop_front();
  return true;
}

std::optional<TimePoint> DtlsEndpoint::next_timeout(TimePoint now) const {
  if (failed_ || ssl_ == nullptr) return std::nullopt;
  std::optional<TimePoint> at;
  timeval left{};
  if (DTLSv1_get_timeout(ssl_, &left) == 1) {
    at = now + Duration(left.tv_sec * 1000 + (left.tv_usec + 999) / 1000);
  }
  if (!done_) at = at ? std::min(*at, deadline_) : deadline_;
  return at;
}

void DtlsEndpoint::handle_timeout(TimePoint now) {
  if (failed_ || ssl_ == nullptr) return;
  if (!done_ && now >= deadline_) {
    const auto ms = std::to_string(options_.handshake_timeout.count());
    if (saw_encrypted_handshake_) {
      fail("DTLS handshake not completed within " + ms +
           " ms: the client's Finished could not be authenticated (" +
           std::string(shared_.legacy ? "master secret" : "PSK") + " mismatch?)");
    } else if (started_ && shared_.legacy) {
      // Resumption: our Finished went first; a client with another master secret cannot
      // authenticate it and says nothing (DTLS drops what does not decrypt).
      fail("DTLS handshake not completed within " + ms +
           " ms: the client never confirmed the resumed session (master secret mismatch, or it "
           "went silent)");
    } else if (started_) {
      fail("DTLS handshake not completed within " + ms + " ms: the client went silent");
    } else {
      fail("DTLS handshake not started within " + ms + " ms: no usable ClientHello");
    }
    return;
  }
  // OpenSSL keeps its own (real-time) retransmission clock and does nothing until it expires.
  ERR_clear_error();
  if (DTLSv1_handle_timeout(ssl_) < 0) fail(describe("DTLS retransmission failed", SSL_ERROR_SSL));
}

void DtlsEndpoint::close() {
  if (records_ && !failed_ && shared_.outbound.size() < shared_.max_outbound) {
    const std::uint8_t close_notify[2] = {1, 0};  // warning, close_notify
    auto buffer = fresh_buffer(shared_);
    buffer.clear();
    if (records_->seal(kContentAlert, close_notify, {}, buffer))
      shared_.outbound.push_back(std::move(buffer));
    return;
  }
  if (ssl_ == nullptr || !done_ || failed_) return;
  ERR_clear_error();
  SSL_shutdown(ssl_);
  ERR_clear_error();
}

std::size_t DtlsEndpoint::max_payload() const {
  if (records_) return own_max_payload_;
  if (!done_ || ssl_ == nullptr) return 0;
  const std::size_t mtu = DTLS_get_data_mtu(ssl_);
  return mtu > 1 ? std::min(mtu, kMaxPlaintext) - 1 : 0;
}

std::string DtlsEndpoint::cipher_name() const {
  if (records_) return own_cipher_name_;
  const SSL_CIPHER* cipher = ssl_ != nullptr ? SSL_get_current_cipher(ssl_) : nullptr;
  return cipher != nullptr ? SSL_CIPHER_get_name(cipher) : "";
}

std::string DtlsEndpoint::version_name() const {
  if (records_) return own_version_name_;
  return ssl_ != nullptr && done_ ? SSL_get_version(ssl_) : "";
}

void DtlsEndpoint::fail(std::string message) {
  if (failed_) return;
  failed_ = true;
  error_ = std::move(message);
}

}  // namespace tandem::dtls
