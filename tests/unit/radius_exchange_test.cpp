// exchange() against servers on 127.0.0.1 that stay silent, refuse the port, or send what
// does not pass the checks: which of them it marks dead (server_health.hpp), in what order it
// asks them, and that a challenge's server is asked first even when marked.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include "node/radius/exchange.hpp"

namespace tandem::radius {
namespace {

using namespace std::chrono_literals;
using config::RadiusServer;

constexpr std::uint32_t kLoopback = 0x7F000001;

// A UDP socket on 127.0.0.1 that receives and never answers; counts what reached it.
class SilentServer {
 public:
  SilentServer() {
    fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(kLoopback);
    socklen_t n = sizeof a;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &n) != 0)
      ADD_FAILURE() << "bind on 127.0.0.1 failed";
    port_ = ntohs(a.sin_port);
    // The kernel stamps each datagram as it arrives (first_arrival_us).
    const int on = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_TIMESTAMP, &on, sizeof on);
  }
  ~SilentServer() { ::close(fd_); }
  RadiusServer server() const { return {kLoopback, port_}; }
  int received() {
    int count = 0;
    std::uint8_t buf[4096];
    while (::recv(fd_, buf, sizeof buf, 0) >= 0) ++count;
    return count;
  }
  // When the first request waiting here arrived (the kernel's stamp, SO_TIMESTAMP), in
  // microseconds; -1 when none is waiting. Takes it.
  long long first_arrival_us() {
    std::uint8_t buf[4096];
    iovec iov{buf, sizeof buf};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(timeval))];
    msghdr m{};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = control;
    m.msg_controllen = sizeof control;
    if (::recvmsg(fd_, &m, 0) < 0) return -1;
    for (cmsghdr* c = CMSG_FIRSTHDR(&m); c != nullptr; c = CMSG_NXTHDR(&m, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_TIMESTAMP) continue;
      timeval tv{};
      std::memcpy(&tv, CMSG_DATA(c), sizeof tv);
      return tv.tv_sec * 1'000'000LL + tv.tv_usec;
    }
    return -1;
  }
  // Answers every request received so far with `bytes`, to whoever sent it.
  void answer_with(const std::vector<std::uint8_t>& bytes) {
    sockaddr_in from{};
    socklen_t n = sizeof from;
    std::uint8_t buf[4096];
    while (::recvfrom(fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &n) >= 0)
      ::sendto(fd_, bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&from), n);
  }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

// A port on 127.0.0.1 nobody listens on (bound, then closed): the kernel refuses it.
RadiusServer closed_port() {
  SilentServer s;
  return s.server();
}

Request request() {
  Authenticator random{};
  random.fill(0x11);
  auto r = encode_access_request(7, random, {}, "secret");
  EXPECT_TRUE(r.ok());
  return *r;
}

ExchangeOptions quick() {
  ExchangeOptions o;
  o.timeout = 50ms;
  o.retries = 0;
  return o;
}

TimePoint now() { return std::chrono::time_point_cast<Duration>(std::chrono::steady_clock::now()); }

TEST(RadiusExchange, ASilentServerIsMarkedAndAskedLastNextTime) {
  SilentServer first, second;
  ServerHealth health(60s);
  const std::vector<RadiusServer> servers{first.server(), second.server()};
  auto r = exchange(request(), servers, "secret", quick(), &health);
  EXPECT_EQ(r.kind, ExchangeResult::Kind::no_answer);
  EXPECT_EQ(first.received(), 1);
  EXPECT_EQ(second.received(), 1);
  // Both marked: still both asked, in the configured order.
  EXPECT_EQ(health.order(servers, now()), servers);
}

TEST(RadiusExchange, AnUnreachablePortIsMarked) {
  const RadiusServer closed = closed_port();
  SilentServer live;
  ServerHealth health(60s);
  // Two tries, so the ICMP error of the first is seen.
  ExchangeOptions o = quick();
  o.retries = 1;
  exchange(request(), {closed}, "secret", o, &health);
  EXPECT_EQ(health.order({closed, live.server()}, now()),
            (std::vector<RadiusServer>{live.server(), closed}));
}

// A server whose answers fail the checks (here: a wrong secret's) is there: not marked.
TEST(RadiusExchange, AServerWhoseAnswersAreRefusedIsNotMarked) {
  SilentServer wrong;
  SilentServer other;
  ServerHealth health(60s);
  const Request req = request();
  std::vector<std::uint8_t> forged = req.bytes;  // an "answer" that cannot authenticate
  forged[0] = 2;                                 // Access-Accept
  std::thread answerer([&] {
    for (int i = 0; i < 20; ++i) {
      std::this_thread::sleep_for(5ms);
      wrong.answer_with(forged);
    }
  });
  auto r = exchange(req, {wrong.server()}, "secret", quick(), &health);
  answerer.join();
  EXPECT_EQ(r.kind, ExchangeResult::Kind::bad_answers);
  EXPECT_EQ(health.order({wrong.server(), other.server()}, now()),
            (std::vector<RadiusServer>{wrong.server(), other.server()}));
}

// The answer to a challenge goes first to the server that issued it, even when marked dead.
TEST(RadiusExchange, TheChallengingServerIsAskedFirst) {
  SilentServer first, challenger;
  ServerHealth health(60s);
  const std::vector<RadiusServer> servers{first.server(), challenger.server()};
  health.silent(challenger.server(), now(), now());
  ExchangeOptions o = quick();
  o.first = challenger.server();
  auto r = exchange(request(), servers, "secret", o, &health);
  EXPECT_EQ(r.kind, ExchangeResult::Kind::no_answer);
  // Each waited out its 50 ms in turn: the challenger's request arrived first.
  const long long challenger_at = challenger.first_arrival_us();
  const long long first_at = first.first_arrival_us();
  ASSERT_GT(challenger_at, 0);
  ASSERT_GT(first_at, 0);
  EXPECT_LT(challenger_at, first_at);
  // Without it, the marked challenger is asked last.
  exchange(request(), servers, "secret", quick(), &health);
  const long long challenger_again = challenger.first_arrival_us();
  EXPECT_LT(first.first_arrival_us(), challenger_again);
}

}  // namespace
}  // namespace tandem::radius
