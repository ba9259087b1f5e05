#include "node/dtls/client_hello.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>

namespace tandem::dtls {
namespace {

constexpr std::uint8_t kContentHandshake = 0x16;
constexpr std::uint8_t kClientHelloType = 0x01;
constexpr std::uint8_t kHelloVerifyRequestType = 0x03;
constexpr std::uint8_t kDtlsMajor = 0xFE;
constexpr std::uint16_t kDtls10 = 0xFEFF;

// Bounds-checked big-endian reader: every getter fails instead of reading past the end, and a
// failed read leaves the reader unusable so chains of reads can be checked once.
class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> bytes) : bytes_(bytes) {}

  bool ok() const { return ok_; }
  std::size_t remaining() const { return ok_ ? bytes_.size() - pos_ : 0; }

  std::uint64_t uint(std::size_t width) {
    if (!need(width)) return 0;
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < width; ++i) v = (v << 8) | bytes_[pos_ + i];
    pos_ += width;
    return v;
  }
  std::span<const std::uint8_t> take(std::size_t n) {
    if (!need(n)) return {};
    auto out = bytes_.subspan(pos_, n);
    pos_ += n;
    return out;
  }
  // A vector with a `width`-byte length prefix; the length must lie in [min, max].
  std::span<const std::uint8_t> vec(std::size_t width, std::size_t min, std::size_t max) {
    const std::size_t n = uint(width);
    if (ok_ && (n < min || n > max)) ok_ = false;
    return take(n);
  }

 private:
  bool need(std::size_t n) {
    if (!ok_ || bytes_.size() - pos_ < n) ok_ = false;
    return ok_;
  }

  std::span<const std::uint8_t> bytes_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

void put(std::vector<std::uint8_t>& out, std::uint64_t v, std::size_t width) {
  for (std::size_t i = width; i-- > 0;) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

// After the cookie: cipher_suites<2..2^16-2>, compression_methods<1..2^8-1>, then either nothing
// or extensions<0..2^16-1> that fill the message exactly.
bool tail_is_sane(Reader& r) {
  const auto suites = r.vec(2, 2, 0xFFFE);
  if (!r.ok() || suites.size() % 2 != 0) return false;
  r.vec(1, 1, 0xFF);
  if (!r.ok()) return false;
  if (r.remaining() == 0) return true;
  const auto extensions = r.vec(2, 0, 0xFFFF);
  if (!r.ok() || r.remaining() != 0) return false;
  Reader ext(extensions);
  while (ext.ok() && ext.remaining() > 0) {
    ext.uint(2);
    ext.vec(2, 0, 0xFFFF);
  }
  return ext.ok();
}

}  // namespace

std::optional<ClientHello> parse_client_hello(std::span<const std::uint8_t> datagram) {
  Reader rec(datagram);
  ClientHello hello;
  const auto content_type = rec.uint(1);
  hello.record_version = static_cast<std::uint16_t>(rec.uint(2));
  const auto epoch = rec.uint(2);
  hello.record_sequence = rec.uint(6);
  // Trailing records in the same datagram are allowed (and ignored).
  Reader hs(rec.vec(2, kHandshakeHeaderSize, 0xFFFF));
  if (!rec.ok() || content_type != kContentHandshake || (hello.record_version >> 8) != kDtlsMajor ||
      epoch != 0) {
    return std::nullopt;
  }

  const auto msg_type = hs.uint(1);
  const auto msg_len = hs.uint(3);
  hello.message_seq = static_cast<std::uint16_t>(hs.uint(2));
  const auto frag_offset = hs.uint(3);
  const auto frag_len = hs.uint(3);
  if (!hs.ok() || msg_type != kClientHelloType || frag_offset != 0 || frag_len > msg_len ||
      frag_len > hs.remaining()) {
    return std::nullopt;
  }
  hello.complete = frag_len == msg_len;

  Reader body(hs.take(frag_len));
  hello.client_version = static_cast<std::uint16_t>(body.uint(2));
  body.take(32);  // random
  const auto session_id = body.vec(1, 0, kMaxSessionIdSize);
  const auto cookie = body.vec(1, 0, 0xFF);
  if (!body.ok() || (hello.client_version >> 8) != kDtlsMajor) return std::nullopt;
  if (hello.complete && !tail_is_sane(body)) return std::nullopt;

  hello.session_id.assign(session_id.begin(), session_id.end());
  hello.cookie.assign(cookie.begin(), cookie.end());
  return hello;
}

std::vector<std::uint8_t> build_hello_verify_request(std::uint64_t record_sequence,
                                                     std::span<const std::uint8_t> cookie) {
  cookie = cookie.first(std::min<std::size_t>(cookie.size(), 0xFF));
  const std::size_t body_len = 2 + 1 + cookie.size();
  std::vector<std::uint8_t> out;
  out.reserve(kRecordHeaderSize + kHandshakeHeaderSize + body_len);
  put(out, kContentHandshake, 1);
  put(out, kDtls10, 2);
  put(out, 0, 2);  // epoch
  put(out, record_sequence & 0xFFFF'FFFF'FFFFULL, 6);
  put(out, kHandshakeHeaderSize + body_len, 2);
  put(out, kHelloVerifyRequestType, 1);
  put(out, body_len, 3);  // message length
  put(out, 0, 2);         // message_seq
  put(out, 0, 3);         // fragment offset
  put(out, body_len, 3);  // fragment length
  put(out, kDtls10, 2);   // server_version
  put(out, cookie.size(), 1);
  out.insert(out.end(), cookie.begin(), cookie.end());
  return out;
}

CookieGuard::CookieGuard(std::span<const std::uint8_t> secret, Duration period)
    : secret_size_(std::min(secret.size(), secret_.size())), period_(period) {
  std::copy_n(secret.begin(), secret_size_, secret_.begin());
  if (period_ <= Duration::zero()) period_ = kCookiePeriod;
}

Result<CookieGuard> CookieGuard::create(Duration period) {
  std::array<std::uint8_t, 32> secret{};
  if (RAND_bytes(secret.data(), static_cast<int>(secret.size())) != 1) {
    return fail("dtls cookie: the CSPRNG failed to produce a secret");
  }
  CookieGuard guard(secret, period);
  OPENSSL_cleanse(secret.data(), secret.size());
  return guard;
}

Result<CookieGuard> CookieGuard::with_secret(std::span<const std::uint8_t> secret,
                                             Duration period) {
  if (secret.size() < 16 || secret.size() > 64) {
    return fail("dtls cookie: the secret must be 16..64 bytes");
  }
  return CookieGuard(secret, period);
}

std::array<std::uint8_t, kCookieSize> CookieGuard::cookie_for(
    std::int64_t epoch, std::span<const std::uint8_t> peer,
    std::span<const std::uint8_t> session_id) const {
  // Length prefixes keep (peer, session_id) pairs from colliding by shifting bytes between them.
  std::array<std::uint8_t, 8 + 1 + kMaxPeerSize + 1 + kMaxSessionIdSize> message{};
  std::size_t n = 0;
  for (int i = 7; i >= 0; --i) message[n++] = static_cast<std::uint8_t>(epoch >> (8 * i));
  message[n++] = static_cast<std::uint8_t>(peer.size());
  n = std::copy(peer.begin(), peer.end(), message.begin() + n) - message.begin();
  message[n++] = static_cast<std::uint8_t>(session_id.size());
  n = std::copy(session_id.begin(), session_id.end(), message.begin() + n) - message.begin();

  std::array<std::uint8_t, kCookieSize> cookie{};
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_size_), message.data(), n,
           cookie.data(), &len) == nullptr) {
    // Leave an all-zero cookie: the HelloVerifyRequest still goes out, verification then
    // fails closed because a client never echoes a cookie we did not compute successfully.
    cookie.fill(0);
  }
  return cookie;
}

CookieVerdict CookieGuard::check(std::span<const std::uint8_t> datagram,
                                 std::span<const std::uint8_t> peer, TimePoint now) const {
  CookieVerdict verdict;
  auto hello = parse_client_hello(datagram);
  if (!hello || peer.size() > kMaxPeerSize) return verdict;  // drop

  const std::int64_t epoch = now.time_since_epoch() / period_;
  if (hello->cookie.size() == kCookieSize) {
    for (std::int64_t e : {epoch, epoch - 1}) {
      const auto expected = cookie_for(e, peer, hello->session_id);
      const bool all_zero =
          std::all_of(expected.begin(), expected.end(), [](std::uint8_t b) { return b == 0; });
      if (!all_zero && CRYPTO_memcmp(expected.data(), hello->cookie.data(), kCookieSize) == 0) {
        verdict.action = CookieVerdict::Action::proceed;
        return verdict;
      }
    }
  }
  // No cookie, a stale one, or one minted for another address: RFC 6347 treats all the same.
  const auto cookie = cookie_for(epoch, peer, hello->session_id);
  verdict.action = CookieVerdict::Action::send_hello_verify;
  verdict.reply = build_hello_verify_request(hello->record_sequence, cookie);
  return verdict;
}

}  // namespace tandem::dtls
