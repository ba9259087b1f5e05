#include "node/dtls/record_protection.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include <algorithm>
#include <cstring>

namespace tandem::dtls {
namespace {

constexpr std::size_t kTag = 16;
constexpr std::size_t kExplicitNonce = 8;   // GCM only
constexpr std::uint16_t kVersion = 0xFEFD;  // DTLS 1.2
constexpr std::uint64_t kMaxSeq = (std::uint64_t{1} << 48) - 1;

const EVP_CIPHER* cipher_of(Aead aead) {
  switch (aead) {
    case Aead::aes_128_gcm:
      return EVP_aes_128_gcm();
    case Aead::aes_256_gcm:
      return EVP_aes_256_gcm();
    case Aead::chacha20_poly1305:
      return EVP_chacha20_poly1305();
  }
  return nullptr;
}

std::size_t key_size(Aead aead) { return aead == Aead::aes_128_gcm ? 16 : 32; }
std::size_t iv_size(Aead aead) { return aead == Aead::chacha20_poly1305 ? 12 : 4; }

void put(std::uint8_t* at, std::uint64_t v, int width) {
  for (int i = width - 1; i >= 0; --i) *at++ = static_cast<std::uint8_t>(v >> (8 * i));
}

std::uint64_t get(const std::uint8_t* at, int width) {
  std::uint64_t v = 0;
  for (int i = 0; i < width; ++i) v = (v << 8) | at[i];
  return v;
}

// The additional data of RFC 5246 §6.2.3.3 with DTLS's 8-byte epoch + sequence (RFC 6347 §4.1.2.1).
std::array<std::uint8_t, 13> additional_data(std::uint64_t epoch_seq, std::uint8_t type,
                                             std::size_t plaintext_size) {
  std::array<std::uint8_t, 13> aad{};
  put(aad.data(), epoch_seq, 8);
  aad[8] = type;
  put(aad.data() + 9, kVersion, 2);
  put(aad.data() + 11, plaintext_size, 2);
  return aad;
}

}  // namespace

Result<RecordKeys> derive_record_keys(Aead aead, const std::string& prf_digest,
                                      std::span<const std::uint8_t> master_secret,
                                      std::span<const std::uint8_t> client_random,
                                      std::span<const std::uint8_t> server_random) {
  const std::size_t k = key_size(aead), iv = iv_size(aead);
  std::vector<std::uint8_t> block(2 * k + 2 * iv);
  static constexpr char kLabel[] = "key expansion";
  std::vector<std::uint8_t> seed(kLabel, kLabel + sizeof kLabel - 1);
  seed.insert(seed.end(), server_random.begin(), server_random.end());
  seed.insert(seed.end(), client_random.begin(), client_random.end());

  EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "TLS1-PRF", nullptr);
  EVP_KDF_CTX* ctx = kdf ? EVP_KDF_CTX_new(kdf) : nullptr;
  EVP_KDF_free(kdf);
  if (!ctx) return fail("dtls: no TLS1-PRF in this OpenSSL");
  std::string digest = prf_digest;
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest.data(), 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET,
                                        const_cast<std::uint8_t*>(master_secret.data()),
                                        master_secret.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, seed.data(), seed.size()),
      OSSL_PARAM_construct_end()};
  const int r = EVP_KDF_derive(ctx, block.data(), block.size(), params);
  EVP_KDF_CTX_free(ctx);
  if (r != 1) return fail("dtls: key expansion failed (digest " + prf_digest + ")");

  RecordKeys keys;
  const auto* p = block.data();
  keys.client_write.key.assign(p, p + k);
  keys.server_write.key.assign(p + k, p + 2 * k);
  std::copy_n(p + 2 * k, iv, keys.client_write.iv.begin());
  std::copy_n(p + 2 * k + iv, iv, keys.server_write.iv.begin());
  std::fill(block.begin(), block.end(), 0);
  return keys;
}

bool ReplayWindow::fresh(std::uint64_t seq) const {
  if (!any_ || seq > newest_) return true;
  const std::uint64_t age = newest_ - seq;
  return age < 64 && (seen_ & (std::uint64_t{1} << age)) == 0;
}

void ReplayWindow::accept(std::uint64_t seq) {
  if (!any_) {
    any_ = true;
    newest_ = seq;
    seen_ = 1;
    return;
  }
  if (seq > newest_) {
    const std::uint64_t shift = seq - newest_;
    seen_ = shift >= 64 ? 0 : seen_ << shift;
    seen_ |= 1;
    newest_ = seq;
    return;
  }
  seen_ |= std::uint64_t{1} << (newest_ - seq);
}

namespace {

// RFC 7905 (ChaCha20-Poly1305): the IV XOR the padded sequence number; RFC 5288 (GCM): the
// salt, then the explicit part.
void nonce_for(Aead aead, const std::array<std::uint8_t, 12>& iv, std::uint64_t epoch_seq,
               std::array<std::uint8_t, 12>& nonce) {
  if (aead == Aead::chacha20_poly1305) {
    nonce = iv;
    for (int i = 0; i < 8; ++i)
      nonce[4 + i] ^= static_cast<std::uint8_t>(epoch_seq >> (56 - 8 * i));
    return;
  }
  std::copy_n(iv.begin(), 4, nonce.begin());
  put(nonce.data() + 4, epoch_seq, 8);
}

}  // namespace

RecordSealer::RecordSealer(Aead aead, const DirectionKeys& write, std::uint16_t epoch,
                           std::uint64_t next_write_seq)
    : aead_(aead),
      iv_(write.iv),
      epoch_(epoch),
      next_seq_(std::make_shared<std::atomic<std::uint64_t>>(next_write_seq)),
      ctx_(EVP_CIPHER_CTX_new()) {
  const EVP_CIPHER* cipher = cipher_of(aead);
  // The key is set once and lives in the context from here on; each record only sets its nonce.
  ok_ = cipher && ctx_ && write.key.size() == key_size(aead) &&
        EVP_EncryptInit_ex(ctx_, cipher, nullptr, write.key.data(), nullptr) == 1;
}

RecordSealer::RecordSealer(const RecordSealer& from, int)
    : aead_(from.aead_),
      iv_(from.iv_),
      epoch_(from.epoch_),
      next_seq_(from.next_seq_),
      ctx_(EVP_CIPHER_CTX_new()) {
  ok_ = from.ok_ && ctx_ && EVP_CIPHER_CTX_copy(ctx_, from.ctx_) == 1;
}

RecordSealer::~RecordSealer() { EVP_CIPHER_CTX_free(ctx_); }

std::unique_ptr<RecordSealer> RecordSealer::another_thread() const {
  std::unique_ptr<RecordSealer> other(new RecordSealer(*this, 0));
  if (!other->ok()) return nullptr;
  return other;
}

bool RecordSealer::seal(std::uint8_t content_type, std::span<const std::uint8_t> head,
                        std::span<const std::uint8_t> body, std::vector<std::uint8_t>& out) {
  if (!ok_) return false;
  const std::size_t plain = head.size() + body.size();
  const std::size_t explicit_nonce = aead_ == Aead::chacha20_poly1305 ? 0 : kExplicitNonce;
  const std::size_t fragment = explicit_nonce + plain + kTag;
  if (fragment > 0xFFFF) return false;
  // Taken before sealing: a record that then fails leaves a gap, which DTLS allows.
  const std::uint64_t seq = next_seq_->fetch_add(1, std::memory_order_relaxed);
  if (seq > kMaxSeq) return false;
  const std::uint64_t epoch_seq = (std::uint64_t{epoch_} << 48) | seq;
  std::array<std::uint8_t, 12> nonce{};
  nonce_for(aead_, iv_, epoch_seq, nonce);
  const auto aad = additional_data(epoch_seq, content_type, plain);

  const std::size_t start = out.size();
  out.resize(start + kRecordHeader + fragment);
  std::uint8_t* p = out.data() + start;
  p[0] = content_type;
  put(p + 1, kVersion, 2);
  put(p + 3, epoch_seq, 8);
  put(p + 11, fragment, 2);
  p += kRecordHeader;
  if (explicit_nonce) {
    put(p, epoch_seq, 8);  // as OpenSSL does: the sequence number is the explicit nonce
    p += explicit_nonce;
  }
  int n = 0;
  bool good = EVP_EncryptInit_ex(ctx_, nullptr, nullptr, nullptr, nonce.data()) == 1 &&
              EVP_EncryptUpdate(ctx_, nullptr, &n, aad.data(), aad.size()) == 1;
  if (good && !head.empty())
    good = EVP_EncryptUpdate(ctx_, p, &n, head.data(), static_cast<int>(head.size())) == 1;
  if (good && !body.empty())
    good = EVP_EncryptUpdate(ctx_, p + head.size(), &n, body.data(),
                             static_cast<int>(body.size())) == 1;
  good = good && EVP_EncryptFinal_ex(ctx_, p + plain, &n) == 1 &&
         EVP_CIPHER_CTX_ctrl(ctx_, EVP_CTRL_AEAD_GET_TAG, kTag, p + plain) == 1;
  if (!good) out.resize(start);
  return good;
}

RecordProtection::RecordProtection(Aead aead, const DirectionKeys& read, const DirectionKeys& write,
                                   std::uint16_t epoch, std::uint64_t next_write_seq)
    : aead_(aead),
      read_iv_(read.iv),
      epoch_(epoch),
      sealer_(aead, write, epoch, next_write_seq),
      open_ctx_(EVP_CIPHER_CTX_new()) {
  const EVP_CIPHER* cipher = cipher_of(aead);
  // The key lives in the context from here on; only the IV is kept beside it.
  ok_ = cipher && sealer_.ok() && open_ctx_ && read.key.size() == key_size(aead) &&
        EVP_DecryptInit_ex(open_ctx_, cipher, nullptr, read.key.data(), nullptr) == 1;
}

RecordProtection::~RecordProtection() { EVP_CIPHER_CTX_free(open_ctx_); }

std::size_t RecordProtection::overhead() const {
  return kRecordHeader + (aead_ == Aead::chacha20_poly1305 ? 0 : kExplicitNonce) + kTag;
}

void RecordProtection::open(
    std::span<const std::uint8_t> datagram,
    const std::function<void(std::uint8_t, std::span<const std::uint8_t>)>& on_record) {
  thread_local std::vector<std::uint8_t> plain;
  const std::size_t explicit_nonce = aead_ == Aead::chacha20_poly1305 ? 0 : kExplicitNonce;
  while (datagram.size() >= kRecordHeader) {
    const std::uint8_t* h = datagram.data();
    const std::size_t length = get(h + 11, 2);
    if (length > datagram.size() - kRecordHeader) return;  // truncated: the rest is unusable
    const auto fragment = datagram.subspan(kRecordHeader, length);
    datagram = datagram.subspan(kRecordHeader + length);
    const std::uint64_t epoch_seq = get(h + 3, 8);
    const std::uint64_t seq = epoch_seq & kMaxSeq;
    if ((epoch_seq >> 48) != epoch_ || get(h + 1, 2) != kVersion ||
        fragment.size() < explicit_nonce + kTag || !window_.fresh(seq)) {
      ++rejected_;
      continue;
    }
    const std::size_t size = fragment.size() - explicit_nonce - kTag;
    std::array<std::uint8_t, 12> nonce{};
    if (explicit_nonce) {
      std::copy_n(read_iv_.begin(), 4, nonce.begin());
      std::copy_n(fragment.begin(), 8, nonce.begin() + 4);
    } else {
      nonce_for(aead_, read_iv_, epoch_seq, nonce);
    }
    const auto aad = additional_data(epoch_seq, h[0], size);
    plain.resize(std::max<std::size_t>(size, 1));
    std::array<std::uint8_t, kTag> tag{};
    std::copy_n(fragment.end() - kTag, kTag, tag.begin());
    int n = 0;
    const bool good =
        EVP_DecryptInit_ex(open_ctx_, nullptr, nullptr, nullptr, nonce.data()) == 1 &&
        EVP_DecryptUpdate(open_ctx_, nullptr, &n, aad.data(), aad.size()) == 1 &&
        EVP_DecryptUpdate(open_ctx_, plain.data(), &n, fragment.data() + explicit_nonce,
                          static_cast<int>(size)) == 1 &&
        EVP_CIPHER_CTX_ctrl(open_ctx_, EVP_CTRL_AEAD_SET_TAG, kTag, tag.data()) == 1 &&
        EVP_DecryptFinal_ex(open_ctx_, plain.data() + size, &n) == 1;
    if (!good) {
      ++rejected_;
      continue;
    }
    window_.accept(seq);
    on_record(h[0], std::span<const std::uint8_t>(plain.data(), size));
  }
}

}  // namespace tandem::dtls
