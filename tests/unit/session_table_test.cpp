#include "node/session/session_table.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "node/session/traffic_filter.hpp"

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
  SessionTable table{AddressPool(*net::parse_cidr("10.77.0.0/29")), clock};

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
  table.attach_ssl(a.session, transport, {});
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
  table.attach_ssl(a.session, first, {"10.200.0.2", 4000});
  EXPECT_FALSE(a.session->inactive_since.has_value());

  auto second = std::make_shared<RecordingTransport>();
  table.attach_ssl(a.session, second, {"10.200.0.9", 5000});
  EXPECT_TRUE(first->closed);
  EXPECT_FALSE(first->notified);  // the client is on the new connection already
  EXPECT_EQ(first->last_reason, EndReason::replaced);
  EXPECT_EQ(a.session->public_ip, "10.200.0.9");  // S11: public address follows the client
  EXPECT_EQ(a.session->public_port, 5000);

  // The replaced transport reporting its own end must not detach the new one.
  table.detach_ssl(a.session, first.get(), EndReason::client_closed);
  EXPECT_EQ(a.session->ssl, second);
  clock.advance(Duration{500});
  table.detach_ssl(a.session, second.get(), EndReason::client_closed);
  EXPECT_EQ(a.session->ssl, nullptr);
  EXPECT_EQ(a.session->inactive_since, clock.now());
  EXPECT_NE(table.find(a.session->index), nullptr);  // waiting to resume, not gone
}

TEST_F(SessionTableTest, SimultaneousLoginsLogOffTheOldest) {
  auto first = login("alice", 2);
  auto t1 = std::make_shared<RecordingTransport>();
  table.attach_ssl(first.session, t1, {});
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

// docs/limits.md, "Sessions": at the limit a login is refused and ends nothing; a login that
// replaces the user's own session (simultaneous_logins) does not add one, so it is taken.
TEST_F(SessionTableTest, TheSessionLimitRefusesALoginAndEndsNothing) {
  auto limited = [](const std::string& user, int simultaneous) {
    NewSession r{user, "default", "default", "10.200.0.2", 4000, "oc", simultaneous};
    r.max_sessions = 2;
    return r;
  };
  auto alice = table.create(limited("alice", 0));
  auto bob = table.create(limited("bob", 1));
  ASSERT_TRUE(alice.ok());
  ASSERT_TRUE(bob.ok());
  const std::uint64_t bob_index = bob->session->index;

  auto carol = table.create(limited("carol", 0));
  ASSERT_FALSE(carol.ok());
  EXPECT_EQ(carol.code(), Errc::unavailable);
  EXPECT_EQ(carol.error(), "session limit reached (max_sessions 2)");
  EXPECT_EQ(table.size(), 2u);

  // bob again, one session allowed: his old one makes room for the new one.
  auto bob_again = table.create(limited("bob", 1));
  ASSERT_TRUE(bob_again.ok()) << bob_again.error();
  EXPECT_EQ(table.find(bob_index), nullptr);
  EXPECT_EQ(table.size(), 2u);

  // alice again, no per-user limit: nothing of hers is replaced, so the node limit refuses her,
  // and her first session stays.
  auto alice_again = table.create(limited("alice", 0));
  EXPECT_FALSE(alice_again.ok());
  EXPECT_NE(table.find(alice->session->index), nullptr);

  table.end(alice->session->index, EndReason::admin_logoff, false);
  EXPECT_TRUE(table.create(limited("carol", 0)).ok());
}

TEST_F(SessionTableTest, CountsGoToTheSessionAndTheTunnelThatCarriedThem) {
  auto a = login("alice");
  table.attach_ssl(a.session, std::make_shared<RecordingTransport>(), {});
  table.attach_dtls(a.session, std::make_shared<RecordingTransport>(), {});
  table.take_changed([](const Session&) {});
  clock.advance(Duration{7});
  const TimePoint received = clock.now();
  table.frame_from_client(a.session, Carrier::dtls);
  clock.advance(Duration{3});
  table.data_from_client(a.session, Carrier::dtls, 100);
  // Activity is the time of the frame that carried the packet, not of the counting.
  EXPECT_EQ(a.session->dtls_info.last_data, received);
  clock.advance(Duration{5});
  table.data_to_client(a.session, Carrier::dtls, 60);
  EXPECT_EQ(a.session->counters.bytes_rx, 100u);
  EXPECT_EQ(a.session->counters.bytes_tx, 60u);
  EXPECT_EQ(a.session->counters.packets_rx, 1u);
  EXPECT_EQ(a.session->dtls_info.counters.packets_rx, 1u);
  EXPECT_EQ(a.session->dtls_info.counters.packets_tx, 1u);
  EXPECT_EQ(a.session->ssl_info.counters.bytes_rx, 0u);  // the SSL tunnel carried none of it
  EXPECT_EQ(a.session->dtls_info.last_data, clock.now());
  EXPECT_TRUE(a.session->dirty);
}

TEST_F(SessionTableTest, AKeepaliveProvesLivenessButIsNotActivity) {
  auto a = login("alice");
  table.attach_ssl(a.session, std::make_shared<RecordingTransport>(), {});
  const TimePoint attached = clock.now();
  table.take_changed([](const Session&) {});
  clock.advance(Duration{40});
  table.frame_from_client(a.session, Carrier::ssl);
  EXPECT_EQ(a.session->ssl_info.last_rx, clock.now());
  EXPECT_EQ(a.session->ssl_info.last_data, attached);
  EXPECT_EQ(a.session->dtls_info.last_rx, TimePoint{});  // the other tunnel heard nothing
  EXPECT_FALSE(a.session->dirty);                        // nothing the standby keeps changed
}

TEST_F(SessionTableTest, DropsCountOnTheSessionAndAreReplicated) {
  auto a = login("alice");
  table.take_changed([](const Session&) {});
  table.dropped_from_client(a.session);
  table.dropped_to_client(a.session);
  table.dropped_to_client(a.session);
  EXPECT_EQ(a.session->counters.drops_rx, 1u);
  EXPECT_EQ(a.session->counters.drops_tx, 2u);
  EXPECT_EQ(a.session->counters.packets_tx, 0u);
  EXPECT_TRUE(a.session->dirty);
}

TEST_F(SessionTableTest, TheFlushSendsEachChangedSessionOnce) {
  auto a = login("alice");
  auto b = login("bob");
  table.attach_ssl(a.session, std::make_shared<RecordingTransport>(), {});
  table.attach_ssl(b.session, std::make_shared<RecordingTransport>(), {});
  std::vector<std::uint64_t> sent;
  auto send = [&](const Session& s) { sent.push_back(s.index); };
  table.take_changed(send);
  EXPECT_EQ(sent, (std::vector<std::uint64_t>{a.session->index, b.session->index}));
  sent.clear();
  table.take_changed(send);
  EXPECT_TRUE(sent.empty());  // nothing changed since

  table.data_to_client(b.session, Carrier::ssl, 10);
  table.data_to_client(a.session, Carrier::ssl, 10);
  table.mark_sent(a.session);  // a whole record of it went out another way (a resume)
  table.take_changed(send);
  EXPECT_EQ(sent, (std::vector<std::uint64_t>{b.session->index}));
}

// docs/radius-accounting.md, "A Start that was never written": a login owes its Start, which
// its own login path queues (not the sweep); once written, the change is flushed to the standby.
TEST_F(SessionTableTest, AnAccountedLoginOwesItsStartUntilItIsWritten) {
  NewSession req{"alice", "default", "default", "10.200.0.2", 4000, "oc", 0};
  req.accounted = true;
  auto created = table.create(req);
  ASSERT_TRUE(created.ok());
  SessionRef s = created->session;
  EXPECT_TRUE(s->acct_start_pending);
  EXPECT_TRUE(s->acct_start_asked);  // the sweep leaves it to the login
  table.take_changed([](const Session&) {});
  table.acct_start_written(s);
  EXPECT_FALSE(s->acct_start_pending);
  std::vector<std::uint64_t> sent;
  table.take_changed([&](const Session& x) { sent.push_back(x.index); });
  EXPECT_EQ(sent, (std::vector<std::uint64_t>{s->index}));

  auto plain = login("bob");  // no accounting: nothing owed
  EXPECT_FALSE(plain.session->acct_start_pending);
}

TEST_F(SessionTableTest, OnlyAnAttachAfterAFirstTunnelIsAResume) {
  auto a = login("alice");
  TunnelInfo first{"10.200.0.2", 4000};
  first.connected_at_unix = 1000;
  EXPECT_FALSE(table.attach_ssl(a.session, std::make_shared<RecordingTransport>(), first));
  EXPECT_EQ(a.session->resumes, 0u);
  TunnelInfo again{"10.200.0.7", 4100};
  again.connected_at_unix = 1010;
  EXPECT_TRUE(table.attach_ssl(a.session, std::make_shared<RecordingTransport>(), again));
  EXPECT_TRUE(table.attach_ssl(a.session, std::make_shared<RecordingTransport>(), again));
  EXPECT_EQ(a.session->resumes, 2u);
}

TEST_F(SessionTableTest, TheResumeRecordShowsTheNewTunnelWithoutAttachingIt) {
  auto a = login("alice");
  auto old = std::make_shared<RecordingTransport>();
  table.attach_ssl(a.session, old, {"10.200.0.2", 4000});
  TunnelInfo info{"10.200.0.9", 5000};
  info.connected_at_unix = 2000;
  Session record = table.with_ssl(a.session, info);
  EXPECT_EQ(record.public_ip, "10.200.0.9");
  EXPECT_EQ(record.public_port, 5000);
  EXPECT_EQ(record.ssl_info.connected_at_unix, 2000);
  EXPECT_EQ(record.index, a.session->index);
  // The live session is untouched until the attach.
  EXPECT_EQ(a.session->public_ip, "10.200.0.2");
  EXPECT_EQ(a.session->ssl, old);
  EXPECT_FALSE(old->closed);
}

TEST_F(SessionTableTest, AReloadForgetsEveryCachedTrafficPolicy) {
  auto a = login("alice");
  auto b = login("bob");
  auto policy = std::make_shared<const TrafficPolicy>();
  table.cache_traffic_policy(a.session, policy);
  table.cache_traffic_policy(b.session, policy);
  EXPECT_EQ(a.session->traffic_policy, policy);
  table.forget_traffic_policies();
  EXPECT_EQ(a.session->traffic_policy, nullptr);
  EXPECT_EQ(b.session->traffic_policy, nullptr);
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
