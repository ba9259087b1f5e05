// The keeper's lease revoke (replication/lease_revoke.hpp): the request it sends, how it reads
// etcd's answer, and whole exchanges against a listener on 127.0.0.1 speaking for etcd, over
// plain HTTP and over TLS with certificates made here.
#include "replication/lease_revoke.hpp"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <thread>

#include "temp_dir.hpp"
#include "test_pki.hpp"

namespace tandem::replication {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

TEST(LeaseRevoke, TheRequestIsEtcdsJsonGatewayCall) {
  const std::string r = revoke_request("10.0.0.5:2379", 7668682697515780362);
  const std::string body = "{\"ID\":\"7668682697515780362\"}";
  EXPECT_EQ(r.rfind("POST /v3/lease/revoke HTTP/1.1\r\n", 0), 0u) << r;
  EXPECT_THAT(r, HasSubstr("\r\nHost: 10.0.0.5:2379\r\n"));
  EXPECT_THAT(r, HasSubstr("\r\nContent-Length: " + std::to_string(body.size()) + "\r\n"));
  EXPECT_EQ(r.substr(r.size() - body.size()), body);
}

TEST(LeaseRevoke, AnswersThatMeanTheLeaseIsGone) {
  EXPECT_EQ(read_revoke_answer("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{}"),
            RevokeAnswer::revoked);
  // Expired meanwhile, or revoked by the daemon as it stopped: gone, and said apart.
  EXPECT_EQ(read_revoke_answer("HTTP/1.1 404 Not Found\r\n\r\n"
                               "{\"error\":\"etcdserver: requested lease not found\"}"),
            RevokeAnswer::already_gone);
  EXPECT_EQ(read_revoke_answer("HTTP/1.1 503 Service Unavailable\r\n\r\n"), RevokeAnswer::other);
  EXPECT_EQ(read_revoke_answer(""), RevokeAnswer::other);
  EXPECT_EQ(read_revoke_answer("HTTP/1.1 2000 nonsense"), RevokeAnswer::other);
}

// What the listener presents when it speaks TLS: its certificate chain and key, and the CA its
// clients' certificates must come from (as etcd's --client-cert-auth asks).
struct ServerTls {
  std::string certificate, private_key, client_ca;
};

// A listener on 127.0.0.1 that takes one connection and reads one request: it answers `reply`,
// or, when `reply` is empty, says nothing until the client gives up. What it read is kept.
class FakeGateway {
 public:
  explicit FakeGateway(std::string reply, std::optional<ServerTls> tls = std::nullopt)
      : reply_(std::move(reply)), tls_(std::move(tls)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t n = sizeof a;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 1) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &n) != 0)
      ADD_FAILURE() << "listen on 127.0.0.1 failed";
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] {
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      if (tls_)
        serve_tls(c);
      else
        serve_plain(c);
      ::close(c);
    });
  }
  ~FakeGateway() {
    ::shutdown(fd_, SHUT_RDWR);
    if (thread_.joinable()) thread_.join();
    ::close(fd_);
  }
  std::string url() const {
    return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_);
  }
  // What it read: once its one exchange is over.
  const std::string& request() {
    if (thread_.joinable()) thread_.join();
    return request_;
  }

 private:
  // Silent: reads until the client closes.
  void serve_plain(int c) {
    char buf[1024];
    const ssize_t got = ::recv(c, buf, sizeof buf, 0);
    if (got > 0) request_.assign(buf, static_cast<std::size_t>(got));
    if (reply_.empty())
      while (::recv(c, buf, sizeof buf, 0) > 0) {
      }
    else
      ::send(c, reply_.data(), reply_.size(), MSG_NOSIGNAL);
  }
  // Silent: holds the connection without a handshake until the client closes.
  void serve_tls(int c) {
    char buf[1024];
    if (reply_.empty()) {
      while (::recv(c, buf, sizeof buf, 0) > 0) {
      }
      return;
    }
    SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
    SSL_CTX_use_certificate_chain_file(ctx, tls_->certificate.c_str());
    SSL_CTX_use_PrivateKey_file(ctx, tls_->private_key.c_str(), SSL_FILETYPE_PEM);
    SSL_CTX_load_verify_locations(ctx, tls_->client_ca.c_str(), nullptr);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    SSL* ssl = SSL_new(ctx);
    SSL_set_fd(ssl, c);
    if (SSL_accept(ssl) == 1) {
      const int got = SSL_read(ssl, buf, sizeof buf);
      if (got > 0) request_.assign(buf, static_cast<std::size_t>(got));
      SSL_write(ssl, reply_.data(), static_cast<int>(reply_.size()));
      SSL_shutdown(ssl);
    }
    SSL_free(ssl);
    SSL_CTX_free(ctx);
  }

  std::string reply_;
  std::optional<ServerTls> tls_;
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::string request_;
  std::thread thread_;
};

TEST(LeaseRevoke, TriesTheEndpointsInTurnUntilOneAnswers) {
  FakeGateway refusing("HTTP/1.1 503 Service Unavailable\r\n\r\n");
  FakeGateway etcd("HTTP/1.1 200 OK\r\n\r\n{}");
  LeaseRevoker where{{"ftp://nowhere:1", refusing.url(), etcd.url()}, "", "", ""};
  auto r = revoke_lease(where, 42, 1s);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->endpoint, etcd.url());
  EXPECT_FALSE(r->already_gone);
  EXPECT_THAT(refusing.request(), HasSubstr("{\"ID\":\"42\"}"));
  EXPECT_THAT(etcd.request(), HasSubstr("{\"ID\":\"42\"}"));
}

// A name with several addresses is tried address by address ("localhost" may give ::1 first).
TEST(LeaseRevoke, TriesEachAddressOfAName) {
  FakeGateway etcd("HTTP/1.1 200 OK\r\n\r\n{}");
  const std::string port = etcd.url().substr(etcd.url().rfind(':') + 1);
  LeaseRevoker where{{"http://localhost:" + port}, "", "", ""};
  auto r = revoke_lease(where, 42, 1s);
  ASSERT_TRUE(r) << r.error();
  EXPECT_THAT(etcd.request(), HasSubstr("\r\nHost: localhost:" + port + "\r\n"));
}

TEST(LeaseRevoke, SaysWhyWhenNoEndpointAnswers) {
  FakeGateway refusing("HTTP/1.1 503 Service Unavailable\r\n\r\n");
  LeaseRevoker where{{refusing.url()}, "", "", ""};
  auto r = revoke_lease(where, 42, 1s);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error(), HasSubstr("503 Service Unavailable"));
}

TEST(LeaseRevoke, AnEndpointThatNeverAnswersCostsOneStepThenTheNextIsAsked) {
  FakeGateway silent("");
  FakeGateway etcd("HTTP/1.1 200 OK\r\n\r\n{}");
  LeaseRevoker where{{silent.url(), etcd.url()}, "", "", ""};
  const auto start = std::chrono::steady_clock::now();
  auto r = revoke_lease(where, 42, 300ms);
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->endpoint, etcd.url());
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 1500ms);
  EXPECT_THAT(silent.request(), HasSubstr("{\"ID\":\"42\"}"));

  FakeGateway alone("");
  auto none = revoke_lease({{alone.url()}, "", "", ""}, 42, 300ms);
  ASSERT_FALSE(none);
  EXPECT_THAT(none.error(), HasSubstr(alone.url() + ": recv: "));
}

// The files of a small PKI: a CA, etcd's certificate from it (for `etcd_san`), and a client
// certificate from it for the keeper; a second CA that signed nothing of these.
struct Pki {
  explicit Pki(const std::string& etcd_san) {
    using namespace test_pki;
    Key ca_key = make_key(), other_key = make_key(), etcd_key = make_key(), keeper_key = make_key();
    Cert ca = make_cert({{{"CN", "etcd CA"}}, ""}, ca_key.get(), nullptr, nullptr, 1, true);
    Cert other = make_cert({{{"CN", "other CA"}}, ""}, other_key.get(), nullptr, nullptr, 2, true);
    Cert etcd =
        make_cert({{{"CN", "etcd"}}, etcd_san}, etcd_key.get(), ca.get(), ca_key.get(), 3, false);
    Cert keeper =
        make_cert({{{"CN", "keeper"}}, ""}, keeper_key.get(), ca.get(), ca_key.get(), 4, false);
    write_pem(path("ca.pem"), ca.get());
    write_pem(path("other-ca.pem"), other.get());
    write_pem(path("etcd.pem"), etcd.get());
    write_key_pem(path("etcd.key"), etcd_key.get());
    write_pem(path("keeper.pem"), keeper.get());
    write_key_pem(path("keeper.key"), keeper_key.get());
  }
  std::string path(const std::string& name) const { return dir.sub(name); }
  ServerTls server() const { return {path("etcd.pem"), path("etcd.key"), path("ca.pem")}; }
  LeaseRevoker keeper(const std::string& url, const std::string& ca) const {
    return {{url}, path(ca), path("keeper.pem"), path("keeper.key")};
  }
  tandem::testing::TempDir dir;
};

TEST(LeaseRevoke, RevokesOverTlsWithTheArbitersFiles) {
  Pki pki("IP:127.0.0.1");
  FakeGateway etcd("HTTP/1.1 200 OK\r\n\r\n{}", pki.server());
  auto r = revoke_lease(pki.keeper(etcd.url(), "ca.pem"), 42, 1s);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->endpoint, etcd.url());
  EXPECT_THAT(etcd.request(), HasSubstr("{\"ID\":\"42\"}"));
}

TEST(LeaseRevoke, RefusesAnEtcdCertificateFromAnotherCa) {
  Pki pki("IP:127.0.0.1");
  FakeGateway etcd("HTTP/1.1 200 OK\r\n\r\n{}", pki.server());
  auto r = revoke_lease(pki.keeper(etcd.url(), "other-ca.pem"), 42, 1s);
  ASSERT_FALSE(r);
  // The verify error depends on whether the server sent its CA along: this one does, as OpenSSL
  // completes a server's chain from its verify store (client_ca here) by default.
  EXPECT_THAT(r.error(), HasSubstr(etcd.url() + ": TLS handshake: etcd's certificate: "));
  EXPECT_EQ(etcd.request(), "");
}

TEST(LeaseRevoke, RefusesAnEtcdCertificateForAnotherHost) {
  Pki pki("DNS:etcd.example");
  FakeGateway etcd("HTTP/1.1 200 OK\r\n\r\n{}", pki.server());
  auto r = revoke_lease(pki.keeper(etcd.url(), "ca.pem"), 42, 1s);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error(), HasSubstr("etcd's certificate: IP address mismatch"));
  EXPECT_EQ(etcd.request(), "");
}

TEST(LeaseRevoke, ATlsEndpointThatNeverHandshakesCostsOneStep) {
  Pki pki("IP:127.0.0.1");
  FakeGateway silent("", pki.server());
  const auto start = std::chrono::steady_clock::now();
  auto r = revoke_lease(pki.keeper(silent.url(), "ca.pem"), 42, 300ms);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1500ms);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error(), HasSubstr(silent.url() + ": TLS handshake"));
}

}  // namespace
}  // namespace tandem::replication
