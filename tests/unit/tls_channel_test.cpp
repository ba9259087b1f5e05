// TlsChannel: the property openconnect depends on (one CSTP frame = one TLS record, notes §4.1)
// holds when many frames are encrypted into one buffer and sent with one write.
#include "node/server/tls_channel.hpp"

#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "node/server/tls_setup.hpp"

namespace tandem::server {
namespace {

// Moves whatever `from` wrote into `to`'s input.
void pump(BIO* from_out, BIO* to_in) {
  char buf[16384];
  int n;
  while ((n = BIO_read(from_out, buf, sizeof buf)) > 0) BIO_write(to_in, buf, n);
}

class TlsChannelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("tls-channel-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    auto id = make_server_tls("", "", dir_.string(), "test");
    ASSERT_TRUE(id.ok()) << id.error();
    server_ctx_ = id->ctx;
    client_ctx_ = SSL_CTX_new(TLS_client_method());
    server_ = SSL_new(server_ctx_);
    client_ = SSL_new(client_ctx_);
    s_in_ = BIO_new(BIO_s_mem());
    s_out_ = BIO_new(BIO_s_mem());
    c_in_ = BIO_new(BIO_s_mem());
    c_out_ = BIO_new(BIO_s_mem());
    SSL_set_bio(server_, s_in_, s_out_);
    SSL_set_bio(client_, c_in_, c_out_);
    SSL_set_accept_state(server_);
    SSL_set_connect_state(client_);
    for (int i = 0; i < 10 && !(SSL_is_init_finished(server_) && SSL_is_init_finished(client_));
         ++i) {
      SSL_do_handshake(client_);
      pump(c_out_, s_in_);
      SSL_do_handshake(server_);
      pump(s_out_, c_in_);
    }
    ASSERT_TRUE(SSL_is_init_finished(server_));
    ASSERT_TRUE(SSL_is_init_finished(client_));
  }
  void TearDown() override {
    SSL_free(server_);
    SSL_free(client_);
    SSL_CTX_free(server_ctx_);
    SSL_CTX_free(client_ctx_);
    std::filesystem::remove_all(dir_);
  }

  std::filesystem::path dir_;
  SSL_CTX* server_ctx_ = nullptr;
  SSL_CTX* client_ctx_ = nullptr;
  SSL* server_ = nullptr;
  SSL* client_ = nullptr;
  BIO *s_in_, *s_out_, *c_in_, *c_out_;
};

TEST_F(TlsChannelTest, EachWriteIsOneRecordEvenWhenSentTogether) {
  TlsChannel channel(server_);
  std::vector<std::vector<std::uint8_t>> frames = {std::vector<std::uint8_t>(8, 1),
                                                   std::vector<std::uint8_t>(1408, 2),
                                                   std::vector<std::uint8_t>(100, 3)};
  for (const auto& f : frames) ASSERT_TRUE(channel.write_record(f));
  std::vector<std::uint8_t> wire;
  channel.take_output(wire);
  EXPECT_EQ(channel.pending_output(), 0u);
  BIO_write(c_in_, wire.data(), static_cast<int>(wire.size()));  // one "socket write"
  // A TLS read never returns more than one record: each read is exactly one frame.
  for (const auto& f : frames) {
    std::vector<std::uint8_t> got(16384);
    int n = SSL_read(client_, got.data(), static_cast<int>(got.size()));
    ASSERT_EQ(n, static_cast<int>(f.size()));
    got.resize(static_cast<std::size_t>(n));
    EXPECT_EQ(got, f);
  }
}

TEST_F(TlsChannelTest, DecryptsWhatTheClientSendsAndNoticesItsClose) {
  TlsChannel channel(server_);
  const std::string hello = "STF\x01 hello";
  ASSERT_EQ(SSL_write(client_, hello.data(), static_cast<int>(hello.size())),
            static_cast<int>(hello.size()));
  std::vector<std::uint8_t> wire(65536);
  int n = BIO_read(c_out_, wire.data(), static_cast<int>(wire.size()));
  ASSERT_GT(n, 0);
  std::vector<std::uint8_t> plain;
  // Fed in two halves, as a socket may deliver it.
  auto half = static_cast<std::size_t>(n / 2);
  EXPECT_EQ(channel.feed({wire.data(), half}, plain), TlsChannel::Status::ok);
  EXPECT_TRUE(plain.empty());
  EXPECT_EQ(channel.feed({wire.data() + half, static_cast<std::size_t>(n) - half}, plain),
            TlsChannel::Status::ok);
  EXPECT_EQ(std::string(plain.begin(), plain.end()), hello);

  SSL_shutdown(client_);
  n = BIO_read(c_out_, wire.data(), static_cast<int>(wire.size()));
  plain.clear();
  EXPECT_EQ(channel.feed({wire.data(), static_cast<std::size_t>(n)}, plain),
            TlsChannel::Status::closed);
}

TEST_F(TlsChannelTest, GarbageIsAnErrorNotACrash) {
  TlsChannel channel(server_);
  std::vector<std::uint8_t> junk(300, 0x17);
  std::vector<std::uint8_t> plain;
  EXPECT_EQ(channel.feed(junk, plain), TlsChannel::Status::error);
  EXPECT_FALSE(channel.error().empty());
}

}  // namespace
}  // namespace tandem::server
