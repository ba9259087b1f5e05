// Legacy DTLS 1.2 resumption (docs/dtls-modes.md): an OpenSSL client that resumes a session it
// built from its own master secret, as openconnect and Cisco Secure Client do, against a
// DtlsEndpoint on the legacy context.
#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <array>
#include <vector>

#include "node/dtls/dtls_endpoint.hpp"

namespace tandem::dtls {
namespace {

using Bytes = std::vector<std::uint8_t>;

LegacySession server_session(std::uint16_t cipher_id = 0x009D) {
  LegacySession s;
  for (std::size_t i = 0; i < s.master_secret.size(); ++i) s.master_secret[i] = 0x30 + i;
  for (std::size_t i = 0; i < s.session_id.size(); ++i) s.session_id[i] = 0xC0 + i;
  s.cipher_id = cipher_id;
  return s;
}

class ResumingClient {
 public:
  ResumingClient(const LegacySession& resume, const char* ciphers, std::uint16_t cipher_id) {
    ctx_ = SSL_CTX_new(DTLS_client_method());
    SSL_CTX_set_min_proto_version(ctx_, DTLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(ctx_, DTLS1_2_VERSION);
    SSL_CTX_set_cipher_list(ctx_, ciphers);
    // As openconnect's OpenSSL build does for this mode: RFC 7627 forbids resuming a session
    // made without EMS when the ClientHello offers it.
    SSL_CTX_set_options(ctx_, SSL_OP_NO_EXTENDED_MASTER_SECRET);
    ssl_ = SSL_new(ctx_);
    in_ = BIO_new(BIO_s_mem());
    out_ = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(in_, -1);
    SSL_set_bio(ssl_, in_, out_);
    SSL_set_options(ssl_, SSL_OP_NO_QUERY_MTU);
    SSL_set_mtu(ssl_, 1400);
    SSL_set_connect_state(ssl_);
    SSL_SESSION* session = SSL_SESSION_new();
    SSL_SESSION_set1_id(session, resume.session_id.data(), resume.session_id.size());
    SSL_SESSION_set_protocol_version(session, DTLS1_2_VERSION);
    const unsigned char id[2] = {static_cast<unsigned char>(cipher_id >> 8),
                                 static_cast<unsigned char>(cipher_id)};
    SSL_SESSION_set_cipher(session, SSL_CIPHER_find(ssl_, id));
    SSL_SESSION_set1_master_key(session, resume.master_secret.data(),
                                resume.master_secret.size());
    SSL_set_session(ssl_, session);
    SSL_SESSION_free(session);
  }
  ~ResumingClient() {
    SSL_free(ssl_);
    SSL_CTX_free(ctx_);
  }
  bool done() const { return SSL_is_init_finished(ssl_) == 1; }
  bool resumed() const { return SSL_session_reused(ssl_) == 1; }
  void step() {
    ERR_clear_error();
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
  int write(const Bytes& plaintext) {
    return SSL_write(ssl_, plaintext.data(), static_cast<int>(plaintext.size()));
  }
  Bytes read() {
    Bytes buf(17000);
    const int n = SSL_read(ssl_, buf.data(), static_cast<int>(buf.size()));
    ERR_clear_error();
    buf.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    return buf;
  }

 private:
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  BIO* in_ = nullptr;
  BIO* out_ = nullptr;
};

void pump(ResumingClient& client, DtlsEndpoint& server) {
  Bytes d;
  for (int round = 0; round < 16; ++round) {
    bool moved = false;
    if (Bytes c = client.take(); !c.empty()) {
      server.feed(c);
      moved = true;
    }
    while (server.pop_outgoing(d)) {
      client.deliver(d);
      moved = true;
    }
    if (!moved) break;
  }
}

struct DtlsLegacyTest : ::testing::Test {
  void SetUp() override {
    auto made = make_legacy_server_context();
    ASSERT_TRUE(made.ok()) << made.error();
    ctx = std::move(made.value());
  }
  ContextPtr ctx;
  TimePoint t0{Duration{1'000'000}};
};

TEST_F(DtlsLegacyTest, ResumesTheAnnouncedSessionAndCarriesRecords) {
  const auto session = server_session();
  DtlsEndpoint server(ctx.get(), session, t0);
  ResumingClient client(session, "AES256-GCM-SHA384", 0x009D);
  client.step();
  pump(client, server);
  ASSERT_TRUE(server.handshake_done()) << server.error();
  ASSERT_TRUE(client.done());
  EXPECT_TRUE(client.resumed());
  EXPECT_EQ(server.cipher_name(), "AES256-GCM-SHA384");
  EXPECT_EQ(server.version_name(), "DTLSv1.2");

  ASSERT_GT(client.write({0x00, 0x45, 0x00}), 0);
  pump(client, server);
  Bytes record;
  ASSERT_TRUE(server.pop_received(record));
  EXPECT_EQ(record, (Bytes{0x00, 0x45, 0x00}));
  ASSERT_EQ(server.send(0x04, Bytes{1, 2, 3}), DtlsEndpoint::SendStatus::sent);
  Bytes d;
  ASSERT_TRUE(server.pop_outgoing(d));
  client.deliver(d);
  EXPECT_EQ(client.read(), (Bytes{0x04, 1, 2, 3}));
  EXPECT_GT(server.max_payload(), 1300u);
}

TEST_F(DtlsLegacyTest, EcdheNamedSuiteResumesToo) {
  const auto session = server_session(0xC030);
  DtlsEndpoint server(ctx.get(), session, t0);
  ResumingClient client(session, "ECDHE-RSA-AES256-GCM-SHA384", 0xC030);
  client.step();
  pump(client, server);
  ASSERT_TRUE(server.handshake_done()) << server.error();
  EXPECT_TRUE(client.resumed());
  EXPECT_EQ(server.cipher_name(), "ECDHE-RSA-AES256-GCM-SHA384");
}

TEST_F(DtlsLegacyTest, WrongMasterSecretNeverCompletes) {
  const auto session = server_session();
  auto forged = session;
  forged.master_secret[5] ^= 1;
  DtlsEndpoint server(ctx.get(), session, t0);
  ResumingClient client(forged, "AES256-GCM-SHA384", 0x009D);
  client.step();
  pump(client, server);
  EXPECT_FALSE(server.handshake_done());
  EXPECT_FALSE(client.done());
  server.handle_timeout(t0 + kHandshakeTimeout);
  EXPECT_TRUE(server.failed());
  EXPECT_NE(server.error().find("master secret mismatch"), std::string::npos) << server.error();
}

TEST_F(DtlsLegacyTest, AnotherSessionIdIsAFullHandshakeThatFails) {
  const auto session = server_session();
  auto other = session;
  other.session_id[0] ^= 1;
  DtlsEndpoint server(ctx.get(), session, t0);
  ResumingClient client(other, "AES256-GCM-SHA384", 0x009D);
  client.step();
  pump(client, server);
  EXPECT_TRUE(server.failed());  // no certificate, no PSK: nothing else can be negotiated
  EXPECT_FALSE(server.handshake_done());
  EXPECT_FALSE(client.done());
}

TEST_F(DtlsLegacyTest, ASuiteOtherThanTheAnnouncedOneIsRefused) {
  const auto session = server_session(0x009D);
  DtlsEndpoint server(ctx.get(), session, t0);
  ResumingClient client(session, "AES128-GCM-SHA256", 0x009C);
  client.step();
  pump(client, server);
  EXPECT_FALSE(server.handshake_done());
  EXPECT_FALSE(client.done());
}

}  // namespace
}  // namespace tandem::dtls
