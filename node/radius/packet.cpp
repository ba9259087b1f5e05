#include "node/radius/packet.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>

#include "node/radius/attributes.hpp"

namespace tandem::radius {
namespace {

using Bytes = std::vector<std::uint8_t>;
using Digest = std::array<std::uint8_t, 16>;

// MD5 of the parts one after the other. MD5 is what RADIUS is made of; it is never used here
// for anything RADIUS does not prescribe.
Digest md5(std::initializer_list<std::span<const std::uint8_t>> parts) {
  Digest out{};
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  unsigned len = 0;
  bool ok = ctx != nullptr && EVP_DigestInit_ex(ctx, EVP_md5(), nullptr) == 1;
  for (auto part : parts) ok = ok && EVP_DigestUpdate(ctx, part.data(), part.size()) == 1;
  ok = ok && EVP_DigestFinal_ex(ctx, out.data(), &len) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok || len != out.size()) out.fill(0);  // only without MD5 at all; every check then fails
  return out;
}

Digest hmac_md5(std::string_view key, std::span<const std::uint8_t> data) {
  Digest out{};
  std::size_t len = 0;
  if (EVP_Q_mac(nullptr, "HMAC", nullptr, "MD5", nullptr, key.data(), key.size(), data.data(),
                data.size(), out.data(), out.size(), &len) == nullptr ||
      len != out.size())
    out.fill(0);
  return out;
}

std::span<const std::uint8_t> bytes_of(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

bool same(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

Bytes header(Code code, std::uint8_t id, const Authenticator& authenticator) {
  Bytes p(kHeaderSize, 0);  // the Length is filled in by finish_length
  p[0] = static_cast<std::uint8_t>(code);
  p[1] = id;
  std::copy(authenticator.begin(), authenticator.end(), p.begin() + 4);
  return p;
}

Result<bool> append(Bytes& p, std::uint8_t type, std::string_view value) {
  if (value.size() > 253)
    return fail(Errc::invalid, "attribute " + std::to_string(type) + " is longer than 253 bytes");
  p.push_back(type);
  p.push_back(static_cast<std::uint8_t>(value.size() + 2));
  p.insert(p.end(), value.begin(), value.end());
  return true;
}

Result<bool> finish_length(Bytes& p) {
  if (p.size() > kMaxPacketSize) return fail(Errc::invalid, "the request exceeds 4096 bytes");
  p[2] = static_cast<std::uint8_t>(p.size() >> 8);
  p[3] = static_cast<std::uint8_t>(p.size() & 0xff);
  return true;
}

bool answers(Code request, Code response) {
  if (request == Code::accounting_request) return response == Code::accounting_response;
  return response == Code::access_accept || response == Code::access_reject ||
         response == Code::access_challenge;
}

}  // namespace

RawAttribute integer_attribute(std::uint8_t type, std::uint32_t value) {
  std::string v(4, '\0');
  for (int i = 0; i < 4; ++i) v[i] = static_cast<char>((value >> (24 - 8 * i)) & 0xff);
  return {type, std::move(v)};
}

std::string hide_password(std::string_view password, const Authenticator& request_authenticator,
                          std::string_view secret) {
  std::string padded(password);
  padded.resize(std::max<std::size_t>(16, (password.size() + 15) / 16 * 16), '\0');
  std::string hidden(padded.size(), '\0');
  std::span<const std::uint8_t> chain = request_authenticator;
  for (std::size_t at = 0; at < padded.size(); at += 16) {
    const Digest b = md5({bytes_of(secret), chain});
    for (std::size_t i = 0; i < 16; ++i)
      hidden[at + i] = static_cast<char>(static_cast<std::uint8_t>(padded[at + i]) ^ b[i]);
    chain = bytes_of(std::string_view(hidden).substr(at, 16));
  }
  return hidden;
}

Result<Request> encode_access_request(std::uint8_t id, const Authenticator& random,
                                      const std::vector<RawAttribute>& attributes,
                                      std::string_view secret) {
  Request r{Code::access_request, id, random, header(Code::access_request, id, random)};
  // A zeroed Message-Authenticator first; it is filled in once the packet is whole.
  (void)append(r.bytes, kMessageAuthenticator, std::string(16, '\0'));
  for (const auto& a : attributes) {
    if (a.type == kMessageAuthenticator) continue;  // ours is the only one
    if (a.type == kUserPassword && a.value.size() > kMaxPasswordSize)
      return fail(Errc::invalid, "the password is longer than 128 bytes");
    auto added = append(r.bytes, a.type,
                        a.type == kUserPassword ? hide_password(a.value, random, secret) : a.value);
    if (!added) return added.failure();
  }
  if (auto done = finish_length(r.bytes); !done) return done.failure();
  const Digest mac = hmac_md5(secret, r.bytes);
  std::copy(mac.begin(), mac.end(), r.bytes.begin() + kHeaderSize + 2);
  return r;
}

Result<Request> encode_accounting_request(std::uint8_t id,
                                          const std::vector<RawAttribute>& attributes,
                                          std::string_view secret) {
  Request r{Code::accounting_request, id, {}, header(Code::accounting_request, id, {})};
  for (const auto& a : attributes) {
    auto added = append(r.bytes, a.type, a.value);
    if (!added) return added.failure();
  }
  if (auto done = finish_length(r.bytes); !done) return done.failure();
  r.authenticator = md5({r.bytes, bytes_of(secret)});
  std::copy(r.authenticator.begin(), r.authenticator.end(), r.bytes.begin() + 4);
  return r;
}

Result<Response> check_response(std::span<const std::uint8_t> datagram, const Request& request,
                                std::string_view secret, bool require_message_authenticator) {
  if (datagram.size() < kHeaderSize) return fail(Errc::invalid, "shorter than a RADIUS header");
  const std::size_t length = (std::size_t{datagram[2]} << 8) | datagram[3];
  if (length < kHeaderSize || length > datagram.size() || length > kMaxPacketSize)
    return fail(Errc::invalid,
                "its Length field (" + std::to_string(length) + ") does not match the datagram");
  const auto packet = datagram.first(length);  // octets past Length are padding (RFC 2865 §3)
  if (packet[1] != request.id) return fail(Errc::invalid, "another request's identifier");
  Response out;
  out.code = static_cast<Code>(packet[0]);
  if (!answers(request.code, out.code))
    return fail(Errc::invalid,
                "code " + std::to_string(packet[0]) + " does not answer the request");
  const auto attributes = packet.subspan(kHeaderSize);
  const Digest expected =
      md5({packet.first(4), request.authenticator, attributes, bytes_of(secret)});
  if (!same(expected, packet.subspan(4, 16)))
    return fail(Errc::invalid, "its Response Authenticator is wrong (a wrong shared secret?)");

  std::size_t mac_at = 0;  // offset of the Message-Authenticator's value in `packet`
  for (std::size_t at = 0; at < attributes.size();) {
    if (attributes.size() - at < 2 || attributes[at + 1] < 2 ||
        attributes[at + 1] > attributes.size() - at)
      return fail(Errc::invalid, "a malformed attribute at offset " + std::to_string(at));
    const std::uint8_t type = attributes[at];
    const std::size_t len = attributes[at + 1];
    if (type == kMessageAuthenticator) {
      if (len != 18 || mac_at != 0)
        return fail(Errc::invalid, "a malformed or repeated Message-Authenticator");
      mac_at = kHeaderSize + at + 2;
    } else {
      const auto* value = reinterpret_cast<const char*>(attributes.data() + at + 2);
      out.attributes.push_back({type, std::string(value, len - 2)});
    }
    at += len;
  }
  if (mac_at != 0) {
    // Computed with the request's authenticator in place and the attribute's value zeroed.
    Bytes copy(packet.begin(), packet.end());
    std::copy(request.authenticator.begin(), request.authenticator.end(), copy.begin() + 4);
    std::fill_n(copy.begin() + mac_at, 16, 0);
    if (!same(hmac_md5(secret, copy), packet.subspan(mac_at, 16)))
      return fail(Errc::invalid, "its Message-Authenticator is wrong");
    out.had_message_authenticator = true;
  } else if (require_message_authenticator) {
    return fail(Errc::invalid, "it has no Message-Authenticator (required by [radius])");
  }
  return out;
}

}  // namespace tandem::radius
