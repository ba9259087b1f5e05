#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "node/dtls/client_hello.hpp"
#include "node/dtls/dtls_endpoint.hpp"

namespace tandem::dtls {
namespace {

using Bytes = std::vector<std::uint8_t>;
using Key = std::array<std::uint8_t, kPskSize>;
using namespace std::chrono_literals;

Key make_key(std::uint8_t seed) {
  Key k{};
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(seed + i * 7);
  return k;
}

Bytes app_id() {
  Bytes id(32);
  for (std::size_t i = 0; i < id.size(); ++i) id[i] = static_cast<std::uint8_t>(0xA0 + i);
  return id;
}

void put(Bytes& b, std::uint64_t v, int width) {
  for (int i = width - 1; i >= 0; --i) b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

// A ClientHello laid out as in §5.2 (what openconnect 9.01 sends, minus most extensions).
Bytes handmade_hello(const Bytes& session_id, const Bytes& cookie = {}) {
  Bytes body;
  put(body, 0xFEFD, 2);
  body.insert(body.end(), 32, 0x5A);  // random
  put(body, session_id.size(), 1);
  body.insert(body.end(), session_id.begin(), session_id.end());
  put(body, cookie.size(), 1);
  body.insert(body.end(), cookie.begin(), cookie.end());
  put(body, 4, 2);
  put(body, 0x00A9, 2);
  put(body, 0x008D, 2);
  put(body, 1, 1);
  put(body, 0, 1);  // compression: null
  put(body, 9, 2);  // extensions: renegotiation_info (empty) + empty session_ticket
  put(body, 0xFF01, 2);
  put(body, 1, 2);
  put(body, 0, 1);
  put(body, 0x0023, 2);
  put(body, 0, 2);
  Bytes d;
  put(d, 0x16, 1);
  put(d, 0xFEFF, 2);
  put(d, 0, 2);
  put(d, 7, 6);  // sequence
  put(d, 12 + body.size(), 2);
  put(d, 0x01, 1);
  put(d, body.size(), 3);
  put(d, 0, 2);
  put(d, 0, 3);
  put(d, body.size(), 3);
  d.insert(d.end(), body.begin(), body.end());
  return d;
}

// --- an OpenSSL DTLS 1.2 PSK client, shaped like openconnect's OpenSSL build: it presents the
// App-ID as the session_id of a made-up session, and answers with identity "psk" ---

unsigned int client_psk_cb(SSL* ssl, const char*, char* identity, unsigned int max_identity,
                           unsigned char* psk, unsigned int max_psk) {
  const auto* key = static_cast<const Key*>(SSL_get_app_data(ssl));
  if (max_identity < 4 || max_psk < kPskSize) return 0;
  std::memcpy(identity, "psk", 4);
  std::memcpy(psk, key->data(), kPskSize);
  return kPskSize;
}

class Client {
 public:
  explicit Client(Key key, const char* ciphers = "PSK-AES256-GCM-SHA384") : key_(key) {
    ctx_ = SSL_CTX_new(DTLS_client_method());
    SSL_CTX_set_min_proto_version(ctx_, DTLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(ctx_, DTLS1_2_VERSION);
    SSL_CTX_set_cipher_list(ctx_, ciphers);
    SSL_CTX_set_psk_client_callback(ctx_, client_psk_cb);
    ssl_ = SSL_new(ctx_);
    SSL_set_app_data(ssl_, &key_);
    in_ = BIO_new(BIO_s_mem());
    out_ = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(in_, -1);
    SSL_set_bio(ssl_, in_, out_);
    SSL_set_options(ssl_, SSL_OP_NO_QUERY_MTU);
    SSL_set_mtu(ssl_, 1400);
    SSL_set_connect_state(ssl_);
    const Bytes id = app_id();
    SSL_SESSION* session = SSL_SESSION_new();
    SSL_SESSION_set1_id(session, id.data(), static_cast<unsigned>(id.size()));
    SSL_SESSION_set_protocol_version(session, DTLS1_2_VERSION);
    SSL_SESSION_set_cipher(
        session, SSL_CIPHER_find(ssl_, reinterpret_cast<const unsigned char*>("\x00\xA9")));
    SSL_SESSION_set1_master_key(session, key_.data(), key_.size());
    SSL_set_session(ssl_, session);
    SSL_SESSION_free(session);
  }
  ~Client() {
    SSL_free(ssl_);
    SSL_CTX_free(ctx_);
  }

  bool done() const { return SSL_is_init_finished(ssl_) == 1; }
  void step() {
    ERR_clear_error();
    if (!done()) SSL_do_handshake(ssl_);
    ERR_clear_error();
  }
  void deliver(const Bytes& datagram) {
    BIO_write(in_, datagram.data(), static_cast<int>(datagram.size()));
    step();
  }
  // Everything the client wrote since the last call, as one datagram (DTLS allows several
  // records per datagram; GnuTLS sends its whole flight that way).
  Bytes take() {
    Bytes out(static_cast<std::size_t>(BIO_ctrl_pending(out_)));
    if (!out.empty()) BIO_read(out_, out.data(), static_cast<int>(out.size()));
    return out;
  }
  void write(const Bytes& plaintext) {
    ASSERT_GT(SSL_write(ssl_, plaintext.data(), static_cast<int>(plaintext.size())), 0);
  }
  std::vector<Bytes> read_all() {
    std::vector<Bytes> records;
    Bytes buf(17000);
    int n;
    while ((n = SSL_read(ssl_, buf.data(), static_cast<int>(buf.size()))) > 0) {
      records.emplace_back(buf.begin(), buf.begin() + n);
    }
    ERR_clear_error();
    return records;
  }
  SSL* ssl() { return ssl_; }

 private:
  Key key_;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  BIO* in_ = nullptr;
  BIO* out_ = nullptr;
};

// Moves datagrams both ways until nothing moves. Returns the number of server datagrams.
int pump(Client& client, DtlsEndpoint& server) {
  int from_server = 0;
  Bytes d;
  for (int round = 0; round < 16; ++round) {
    bool moved = false;
    if (Bytes c = client.take(); !c.empty()) {
      server.feed(c);
      moved = true;
    }
    while (server.pop_outgoing(d)) {
      client.deliver(d);
      ++from_server;
      moved = true;
    }
    if (!moved) break;
  }
  return from_server;
}

struct DtlsEndpointTest : ::testing::Test {
  void SetUp() override {
    auto made = make_server_context();
    ASSERT_TRUE(made.ok()) << made.error();
    ctx = std::move(made.value());
  }
  ContextPtr ctx;
  TimePoint t0{Duration{1'000'000}};
  Key key = make_key(1);
};

TEST(ClientHelloParse, ExtractsSessionIdAtTheDocumentedOffsets) {
  const Bytes hello = handmade_hello(app_id());
  ASSERT_EQ(hello[59], 0x20);
  EXPECT_TRUE(std::equal(hello.begin() + 60, hello.begin() + 92, app_id().begin()));
  const auto parsed = parse_client_hello(hello);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->session_id, app_id());
  EXPECT_TRUE(parsed->cookie.empty());
  EXPECT_EQ(parsed->record_version, 0xFEFF);
  EXPECT_EQ(parsed->client_version, 0xFEFD);
  EXPECT_EQ(parsed->record_sequence, 7u);
  EXPECT_EQ(parsed->message_seq, 0);
  EXPECT_TRUE(parsed->complete);
  EXPECT_EQ(parse_client_hello(handmade_hello({}))->session_id.size(), 0u);
  EXPECT_EQ(parse_client_hello(handmade_hello(app_id(), Bytes(20, 9)))->cookie, Bytes(20, 9));
}

TEST(ClientHelloParse, RejectsTruncatedAndMalformedInput) {
  const Bytes hello = handmade_hello(app_id());
  for (std::size_t n = 0; n < hello.size(); ++n) {
    EXPECT_FALSE(parse_client_hello(std::span(hello).first(n))) << "prefix " << n;
  }
  auto mutated = [&](std::size_t at, std::uint8_t value) {
    Bytes b = hello;
    b[at] = value;
    return parse_client_hello(b).has_value();
  };
  EXPECT_FALSE(mutated(0, 0x17));   // application data
  EXPECT_FALSE(mutated(1, 0x03));   // TLS, not DTLS
  EXPECT_FALSE(mutated(4, 0x01));   // epoch 1
  EXPECT_FALSE(mutated(13, 0x02));  // ServerHello
  EXPECT_FALSE(mutated(20, 0x01));  // fragment offset != 0
  EXPECT_FALSE(mutated(25, 0x03));  // client_version 03 xx
  EXPECT_FALSE(mutated(59, 33));    // session_id longer than 32
  EXPECT_FALSE(mutated(59, 0xFF));  // session_id past the end
  EXPECT_FALSE(mutated(92, 0xF0));  // cookie past the end
  Bytes trailing = hello;           // a second record in the same datagram is fine
  trailing.insert(trailing.end(), {0x17, 0xFE, 0xFD, 0, 1});
  EXPECT_TRUE(parse_client_hello(trailing));

  std::mt19937 rng(42);  // never crash, whatever arrives
  for (int i = 0; i < 20000; ++i) {
    Bytes b = i % 2 ? hello : Bytes(rng() % 300);
    for (int k = 0; k < 1 + static_cast<int>(rng() % 4); ++k) {
      if (!b.empty()) b[rng() % b.size()] = static_cast<std::uint8_t>(rng());
    }
    if (i % 2 == 0) b.resize(b.size() - (b.empty() ? 0 : rng() % b.size()));
    (void)parse_client_hello(b);
  }
}

TEST(ClientHelloParse, AcceptsAFirstFragment) {
  Bytes hello = handmade_hello(app_id());
  hello.resize(hello.size() - 10);  // fragment_length shrinks, message length stays
  const std::size_t body = hello.size() - 25;
  hello[11] = static_cast<std::uint8_t>((body + 12) >> 8);
  hello[12] = static_cast<std::uint8_t>(body + 12);
  hello[22] = static_cast<std::uint8_t>(body >> 16);
  hello[23] = static_cast<std::uint8_t>(body >> 8);
  hello[24] = static_cast<std::uint8_t>(body);
  const auto parsed = parse_client_hello(hello);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_FALSE(parsed->complete);
  EXPECT_EQ(parsed->session_id, app_id());
}

TEST(ClientHelloParse, ReadsTheAppIdFromARealOpenSslClientHello) {
  Client client(make_key(1));
  client.step();
  const Bytes hello = client.take();
  const auto parsed = parse_client_hello(hello);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->session_id, app_id());
  EXPECT_TRUE(parsed->complete);
}

TEST(HelloVerifyRequest, HasTheRfc6347Layout) {
  const Bytes hvr = build_hello_verify_request(0x0102030405, Bytes(32, 0xCC));
  ASSERT_EQ(hvr.size(), 13u + 12u + 3u + 32u);
  EXPECT_EQ(Bytes(hvr.begin(), hvr.begin() + 13),
            (Bytes{0x16, 0xFE, 0xFF, 0, 0, 0, 0x01, 0x02, 0x03, 0x04, 0x05, 0, 47}));
  EXPECT_EQ(Bytes(hvr.begin() + 13, hvr.begin() + 28),
            (Bytes{0x03, 0, 0, 35, 0, 0, 0, 0, 0, 0, 0, 35, 0xFE, 0xFF, 32}));
}

TEST_F(DtlsEndpointTest, HandshakeRecordsAndMtuProbe) {
  Client client(key);
  DtlsEndpoint server(ctx.get(), key, t0);
  ASSERT_FALSE(server.failed()) << server.error();
  client.step();
  pump(client, server);
  ASSERT_TRUE(server.handshake_done()) << server.error();
  ASSERT_TRUE(client.done());
  EXPECT_EQ(server.cipher_name(), "PSK-AES256-GCM-SHA384");
  EXPECT_EQ(server.version_name(), "DTLSv1.2");
  EXPECT_FALSE(server.next_timeout(t0).has_value());         // no timer once established
  EXPECT_EQ(server.max_payload(), 1472u - 13 - 8 - 16 - 1);  // header, nonce, tag, type byte

  Bytes packet = {0x00, 0x45, 0x00, 0x00, 0x54};  // type 0 + the start of an IPv4 header
  packet.resize(85, 0xEE);
  client.write(packet);
  Bytes probe(1401, 0x5B);  // 0x03 + 1400 bytes of padding, as openconnect probes the MTU
  probe[0] = 0x03;
  client.write(probe);
  server.feed(client.take());  // both records in one datagram
  Bytes r;
  ASSERT_TRUE(server.pop_received(r));
  EXPECT_EQ(r, packet);
  ASSERT_TRUE(server.pop_received(r));
  ASSERT_EQ(r.size(), 1401u);
  ASSERT_EQ(r[0], 0x03);
  EXPECT_FALSE(server.pop_received(r));

  ASSERT_EQ(server.send(0x04, std::span(r).subspan(1)), DtlsEndpoint::SendStatus::sent);
  ASSERT_EQ(server.send(0x00, std::span(packet).subspan(1)), DtlsEndpoint::SendStatus::sent);
  Bytes d;
  int datagrams = 0;
  while (server.pop_outgoing(d)) {
    EXPECT_LE(d.size(), 1472u);
    client.deliver(d);
    ++datagrams;
  }
  EXPECT_EQ(datagrams, 2);  // one record per datagram
  const auto got = client.read_all();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0][0], 0x04);
  EXPECT_TRUE(std::equal(got[0].begin() + 1, got[0].end(), probe.begin() + 1, probe.end()));
  EXPECT_EQ(got[1], packet);
  EXPECT_EQ(server.send(0x00, Bytes(server.max_payload() + 1)), DtlsEndpoint::SendStatus::too_big);

  SSL_shutdown(client.ssl());
  server.feed(client.take());
  EXPECT_TRUE(server.peer_closed());
  EXPECT_FALSE(server.failed());
}

// seal() is send() into the caller's list: one datagram per record, in order, the queue untouched,
// and the datagrams decrypt at the client like queued ones.
TEST_F(DtlsEndpointTest, SealWritesDatagramsIntoTheCallersList) {
  Client client(key);
  DtlsEndpoint server(ctx.get(), key, t0);
  client.step();
  pump(client, server);
  ASSERT_TRUE(server.handshake_done()) << server.error();

  Bytes a(1200, 0xA1), b(1200, 0xB2), c(40, 0xC3);
  DatagramList list;
  for (const Bytes* p : {&a, &b, &c})
    ASSERT_EQ(server.seal(0x00, *p, list), DtlsEndpoint::SendStatus::sent);
  Bytes d;
  EXPECT_FALSE(server.pop_outgoing(d));  // nothing went to the queue
  ASSERT_EQ(list.sizes.size(), 3u);
  EXPECT_EQ(list.sizes[0], list.sizes[1]);  // equal payloads, equal datagrams (GSO runs)
  EXPECT_LT(list.sizes[2], list.sizes[0]);
  std::size_t at = 0;
  for (std::size_t size : list.sizes) {
    client.deliver(Bytes(list.bytes.begin() + static_cast<std::ptrdiff_t>(at),
                         list.bytes.begin() + static_cast<std::ptrdiff_t>(at + size)));
    at += size;
  }
  EXPECT_EQ(at, list.bytes.size());
  const auto got = client.read_all();
  ASSERT_EQ(got.size(), 3u);
  const Bytes* want[] = {&a, &b, &c};
  for (std::size_t i = 0; i < 3; ++i) {
    ASSERT_EQ(got[i].size(), want[i]->size() + 1);
    EXPECT_EQ(got[i][0], 0x00);
    EXPECT_TRUE(std::equal(got[i].begin() + 1, got[i].end(), want[i]->begin()));
  }
  // Too big is refused before anything is written, and send() still queues as before.
  EXPECT_EQ(server.seal(0x00, Bytes(server.max_payload() + 1), list),
            DtlsEndpoint::SendStatus::too_big);
  EXPECT_EQ(list.sizes.size(), 3u);
  ASSERT_EQ(server.send(0x00, c), DtlsEndpoint::SendStatus::sent);
  EXPECT_TRUE(server.pop_outgoing(d));
}

// openconnect 9.01's PSK offer, in its order (anyconnect-protocol.md section 5.2).
constexpr const char* kOpenconnectOffer =
    "PSK-AES256-GCM-SHA384:PSK-CHACHA20-POLY1305:PSK-AES256-CCM:PSK-AES256-CBC-SHA:"
    "PSK-AES128-GCM-SHA256:PSK-AES128-CCM:PSK-AES128-CBC-SHA:PSK-AES128-CBC-SHA256";

TEST_F(DtlsEndpointTest, OpenconnectsOfferGetsAes256Gcm) {
  Client client(key, kOpenconnectOffer);
  DtlsEndpoint server(ctx.get(), key, t0);
  client.step();
  pump(client, server);
  ASSERT_TRUE(server.handshake_done()) << server.error();
  EXPECT_EQ(server.cipher_name(), "PSK-AES256-GCM-SHA384");
}

TEST_F(DtlsEndpointTest, AcceptsOnlyAeadSuites) {
  struct Case {
    const char* suite;
    bool accepted;
  };
  const Case cases[] = {
      {"PSK-AES256-GCM-SHA384", true},
      {"PSK-CHACHA20-POLY1305", true},
      {"PSK-AES128-GCM-SHA256", true},
      {"ECDHE-PSK-CHACHA20-POLY1305", true},
      {"PSK-AES256-CCM", false},
      {"PSK-AES128-CCM", false},
      {"PSK-AES256-CBC-SHA", false},
      {"PSK-AES128-CBC-SHA", false},
      {"PSK-AES128-CBC-SHA256", false},
      {"PSK-AES256-CBC-SHA384", false},
      {"ECDHE-PSK-AES256-CBC-SHA384", false},
      {"PSK-NULL-SHA256:@SECLEVEL=0", false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.suite);
    Client client(key, c.suite);
    DtlsEndpoint server(ctx.get(), key, t0);
    client.step();
    pump(client, server);
    EXPECT_EQ(server.handshake_done(), c.accepted) << server.error();
    if (c.accepted) {
      EXPECT_EQ(server.cipher_name(), std::string(c.suite));
    } else {
      EXPECT_TRUE(server.failed());
      EXPECT_NE(server.error().find("no shared cipher"), std::string::npos) << server.error();
    }
  }
}

TEST_F(DtlsEndpointTest, NoCommonSuiteFailsWithAReadableError) {
  Client client(key, "PSK-AES256-CCM");
  DtlsEndpoint server(ctx.get(), key, t0);
  client.step();
  pump(client, server);
  EXPECT_TRUE(server.failed());
  EXPECT_NE(server.error().find("no shared cipher"), std::string::npos) << server.error();
}

TEST_F(DtlsEndpointTest, WrongPskFailsAtTheDeadlineNamingTheKey) {
  Client client(make_key(99));
  DtlsEndpoint server(ctx.get(), key, t0);
  client.step();
  pump(client, server);
  EXPECT_FALSE(server.handshake_done());
  EXPECT_FALSE(client.done());
  EXPECT_FALSE(server.failed());  // DTLS drops undecryptable records silently
  const auto at = server.next_timeout(t0);
  ASSERT_TRUE(at.has_value());
  EXPECT_LE(*at, t0 + kHandshakeTimeout);
  server.handle_timeout(t0 + kHandshakeTimeout);
  ASSERT_TRUE(server.failed());
  EXPECT_NE(server.error().find("PSK mismatch"), std::string::npos) << server.error();
  EXPECT_EQ(server.send(0x00, Bytes(10)), DtlsEndpoint::SendStatus::failed);
}

TEST_F(DtlsEndpointTest, CookieExchangeThenHandshake) {
  auto guard = CookieGuard::with_secret(Bytes(32, 0x11));
  ASSERT_TRUE(guard.ok()) << guard.error();
  const Bytes peer_a = {10, 0, 0, 1, 0x30, 0x39};
  const Bytes peer_b = {10, 0, 0, 2, 0x30, 0x39};
  Client client(key);
  client.step();
  const Bytes first = client.take();

  auto v = guard->check(first, peer_a, t0);
  ASSERT_EQ(v.action, CookieVerdict::Action::send_hello_verify);
  client.deliver(v.reply);
  const Bytes second = client.take();
  const auto parsed = parse_client_hello(second);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->cookie.size(), kCookieSize);
  EXPECT_EQ(parsed->session_id, app_id());  // still the App-ID: demultiplexing keeps working

  EXPECT_EQ(guard->check(second, peer_a, t0 + 1s).action, CookieVerdict::Action::proceed);
  EXPECT_EQ(guard->check(second, peer_b, t0).action, CookieVerdict::Action::send_hello_verify);
  EXPECT_EQ(guard->check(second, peer_a, t0 + 3 * kCookiePeriod).action,
            CookieVerdict::Action::send_hello_verify);  // expired
  EXPECT_EQ(guard->check(Bytes{1, 2, 3}, peer_a, t0).action, CookieVerdict::Action::drop);
  auto other = CookieGuard::create();
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->check(second, peer_a, t0).action, CookieVerdict::Action::send_hello_verify);

  DtlsEndpoint server(ctx.get(), key, t0);  // the verified ClientHello is its first datagram
  server.feed(second);
  pump(client, server);
  ASSERT_TRUE(server.handshake_done()) << server.error();
  EXPECT_TRUE(client.done());
  client.write(Bytes{0x07});
  server.feed(client.take());
  Bytes r;
  ASSERT_TRUE(server.pop_received(r));
  EXPECT_EQ(r, Bytes{0x07});
}

TEST_F(DtlsEndpointTest, GarbageNeverBreaksTheAssociation) {
  Client client(key);
  DtlsEndpoint server(ctx.get(), key, t0);
  std::mt19937 rng(7);
  auto noise = [&] {
    Bytes b(rng() % 200);
    for (auto& x : b) x = static_cast<std::uint8_t>(rng());
    if (b.size() > 13 && rng() % 2) b[0] = 0x16, b[1] = 0xFE, b[2] = 0xFD;
    return b;
  };
  for (int i = 0; i < 200; ++i) server.feed(noise());
  EXPECT_FALSE(server.handshake_started());
  EXPECT_EQ(server.ignored_datagrams(), 200u);
  client.step();
  pump(client, server);
  ASSERT_TRUE(server.handshake_done()) << server.error();
  for (int i = 0; i < 500; ++i) server.feed(noise());
  EXPECT_FALSE(server.failed()) << server.error();
  Bytes r;
  EXPECT_FALSE(server.pop_received(r));
  client.write(Bytes{0x03});
  server.feed(client.take());
  ASSERT_TRUE(server.pop_received(r));
  EXPECT_EQ(r, Bytes{0x03});
}

// What the NAT-rebinding check in DtlsServer relies on (docs/roaming.md): a record from an
// unknown port is offered to the associations of that address, and only its own association
// authenticates it; the others drop it silently and stay usable. A replayed record is refused.
TEST_F(DtlsEndpointTest, ARecordAuthenticatesOnlyUnderItsOwnAssociation) {
  Client client_a(key), client_b(make_key(2));
  DtlsEndpoint a(ctx.get(), key, t0), b(ctx.get(), make_key(2), t0);
  client_a.step();
  pump(client_a, a);
  client_b.step();
  pump(client_b, b);
  ASSERT_TRUE(a.handshake_done() && b.handshake_done());
  client_a.write(Bytes{0x00, 0x45});
  const Bytes record = client_a.take();
  b.feed(record);
  EXPECT_FALSE(b.has_received());
  EXPECT_FALSE(b.failed()) << b.error();
  a.feed(record);
  EXPECT_TRUE(a.has_received());
  Bytes r;
  ASSERT_TRUE(a.pop_received(r));
  a.feed(record);  // the same record again, as from a third port
  EXPECT_FALSE(a.has_received());
  client_b.write(Bytes{0x07});
  b.feed(client_b.take());
  EXPECT_TRUE(b.has_received());  // b still works
}

TEST_F(DtlsEndpointTest, RetransmitsALostFlight) {
  EndpointOptions options;
  options.initial_retransmit = 30ms;
  Client client(key);
  DtlsEndpoint server(ctx.get(), key, t0, options);
  client.step();
  server.feed(client.take());
  Bytes d;
  int lost = 0;
  while (server.pop_outgoing(d)) ++lost;  // ServerHello + ServerHelloDone never arrive
  EXPECT_EQ(lost, 1);  // OpenSSL packs the flight into one datagram when it fits the MTU
  const auto at = server.next_timeout(t0);
  ASSERT_TRUE(at.has_value());
  EXPECT_LE(*at, t0 + 30ms);
  server.handle_timeout(t0);  // too early: nothing happens
  EXPECT_FALSE(server.pop_outgoing(d));
  std::this_thread::sleep_for(50ms);  // OpenSSL's retransmission clock is the real one
  server.handle_timeout(t0 + 50ms);
  int again = 0;
  while (server.pop_outgoing(d)) {
    client.deliver(d);
    ++again;
  }
  EXPECT_GE(again, 1);
  pump(client, server);
  EXPECT_TRUE(server.handshake_done()) << server.error();
}

unsigned int fast_client_timer(SSL*, unsigned int previous_us) {
  return previous_us == 0 ? 30'000 : previous_us * 2;
}

TEST_F(DtlsEndpointTest, RecoversALostFinalFlightAndRefusesRenegotiation) {
  Client client(key);
  DTLS_set_timer_cb(client.ssl(), fast_client_timer);
  DtlsEndpoint server(ctx.get(), key, t0);
  client.step();
  const Bytes hello = client.take();
  server.feed(hello);
  server.feed(hello);  // a duplicate ClientHello is harmless
  Bytes d;
  while (server.pop_outgoing(d)) client.deliver(d);
  server.feed(client.take());
  ASSERT_TRUE(server.handshake_done()) << server.error();
  while (server.pop_outgoing(d)) {
  }  // our ChangeCipherSpec + Finished are lost
  std::this_thread::sleep_for(50ms);
  ASSERT_EQ(DTLSv1_handle_timeout(client.ssl()), 1);  // client repeats its flight...
  server.feed(client.take());
  int resent = 0;
  while (server.pop_outgoing(d)) {
    client.deliver(d);  // ...and we answer it again
    ++resent;
  }
  EXPECT_GE(resent, 1);
  ASSERT_TRUE(client.done());

  // No renegotiation (the CONNECT answer says X-DTLS-Rekey-Method: none): the server answers a
  // renegotiating ClientHello with a no_renegotiation alert and keeps the association as it is.
  ASSERT_EQ(SSL_renegotiate(client.ssl()), 1);
  SSL_do_handshake(client.ssl());
  ERR_clear_error();
  const Bytes renegotiation = client.take();
  ASSERT_FALSE(renegotiation.empty());
  server.feed(renegotiation);
  EXPECT_FALSE(server.failed()) << server.error();
  int alerts = 0;
  while (server.pop_outgoing(d)) {
    ++alerts;
    client.deliver(d);
  }
  EXPECT_EQ(alerts, 1);
  EXPECT_NE(SSL_renegotiate_pending(client.ssl()), 0);  // the client never got a ServerHello
  EXPECT_NE(SSL_get_state(client.ssl()), TLS_ST_OK);
  // The server still reads what the client sent under the keys of the first handshake.
  ASSERT_EQ(server.send(0x07, Bytes{}), DtlsEndpoint::SendStatus::sent);
  EXPECT_TRUE(server.handshake_done());
  EXPECT_FALSE(server.failed()) << server.error();
}

TEST_F(DtlsEndpointTest, BoundsQueuesAndValidatesSetup) {
  EndpointOptions options;
  options.max_queued_datagrams = 2;
  options.max_queued_records = 1;
  Client client(key);
  DtlsEndpoint server(ctx.get(), key, t0, options);
  EXPECT_EQ(server.send(0x00, Bytes(10)), DtlsEndpoint::SendStatus::not_ready);
  client.step();
  pump(client, server);
  ASSERT_TRUE(server.handshake_done()) << server.error();
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(server.send(0x00, Bytes(10)), DtlsEndpoint::SendStatus::sent);
  EXPECT_EQ(server.dropped_outgoing(), 3u);
  client.write(Bytes{0x07});
  client.write(Bytes{0x07});
  server.feed(client.take());
  EXPECT_EQ(server.dropped_received(), 1u);

  options.max_datagram = 100;
  DtlsEndpoint tiny(ctx.get(), key, t0, options);
  EXPECT_TRUE(tiny.failed());
  EXPECT_NE(tiny.error().find("minimum"), std::string::npos) << tiny.error();
}

// After the client's first record the association drops its SSL object and protects records
// itself (RecordProtection): every AEAD suite we accept must still interoperate with OpenSSL's
// client both ways, refuse replays and forgeries, and close cleanly in both directions.
TEST_F(DtlsEndpointTest, OwnRecordLayerInteroperatesForEverySuite) {
  for (const char* suite : {"PSK-AES256-GCM-SHA384", "PSK-AES128-GCM-SHA256",
                            "PSK-CHACHA20-POLY1305", "ECDHE-PSK-CHACHA20-POLY1305"}) {
    SCOPED_TRACE(suite);
    Client client(key, suite);
    DtlsEndpoint server(ctx.get(), key, t0);
    client.step();
    pump(client, server);
    ASSERT_TRUE(server.handshake_done()) << server.error();
    const std::size_t max_payload = server.max_payload();
    // Before the client has sent anything, OpenSSL still holds the association (it may have
    // to answer a retransmitted Finished).
    EXPECT_FALSE(server.own_records());
    EXPECT_EQ(server.sealer_for_another_thread(), nullptr);
    ASSERT_EQ(server.send(0x07, {}), DtlsEndpoint::SendStatus::sent);  // written by OpenSSL
    Bytes d;
    while (server.pop_outgoing(d)) client.deliver(d);
    EXPECT_EQ(client.read_all().size(), 1u);

    client.write(Bytes{0x00, 0x45, 0x01});
    const Bytes first = client.take();
    server.feed(first);
    ASSERT_TRUE(server.own_records());
    EXPECT_EQ(server.cipher_name(), suite);
    EXPECT_EQ(server.version_name(), "DTLSv1.2");
    EXPECT_EQ(server.max_payload(), max_payload);
    Bytes r;
    ASSERT_TRUE(server.pop_received(r));
    EXPECT_EQ(r, (Bytes{0x00, 0x45, 0x01}));

    // Client -> server under our keys, including a full-size record.
    Bytes big(max_payload + 1, 0x6B);
    big[0] = 0x00;
    client.write(big);
    client.write(Bytes{0x03, 0x01});
    const Bytes second = client.take();
    server.feed(second);
    ASSERT_TRUE(server.pop_received(r));
    EXPECT_EQ(r, big);
    ASSERT_TRUE(server.pop_received(r));
    EXPECT_EQ(r, (Bytes{0x03, 0x01}));
    // A replayed datagram yields nothing, a forged one neither; the association lives on.
    server.feed(second);
    server.feed(first);
    Bytes forged = second;
    forged[forged.size() - 1] ^= 0x01;
    server.feed(forged);
    EXPECT_FALSE(server.has_received());
    EXPECT_FALSE(server.failed());

    // Server -> client: queued, sealed into a list, and the sequence continues where OpenSSL
    // left it (the client would drop a reused number as a replay).
    ASSERT_EQ(server.send(0x04, Bytes{0x01}), DtlsEndpoint::SendStatus::sent);
    DatagramList list;
    ASSERT_EQ(server.seal(0x00, Bytes(max_payload, 0x5C), list), DtlsEndpoint::SendStatus::sent);
    ASSERT_EQ(server.seal(0x00, Bytes(max_payload + 1, 0x5C), list),
              DtlsEndpoint::SendStatus::too_big);
    ASSERT_EQ(list.sizes.size(), 1u);
    EXPECT_LE(list.sizes[0], 1472u);
    while (server.pop_outgoing(d)) client.deliver(d);
    client.deliver(list.bytes);
    const auto got = client.read_all();
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0], (Bytes{0x04, 0x01}));
    EXPECT_EQ(got[1].size(), max_payload + 1);

    // A sealer for a data worker continues the same sequence: records sealed by it and by the
    // endpoint, interleaved, all reach the client, and none is taken for a replay.
    auto worker = server.sealer_for_another_thread();
    ASSERT_NE(worker, nullptr);
    const std::uint8_t data_type[1] = {0x00};
    for (std::uint8_t i = 0; i < 4; ++i) {
      Bytes sealed;
      ASSERT_TRUE(worker->seal(23, data_type, Bytes{0x45, i}, sealed));
      client.deliver(sealed);
      ASSERT_EQ(server.send(0x07, {}), DtlsEndpoint::SendStatus::sent);
      while (server.pop_outgoing(d)) client.deliver(d);
    }
    const auto mixed = client.read_all();
    ASSERT_EQ(mixed.size(), 8u);
    for (std::uint8_t i = 0; i < 4; ++i) {
      EXPECT_EQ(mixed[2 * i], (Bytes{0x00, 0x45, i}));
      EXPECT_EQ(mixed[2 * i + 1], (Bytes{0x07}));
    }
    EXPECT_EQ(server.can_send(max_payload), DtlsEndpoint::SendStatus::sent);
    EXPECT_EQ(server.can_send(max_payload + 1), DtlsEndpoint::SendStatus::too_big);

    // Our close_notify reaches the client; the client's reaches us.
    server.close();
    ASSERT_TRUE(server.pop_outgoing(d));
    client.deliver(d);
    Bytes buf(100);
    EXPECT_EQ(SSL_read(client.ssl(), buf.data(), static_cast<int>(buf.size())), 0);
    EXPECT_EQ(SSL_get_error(client.ssl(), 0), SSL_ERROR_ZERO_RETURN);
    ERR_clear_error();
    SSL_shutdown(client.ssl());
    server.feed(client.take());
    EXPECT_TRUE(server.peer_closed());
    EXPECT_FALSE(server.failed());
  }
}

// Found by the dtls fuzz target: a datagram that does not authenticate, fed before the switch,
// must not decide where the replay window starts (its header claimed sequence 2^40, and every
// real record after it was taken for a replay).
TEST_F(DtlsEndpointTest, AForgedHeaderBeforeTheSwitchDoesNotMoveTheReplayWindow) {
  Client client(key);
  DtlsEndpoint server(ctx.get(), key, t0);
  client.step();
  pump(client, server);
  ASSERT_TRUE(server.handshake_done()) << server.error();
  Bytes forged = {23, 0xFE, 0xFD, 0, 1, 0, 0, 1, 0, 0, 0, 0, 40};
  forged.resize(13 + 40, 0x11);
  server.feed(forged);
  EXPECT_FALSE(server.has_received());
  for (std::uint8_t i = 0; i < 3; ++i) {
    client.write(Bytes{0x00, i});
    server.feed(client.take());
    Bytes r;
    ASSERT_TRUE(server.pop_received(r)) << "record " << int(i);
    EXPECT_EQ(r, (Bytes{0x00, i}));
  }
  EXPECT_TRUE(server.own_records());
  server.feed(forged);  // and after it: dropped, nothing changes
  client.write(Bytes{0x00, 9});
  server.feed(client.take());
  Bytes r;
  ASSERT_TRUE(server.pop_received(r));
  EXPECT_EQ(r, (Bytes{0x00, 9}));
}

TEST(ReplayWindow, AcceptsEachNumberOnceWithin64) {
  ReplayWindow w;
  EXPECT_TRUE(w.fresh(5));
  w.accept(5);
  EXPECT_FALSE(w.fresh(5));
  EXPECT_TRUE(w.fresh(4));  // older but not seen
  w.accept(4);
  EXPECT_FALSE(w.fresh(4));
  w.accept(100);
  EXPECT_FALSE(w.fresh(36));  // 64 behind the newest: out of the window
  EXPECT_TRUE(w.fresh(37));
  EXPECT_TRUE(w.fresh(99));
  w.accept(99);
  EXPECT_FALSE(w.fresh(99));
  EXPECT_FALSE(w.fresh(100));
  w.accept(1000);  // a jump past the window forgets everything older
  EXPECT_FALSE(w.fresh(999 - 63));
  EXPECT_TRUE(w.fresh(999));
}

// Two sealers of one association (the I/O thread's and a data worker's) share its sequence:
// each number is handed out once, and when the sequence is spent both refuse and write nothing.
TEST(RecordSealer, TwoSealersShareOneSequenceUntilItIsSpent) {
  DirectionKeys keys;
  keys.key.assign(32, 0x42);
  const std::uint64_t last = (std::uint64_t{1} << 48) - 1;
  RecordSealer first(Aead::aes_256_gcm, keys, 1, last - 1);
  ASSERT_TRUE(first.ok());
  auto second = first.another_thread();
  ASSERT_NE(second, nullptr);
  const std::uint8_t head[1] = {0x00};
  const Bytes body{0x45, 0x00, 0x01};
  const auto epoch_and_seq = [](const Bytes& record) {
    std::uint64_t v = 0;
    for (int i = 3; i < 11; ++i) v = (v << 8) | record[i];
    return v;
  };
  Bytes a, b, c;
  ASSERT_TRUE(first.seal(kContentApplicationData, head, body, a));
  ASSERT_TRUE(second->seal(kContentApplicationData, head, body, b));
  EXPECT_EQ(epoch_and_seq(a), (std::uint64_t{1} << 48) | (last - 1));
  EXPECT_EQ(epoch_and_seq(b), (std::uint64_t{1} << 48) | last);
  EXPECT_FALSE(first.seal(kContentApplicationData, head, body, c));
  EXPECT_FALSE(second->seal(kContentApplicationData, head, body, c));
  EXPECT_TRUE(c.empty());
}

}  // namespace
}  // namespace tandem::dtls
