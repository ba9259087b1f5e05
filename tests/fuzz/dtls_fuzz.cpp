// DTLS before and after a handshake (node/dtls): the UDP port takes datagrams from anyone.
//
// The input is one or more datagrams separated by "|DGRAM|" (a captured ClientHello is a valid
// input by itself). Each datagram goes through parse_client_hello and the CookieGuard, and all of
// them, in order, into one fresh DtlsEndpoint. Inputs whose hash picks it (1 in 4) instead meet
// an endpoint that has completed a real PSK handshake with an OpenSSL client; there each datagram
// is fed raw, or sealed by the client as one record of that plaintext. Invariants:
//  - parse_client_hello reads only the first record, never past the datagram, and what it
//    returns matches the header bytes and the length limits;
//  - the guard drops exactly what does not parse; a HelloVerifyRequest has the RFC 6347 layout
//    and echoes the record sequence; the ClientHello with its cookie spliced in is accepted from
//    the same peer in this and the next period, and refused from another peer or two periods on;
//  - the endpoint never emits a datagram over its MTU, never yields an empty record, reports an
//    error exactly when it failed, and, once established, delivers a sealed record's plaintext
//    exactly.
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "node/dtls/client_hello.hpp"
#include "node/dtls/dtls_endpoint.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using namespace tandem::dtls;
using Bytes = std::vector<std::uint8_t>;
using Key = std::array<std::uint8_t, kPskSize>;
using tandem::Duration;
using tandem::TimePoint;

constexpr std::string_view kSeparator = "|DGRAM|";
constexpr Key kKey = {1,   8,   15,  22,  29,  36,  43,  50,  57,  64,  71,
                      78,  85,  92,  99,  106, 113, 120, 127, 134, 141, 148,
                      155, 162, 169, 176, 183, 190, 197, 204, 211, 218};

std::uint64_t get(std::span<const std::uint8_t> b, std::size_t at, std::size_t width) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < width; ++i) v = (v << 8) | b[at + i];
  return v;
}
void set(Bytes& b, std::size_t at, std::uint64_t v, std::size_t width) {
  for (std::size_t i = width; i-- > 0;)
    b[at + width - 1 - i] = static_cast<std::uint8_t>(v >> (8 * i));
}

// --- a DTLS 1.2 PSK client as openconnect's OpenSSL build is (see tests/unit/dtls_test.cpp) ---

unsigned int client_psk_cb(SSL*, const char*, char* identity, unsigned int max_identity,
                           unsigned char* psk, unsigned int max_psk) {
  if (max_identity < 4 || max_psk < kPskSize) return 0;
  std::memcpy(identity, "psk", 4);
  std::memcpy(psk, kKey.data(), kPskSize);
  return kPskSize;
}

class Client {
 public:
  explicit Client(SSL_CTX* ctx) {
    ssl_ = SSL_new(ctx);
    in_ = BIO_new(BIO_s_mem());
    out_ = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(in_, -1);
    SSL_set_bio(ssl_, in_, out_);
    SSL_set_options(ssl_, SSL_OP_NO_QUERY_MTU);
    SSL_set_mtu(ssl_,
                static_cast<long>(kDefaultMaxDatagram));  // as the endpoint: same record limit
    SSL_set_connect_state(ssl_);
  }
  ~Client() { SSL_free(ssl_); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool done() const { return SSL_is_init_finished(ssl_) == 1; }
  void step() {
    if (!done()) SSL_do_handshake(ssl_);
    ERR_clear_error();
  }
  void deliver(const Bytes& d) {
    BIO_write(in_, d.data(), static_cast<int>(d.size()));
    step();
  }
  Bytes take() {
    Bytes out(static_cast<std::size_t>(BIO_ctrl_pending(out_)));
    if (!out.empty()) BIO_read(out_, out.data(), static_cast<int>(out.size()));
    return out;
  }
  bool write(std::span<const std::uint8_t> plaintext) {
    const int r = SSL_write(ssl_, plaintext.data(), static_cast<int>(plaintext.size()));
    ERR_clear_error();
    return r == static_cast<int>(plaintext.size());
  }

 private:
  SSL* ssl_ = nullptr;
  BIO* in_ = nullptr;
  BIO* out_ = nullptr;
};

struct Env {
  ContextPtr server;
  SSL_CTX* client = nullptr;
  std::optional<CookieGuard> guard;
  Env() {
    auto made = make_server_context();
    FUZZ_CHECK(made.ok(), made.error());
    server = std::move(*made);
    client = SSL_CTX_new(DTLS_client_method());
    SSL_CTX_set_min_proto_version(client, DTLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(client, DTLS1_2_VERSION);
    SSL_CTX_set_cipher_list(client, "PSK-AES256-GCM-SHA384");
    SSL_CTX_set_psk_client_callback(client, client_psk_cb);
    const std::array<std::uint8_t, 32> secret{7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
                                              7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7};
    auto g = CookieGuard::with_secret(secret);
    FUZZ_CHECK(g.ok(), g.error());
    guard.emplace(*g);
  }
};
Env* env = nullptr;

// --- ClientHello and cookie ---

void check_hello(std::span<const std::uint8_t> d, const ClientHello& h) {
  FUZZ_CHECK(d.size() >= kRecordHeaderSize + kHandshakeHeaderSize);
  FUZZ_CHECK(d[0] == 0x16 && d[1] == 0xFE && get(d, 3, 2) == 0, "not an epoch-0 DTLS handshake");
  FUZZ_CHECK(h.record_version == get(d, 1, 2) && h.record_sequence == get(d, 5, 6));
  FUZZ_CHECK(d[13] == 0x01 && get(d, 19, 3) == 0, "not the first fragment of a ClientHello");
  FUZZ_CHECK(h.message_seq == get(d, 17, 2));
  FUZZ_CHECK((h.client_version >> 8) == 0xFE);
  FUZZ_CHECK(h.session_id.size() <= kMaxSessionIdSize && h.cookie.size() <= 0xFF);
  // Only the first record counts: bytes after the datagram's end change nothing if it was whole.
  Bytes longer(d.begin(), d.end());
  longer.insert(longer.end(), {0x17, 0xFE, 0xFD, 0x00});
  auto again = parse_client_hello(longer);
  FUZZ_CHECK(again && again->session_id == h.session_id && again->cookie == h.cookie &&
                 again->complete == h.complete,
             "trailing bytes changed the parse");
}

// The same ClientHello with `cookie` in place of its own; nullopt when it would not fit.
std::optional<Bytes> with_cookie(std::span<const std::uint8_t> d, const ClientHello& h,
                                 std::span<const std::uint8_t> cookie) {
  const std::size_t cookie_at =
      kRecordHeaderSize + kHandshakeHeaderSize + 2 + 32 + 1 + h.session_id.size();
  const std::size_t record_len = get(d, 11, 2);
  const std::size_t message_len = get(d, 14, 3);
  const std::size_t grown = cookie.size() - h.cookie.size();  // may wrap; sizes below fix it
  if (!h.complete || record_len + grown > 0xFFFF) return std::nullopt;
  Bytes out(d.begin(), d.begin() + static_cast<std::ptrdiff_t>(cookie_at));
  out.push_back(static_cast<std::uint8_t>(cookie.size()));
  out.insert(out.end(), cookie.begin(), cookie.end());
  out.insert(out.end(), d.begin() + static_cast<std::ptrdiff_t>(cookie_at + 1 + h.cookie.size()),
             d.end());
  set(out, 11, record_len + grown, 2);
  set(out, 14, message_len + grown, 3);
  set(out, 22, message_len + grown, 3);
  return out;
}

void check_cookie(std::span<const std::uint8_t> d, const std::optional<ClientHello>& hello,
                  TimePoint now) {
  const Bytes peer = {0x02, 0x00, 0x01, 0xbb, 192, 0, 2, 7};
  const Bytes other = {0x02, 0x00, 0x01, 0xbb, 192, 0, 2, 8};
  const CookieVerdict v = env->guard->check(d, peer, now);
  if (!hello) {
    FUZZ_CHECK(v.action == CookieVerdict::Action::drop, "the guard passed what does not parse");
    return;
  }
  if (v.action == CookieVerdict::Action::proceed) {
    FUZZ_CHECK(hello->cookie.size() == kCookieSize, "proceed without a cookie");
    return;
  }
  FUZZ_CHECK(v.action == CookieVerdict::Action::send_hello_verify, "a ClientHello was dropped");
  const Bytes& r = v.reply;
  FUZZ_CHECK(r.size() == kRecordHeaderSize + kHandshakeHeaderSize + 3 + kCookieSize);
  FUZZ_CHECK(r[0] == 0x16 && get(r, 1, 2) == 0xFEFF && get(r, 3, 2) == 0);
  FUZZ_CHECK(get(r, 5, 6) == hello->record_sequence, "HelloVerifyRequest sequence");
  FUZZ_CHECK(get(r, 11, 2) == r.size() - kRecordHeaderSize && r[13] == 0x03);
  FUZZ_CHECK(r[27] == kCookieSize);
  const std::span<const std::uint8_t> cookie(r.data() + 28, kCookieSize);

  auto second = with_cookie(d, *hello, cookie);
  if (!second) return;
  auto parsed = parse_client_hello(*second);
  FUZZ_CHECK(
      parsed && parsed->session_id == hello->session_id &&
          std::equal(cookie.begin(), cookie.end(), parsed->cookie.begin(), parsed->cookie.end()),
      "the ClientHello with its cookie does not parse back");
  using Action = CookieVerdict::Action;
  FUZZ_CHECK(env->guard->check(*second, peer, now).action == Action::proceed,
             "our own cookie was refused");
  FUZZ_CHECK(env->guard->check(*second, peer, now + kCookiePeriod).action == Action::proceed,
             "a cookie of the previous period was refused");
  FUZZ_CHECK(env->guard->check(*second, peer, now + 2 * kCookiePeriod).action != Action::proceed,
             "a cookie two periods old was accepted");
  FUZZ_CHECK(env->guard->check(*second, other, now).action != Action::proceed,
             "a cookie minted for another peer was accepted");
}

// --- the endpoint ---

void drain(DtlsEndpoint& ep, const EndpointOptions& options, Client* client) {
  Bytes d;
  while (ep.pop_outgoing(d)) {
    FUZZ_CHECK(d.size() <= options.max_datagram, "datagram of " + std::to_string(d.size()));
    if (client != nullptr) client->deliver(d);
  }
  while (ep.pop_received(d)) {
    FUZZ_CHECK(!d.empty() && d.size() <= 1 + 16384, "record of " + std::to_string(d.size()));
  }
  FUZZ_CHECK(ep.failed() == !ep.error().empty(), "failed() and error() disagree: " + ep.error());
  if (!ep.handshake_done()) {
    FUZZ_CHECK(ep.max_payload() == 0 && ep.version_name().empty());
    FUZZ_CHECK(ep.send(0, {}) != DtlsEndpoint::SendStatus::sent, "sent before the handshake");
  }
}

std::vector<std::span<const std::uint8_t>> split(std::span<const std::uint8_t> input) {
  std::vector<std::span<const std::uint8_t>> out;
  const std::string_view all = tandem::fuzz::as_chars(input.data(), input.size());
  std::size_t at = 0;
  while (true) {
    const auto sep = all.find(kSeparator, at);
    const std::size_t end = sep == std::string_view::npos ? all.size() : sep;
    out.push_back(input.subspan(at, end - at));
    if (sep == std::string_view::npos || out.size() == 64) break;
    at = sep + kSeparator.size();
  }
  return out;
}

void fresh_endpoint(const std::vector<std::span<const std::uint8_t>>& datagrams, TimePoint now) {
  EndpointOptions options;
  DtlsEndpoint ep(env->server.get(), kKey, now, options);
  FUZZ_CHECK(!ep.failed(), ep.error());
  for (const auto& d : datagrams) {
    const bool was_started = ep.handshake_started();
    ep.feed(d);
    FUZZ_CHECK(was_started || ep.handshake_started() == false || parse_client_hello(d).has_value(),
               "a handshake started without a ClientHello");
    drain(ep, options, nullptr);
    now += Duration(700);
    if (auto at = ep.next_timeout(now); at && *at <= now) ep.handle_timeout(now);
    drain(ep, options, nullptr);
  }
  ep.handle_timeout(now + options.handshake_timeout);
  FUZZ_CHECK(ep.handshake_done() || ep.failed(), "a stuck handshake outlived its deadline");
}

void established_endpoint(const std::vector<std::span<const std::uint8_t>>& datagrams,
                          TimePoint now, tandem::fuzz::Rng& rng) {
  EndpointOptions options;
  DtlsEndpoint ep(env->server.get(), kKey, now, options);
  Client client(env->client);
  client.step();
  for (int round = 0; round < 16 && !ep.handshake_done() && !ep.failed(); ++round) {
    ep.feed(client.take());
    drain(ep, options, &client);
  }
  FUZZ_CHECK(ep.handshake_done() && client.done(), "the PSK handshake failed: " + ep.error());
  for (const auto& d : datagrams) {
    if (ep.failed() || ep.peer_closed()) break;
    if (rng.below(2) == 0 || d.empty() || d.size() > ep.max_payload() + 1) {
      ep.feed(d);
      drain(ep, options, &client);
      continue;
    }
    FUZZ_CHECK(client.write(d), "the client could not seal a record");
    ep.feed(client.take());
    Bytes got;
    FUZZ_CHECK(ep.pop_received(got), "a sealed record was not delivered: " + ep.error());
    FUZZ_CHECK(got.size() == d.size() && std::equal(got.begin(), got.end(), d.begin()),
               "a sealed record changed on the way");
    drain(ep, options, &client);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  tandem::fuzz::quiet_logs();
  env = new Env();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto datagrams = split({data, size});
  const TimePoint now{Duration{1'000'000'000}};
  for (const auto& d : datagrams) {
    const auto hello = parse_client_hello(d);
    if (hello) check_hello(d, *hello);
    check_cookie(d, hello, now);
  }
  tandem::fuzz::Rng rng(tandem::fuzz::as_chars(data, size));
  if (rng.below(4) == 0) {
    established_endpoint(datagrams, now, rng);
  } else {
    fresh_endpoint(datagrams, now);
  }
  ERR_clear_error();
  return 0;
}
