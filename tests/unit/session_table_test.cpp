#include "node/session/session_table.hpp"

#include <gtest/gtest.h>

namespace tandem::session {
namespace {

// A transport that records what the table asked of it.
class RecordingTransport : public Transport {
 public:
  bool send_packet(std::span<const std::uint8_t>) override { return true; }
  void close(EndReason reason, bool notify) override {
    closed = true;
    last_reason = reason;
    notified = notify;
  }
  void send_dpd_request() override { ++dpd_requests; }
  int dpd_requests = 0;
  bool closed = false;
  bool notified = false;
  EndReason last_reason = EndReason::shutdown;
};

class SessionTableTest : public ::testing::Test {
 protected:
  FakeClock clock;
  SessionTable table{AddressPool(*parse_cidr("10.77.0.0/29")), clock};

  Created login(const std::string& user, int simultaneous = 0) {
    auto r = table.create({user, "default", "default", "10.200.0.2", 4000, "oc", simultaneous});
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error());
    return *r;
  }
};

TEST_F(SessionTableTest, TokenFindsItsSessionAndNothingElse) {
  auto a = login("alice");
  auto b = login("bob");
  TokenRefusal why{};
  EXPECT_EQ(table.find_by_token(a.token, why), a.session);
  EXPECT_EQ(table.find_by_token(b.token, why), b.session);
  // Bob's secret with Alice's index: refused.
  std::string forged = std::to_string(a.session->index) + b.token.substr(b.token.find('-'));
  EXPECT_EQ(table.find_by_token(forged, why), nullptr);
  EXPECT_EQ(why, TokenRefusal::wrong_secret);
  EXPECT_EQ(table.find_by_token("garbage", why), nullptr);
  EXPECT_EQ(why, TokenRefusal::malformed);
}

TEST_F(SessionTableTest, EndRevokesTokenFreesAddressAndTellsTheClient) {
  auto a = login("alice");
  auto transport = std::make_shared<RecordingTransport>();
  table.attach_ssl(*a.session, transport, {});
  std::uint32_t ip = a.session->ip;
  std::uint64_t index = a.session->index;
  table.end(index, EndReason::admin_logoff, true);
  EXPECT_TRUE(transport->closed);
  EXPECT_TRUE(transport->notified);
  TokenRefusal why{};
  EXPECT_EQ(table.find_by_token(a.token, why), nullptr);
  EXPECT_EQ(why, TokenRefusal::unknown_session);
  EXPECT_EQ(table.find_by_ip(ip), nullptr);
  auto b = login("bob");
  EXPECT_EQ(b.session->ip, ip);  // the freed address is the lowest free one again
  EXPECT_NE(b.session->index, index);
}

TEST_F(SessionTableTest, ResumeReplacesTheOldTunnelAndResetsInactivity) {
  auto a = login("alice");
  EXPECT_TRUE(a.session->inactive_since.has_value());  // no SSL tunnel yet (S5)
  auto first = std::make_shared<RecordingTransport>();
  table.attach_ssl(*a.session, first, {"10.200.0.2", 4000});
  EXPECT_FALSE(a.session->inactive_since.has_value());

  auto second = std::make_shared<RecordingTransport>();
  table.attach_ssl(*a.session, second, {"10.200.0.9", 5000});
  EXPECT_TRUE(first->closed);
  EXPECT_FALSE(first->notified);  // the client is on the new connection already
  EXPECT_EQ(first->last_reason, EndReason::replaced);
  EXPECT_EQ(a.session->public_ip, "10.200.0.9");  // S11: public address follows the client
  EXPECT_EQ(a.session->public_port, 5000);

  // The replaced transport reporting its own end must not detach the new one.
  table.detach_ssl(*a.session, first.get(), EndReason::client_closed);
  EXPECT_EQ(a.session->ssl, second);
  clock.advance(Duration{500});
  table.detach_ssl(*a.session, second.get(), EndReason::client_closed);
  EXPECT_EQ(a.session->ssl, nullptr);
  EXPECT_EQ(a.session->inactive_since, clock.now());
  EXPECT_NE(table.find(a.session->index), nullptr);  // waiting to resume, not gone
}

TEST_F(SessionTableTest, SimultaneousLoginsLogOffTheOldest) {
  auto first = login("alice", 2);
  auto t1 = std::make_shared<RecordingTransport>();
  table.attach_ssl(*first.session, t1, {});
  std::uint64_t first_index = first.session->index;
  auto second = login("alice", 2);
  login("bob", 2);
  EXPECT_NE(table.find(first_index), nullptr);
  auto third = login("alice", 2);  // over the limit of 2: the oldest goes
  EXPECT_EQ(table.find(first_index), nullptr);
  EXPECT_TRUE(t1->closed);
  EXPECT_TRUE(t1->notified);
  EXPECT_EQ(t1->last_reason, EndReason::simultaneous_login);
  EXPECT_NE(table.find(second.session->index), nullptr);
  EXPECT_NE(table.find(third.session->index), nullptr);
}

TEST_F(SessionTableTest, PoolExhaustionIsAnErrorNotACrash) {
  // /29: 8 addresses minus network, gateway and broadcast = 5 leasable.
  for (int i = 0; i < 5; ++i) login("u" + std::to_string(i));
  auto r = table.create({"late", "default", "default", "10.200.0.2", 1, "oc", 0});
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(table.size(), 5u);
}

}  // namespace
}  // namespace tandem::session
