// Downstream datagram batching (docs/data-plane.md): the pure grouping into UDP GSO runs and the
// meaning of refusals, then DatagramBatch sending over real loopback sockets.
#include "node/server/udp_batch.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/ip/udp.hpp>
#include <cerrno>
#include <vector>

#include "node/server/datagram_batch.hpp"

namespace tandem::server {
namespace {

std::vector<SendRun> plan(const std::vector<OutDatagram>& d, bool gso = true,
                          std::size_t max_segments = kMaxGsoSegments,
                          std::size_t max_bytes = kMaxGsoBytes) {
  std::vector<SendRun> out{SendRun{9, 9, 9}};  // cleared by plan_runs
  plan_runs(d, gso, out, max_segments, max_bytes);
  return out;
}

bool operator==(const SendRun& a, const SendRun& b) {
  return a.first == b.first && a.count == b.count && a.segment == b.segment;
}

TEST(PlanRuns, EqualSizesToOnePeerMakeOneRunAndAShorterLastOneClosesIt) {
  const auto runs = plan({{1, 1400}, {1, 1400}, {1, 1400}, {1, 300}, {1, 1400}});
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_TRUE((runs[0] == SendRun{0, 4, 1400}));
  EXPECT_TRUE((runs[1] == SendRun{4, 1, 1400}));
}

TEST(PlanRuns, ALargerDatagramOrAnotherPeerStartsANewRun) {
  const auto runs = plan({{1, 300}, {1, 1400}, {1, 1400}, {2, 1400}, {2, 1400}, {1, 1400}});
  ASSERT_EQ(runs.size(), 4u);
  EXPECT_TRUE((runs[0] == SendRun{0, 1, 300}));
  EXPECT_TRUE((runs[1] == SendRun{1, 2, 1400}));
  EXPECT_TRUE((runs[2] == SendRun{3, 2, 1400}));
  EXPECT_TRUE((runs[3] == SendRun{5, 1, 1400}));
}

TEST(PlanRuns, StaysWithinTheKernelsSegmentAndByteLimits) {
  std::vector<OutDatagram> d(100, OutDatagram{1, 1472});
  auto runs = plan(d);
  std::size_t covered = 0;
  for (const auto& r : runs) {
    EXPECT_LE(r.count, kMaxGsoSegments);
    EXPECT_LE(r.count * r.segment, kMaxGsoBytes);
    EXPECT_EQ(r.first, covered);
    covered += r.count;
  }
  EXPECT_EQ(covered, d.size());
  EXPECT_EQ(runs[0].count, kMaxGsoBytes / 1472);  // 44: bytes bind before segments here
  runs = plan(std::vector<OutDatagram>(100, OutDatagram{1, 100}));
  EXPECT_EQ(runs[0].count, kMaxGsoSegments);
  runs = plan(std::vector<OutDatagram>(5, OutDatagram{1, 100}), true, 2);
  EXPECT_EQ(runs.size(), 3u);
}

TEST(PlanRuns, WithoutGsoEveryDatagramIsItsOwnRun) {
  const auto runs = plan({{1, 1400}, {1, 1400}, {1, 1400}}, false);
  ASSERT_EQ(runs.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_TRUE((runs[i] == SendRun{i, 1, 1400}));
  EXPECT_TRUE(plan({}).empty());
  // An empty datagram cannot be a segment.
  EXPECT_EQ(plan({{1, 0}, {1, 0}}).size(), 2u);
  EXPECT_EQ(plan({{1, 100}, {1, 0}}).size(), 2u);
}

TEST(ClassifySendError, AFullQueueDropsAndOnlyRunsAreRetriedSingly) {
  EXPECT_EQ(classify_send_error(EAGAIN, 1), SendOutcome::dropped);
  EXPECT_EQ(classify_send_error(ENOBUFS, 5), SendOutcome::dropped);
  EXPECT_EQ(classify_send_error(EPERM, 1), SendOutcome::failed);  // a firewall
  EXPECT_EQ(classify_send_error(ENETUNREACH, 5), SendOutcome::failed);
  EXPECT_EQ(classify_send_error(EIO, 5), SendOutcome::retry_singly);
  EXPECT_EQ(classify_send_error(EINVAL, 5), SendOutcome::retry_singly);
  EXPECT_EQ(classify_send_error(EINVAL, 1), SendOutcome::failed);
  EXPECT_EQ(classify_send_error(EIO, 1), SendOutcome::failed);
}

// Two real UDP sockets on 127.0.0.1.
struct Loopback : ::testing::Test {
  void SetUp() override {
    for (int* fd : {&tx, &rx}) {
      *fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
      ASSERT_GE(*fd, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      ASSERT_EQ(::bind(*fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    }
    int big = 4 << 20;
    ::setsockopt(rx, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    sockaddr_in a{};
    socklen_t len = sizeof a;
    ::getsockname(rx, reinterpret_cast<sockaddr*>(&a), &len);
    peer =
        boost::asio::ip::udp::endpoint(boost::asio::ip::address_v4::loopback(), ntohs(a.sin_port));
  }
  void TearDown() override {
    ::close(tx);
    ::close(rx);
  }
  std::vector<std::vector<std::uint8_t>> receive_all() {
    std::vector<std::vector<std::uint8_t>> got;
    std::vector<std::uint8_t> buf(65536);
    for (int i = 0; i < 1000; ++i) {
      const ssize_t n = ::recv(rx, buf.data(), buf.size(), 0);
      if (n < 0) break;
      got.emplace_back(buf.begin(), buf.begin() + n);
    }
    return got;
  }
  int tx = -1, rx = -1;
  boost::asio::ip::udp::endpoint peer;
};

// Each datagram i is `size` bytes of the value i, so boundaries and order both show.
void fill(DatagramBatch& batch, const std::vector<std::size_t>& sizes,
          const boost::asio::ip::udp::endpoint& to, std::size_t owner) {
  for (std::size_t size : sizes) {
    std::vector<std::uint8_t> d(size, static_cast<std::uint8_t>(batch.list().sizes.size()));
    batch.list().append(d.data(), d.size());
  }
  batch.assign(to, owner);
}

void expect_received(const std::vector<std::vector<std::uint8_t>>& got,
                     const std::vector<std::size_t>& sizes) {
  ASSERT_EQ(got.size(), sizes.size());
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    EXPECT_EQ(got[i], std::vector<std::uint8_t>(sizes[i], static_cast<std::uint8_t>(i))) << i;
  }
}

TEST_F(Loopback, AGsoBatchArrivesAsTheSameDatagramsInOneSystemCall) {
  bool gso = DatagramBatch::kernel_has_gso(tx);
  if (!gso) GTEST_SKIP() << "this kernel has no UDP_SEGMENT";
  DatagramBatch batch;
  const std::vector<std::size_t> sizes = {1400, 1400, 1400, 1400, 200, 1400, 1400, 60};
  fill(batch, sizes, peer, 7);
  batch.send(tx, gso);
  EXPECT_TRUE(gso);
  EXPECT_EQ(batch.syscalls(), 1u);  // three GSO runs in one sendmmsg
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    EXPECT_EQ(batch.outcome(i), SendOutcome::sent);
    EXPECT_EQ(batch.owner(i), 7u);
  }
  expect_received(receive_all(), sizes);
}

TEST_F(Loopback, WithoutGsoTheBatchIsStillOneSendmmsg) {
  bool gso = false;
  DatagramBatch batch;
  const std::vector<std::size_t> sizes = {1400, 1400, 1400, 100};
  fill(batch, sizes, peer, 1);
  batch.send(tx, gso);
  EXPECT_EQ(batch.syscalls(), 1u);
  expect_received(receive_all(), sizes);
}

TEST_F(Loopback, ARefusedPeerFailsItsDatagramsOnlyAndTheRestStillGo) {
  bool gso = DatagramBatch::kernel_has_gso(tx);
  DatagramBatch batch;
  // A multicast-free, unroutable destination for an IPv4 socket: an IPv6 address is refused
  // by the kernel (EAFNOSUPPORT or EINVAL) for every datagram sent to it.
  const boost::asio::ip::udp::endpoint v6(boost::asio::ip::address_v6::loopback(), 9);
  fill(batch, {1000, 1000}, peer, 0);
  fill(batch, {1000, 1000, 1000}, v6, 1);
  fill(batch, {1000, 1000}, peer, 2);
  batch.send(tx, gso);
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const bool refused = batch.owner(i) == 1;
    EXPECT_EQ(batch.outcome(i), refused ? SendOutcome::failed : SendOutcome::sent) << i;
  }
  const auto got = receive_all();
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[0][0], 0);
  EXPECT_EQ(got[1][0], 1);
  EXPECT_EQ(got[2][0], 5);
  EXPECT_EQ(got[3][0], 6);
  batch.clear();
  EXPECT_TRUE(batch.empty());
}

}  // namespace
}  // namespace tandem::server
