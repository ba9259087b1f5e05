// The keeper's lease revoke (replication/lease_revoke.hpp): the request it sends, how it reads
// etcd's answer, and a whole exchange against a listener on 127.0.0.1 speaking for etcd.
#include "replication/lease_revoke.hpp"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

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

// A listener on 127.0.0.1 that reads one request and answers `reply`; what it read is kept.
class FakeGateway {
 public:
  explicit FakeGateway(std::string reply) : reply_(std::move(reply)) {
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
      char buf[1024];
      const ssize_t got = ::recv(c, buf, sizeof buf, 0);
      if (got > 0) request_.assign(buf, static_cast<std::size_t>(got));
      ::send(c, reply_.data(), reply_.size(), MSG_NOSIGNAL);
      ::close(c);
    });
  }
  ~FakeGateway() {
    ::shutdown(fd_, SHUT_RDWR);
    if (thread_.joinable()) thread_.join();
    ::close(fd_);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // What it read: once its one exchange is over.
  const std::string& request() {
    if (thread_.joinable()) thread_.join();
    return request_;
  }

 private:
  std::string reply_;
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

}  // namespace
}  // namespace tandem::replication
