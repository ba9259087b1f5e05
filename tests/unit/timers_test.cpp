// S3-S8 on a fake clock: every rule in milliseconds.
#include "node/session/timers.hpp"

#include <gtest/gtest.h>

#include <chrono>

#include "node/session/session_table.hpp"

namespace tandem::session {
namespace {

using namespace std::chrono_literals;

class NullTransport : public Transport {
 public:
  bool send_packet(std::span<const std::uint8_t>) override { return true; }
  void close(EndReason r, bool notify) override {
    closed = true;
    reason = r;
    notified = notify;
  }
  void send_dpd_request() override { ++dpds; }
  bool closed = false, notified = false;
  EndReason reason = EndReason::shutdown;
  int dpds = 0;
};

config::Policy policy() {
  config::Policy p;
  p.name = "default";
  p.idle_timeout = 60s;
  p.disconnected_timeout = 120s;
  p.session_timeout = 0s;
  p.dpd_interval = 10s;
  p.keepalive = 5s;
  p.mtu = 1400;
  p.simultaneous_logins = 0;
  return p;
}

class TimersTest : public ::testing::Test {
 protected:
  FakeClock clock;
  SessionTable table{AddressPool(*net::parse_cidr("10.77.0.0/24")), clock};
  config::Policy pol = policy();
  std::shared_ptr<NullTransport> ssl = std::make_shared<NullTransport>();
  std::shared_ptr<NullTransport> dtls = std::make_shared<NullTransport>();
  SessionRef s;

  void SetUp() override {
    s = table.create({"alice", "default", "default", "10.200.0.2", 1000, "oc", 0})->session;
    table.attach_ssl(s, ssl, {});
  }
  void tick(Duration d) {
    clock.advance(d);
    table.run_timers([this](const Session&) -> const config::Policy& { return pol; });
  }
  void receive_ssl() { table.frame_from_client(s, Carrier::ssl); }  // a keepalive: not data
  void data_ssl() {
    table.frame_from_client(s, Carrier::ssl);
    table.data_from_client(s, Carrier::ssl, 100);
  }
};

TEST_F(TimersTest, DpdProbesAQuietTunnelAndTearsItDownButNotTheSession) {
  tick(9s);
  EXPECT_EQ(ssl->dpds, 0);
  tick(1s);  // quiet for one interval: probe
  EXPECT_EQ(ssl->dpds, 1);
  tick(1s);
  EXPECT_EQ(ssl->dpds, 1);  // not again before half an interval
  tick(4s);
  EXPECT_EQ(ssl->dpds, 2);
  tick(5s);  // two silent intervals: dead
  EXPECT_TRUE(ssl->closed);
  EXPECT_EQ(ssl->reason, EndReason::dpd);
  EXPECT_FALSE(ssl->notified);
  ASSERT_NE(table.find(s->index), nullptr);  // S3: the session waits to resume, IP kept
  EXPECT_FALSE(s->active());
  EXPECT_EQ(s->inactive_since, clock.now());
  EXPECT_TRUE(table.pool().in_use(s->ip));
}

TEST_F(TimersTest, AnAnsweredProbeKeepsTheTunnel) {
  tick(10s);
  EXPECT_EQ(ssl->dpds, 1);
  receive_ssl();  // the DPD response
  tick(9s);
  EXPECT_FALSE(ssl->closed);
}

TEST_F(TimersTest, KeepalivesDoNotCountAsActivityForIdle) {
  for (int i = 0; i < 12; ++i) {
    tick(5s);
    receive_ssl();
  }
  EXPECT_TRUE(ssl->closed);
  EXPECT_EQ(ssl->reason, EndReason::idle_timeout);
  EXPECT_TRUE(ssl->notified);  // the client is told, so it does not reconnect just to idle
  EXPECT_NE(table.find(s->index), nullptr);
}

TEST_F(TimersTest, DataKeepsTheSessionFromIdling) {
  for (int i = 0; i < 30; ++i) {
    tick(5s);
    data_ssl();
  }
  EXPECT_FALSE(ssl->closed);
}

TEST_F(TimersTest, SslIsIdleOnlyWhenDtlsIsIdleToo) {
  table.attach_dtls(s, dtls, {});
  for (int i = 0; i < 20; ++i) {
    tick(5s);
    receive_ssl();
    // Data over DTLS.
    table.frame_from_client(s, Carrier::dtls);
    table.data_from_client(s, Carrier::dtls, 100);
  }
  EXPECT_FALSE(ssl->closed);
  EXPECT_FALSE(dtls->closed);
}

TEST_F(TimersTest, AnIdleDtlsTunnelAloneIsClosedWhileDataUsesSsl) {
  table.attach_dtls(s, dtls, {});
  for (int i = 0; i < 13; ++i) {
    tick(5s);
    data_ssl();
    table.frame_from_client(s, Carrier::dtls);  // DTLS keepalives only
  }
  EXPECT_TRUE(dtls->closed);
  EXPECT_EQ(dtls->reason, EndReason::idle_timeout);
  EXPECT_FALSE(ssl->closed);
  EXPECT_EQ(s->dtls, nullptr);
}

TEST_F(TimersTest, DtlsDpdFallsBackToSsl) {
  table.attach_dtls(s, dtls, {});
  for (int i = 0; i < 5; ++i) {
    tick(5s);
    data_ssl();
  }
  EXPECT_TRUE(dtls->closed);
  EXPECT_EQ(dtls->reason, EndReason::dpd);
  EXPECT_FALSE(ssl->closed);
}

TEST_F(TimersTest, DisconnectedTimeoutRemovesTheSessionAndFreesTheAddress) {
  std::uint32_t ip = s->ip;
  std::uint64_t index = s->index;
  table.detach_ssl(s, ssl.get(), EndReason::client_closed);
  tick(119s);
  EXPECT_NE(table.find(index), nullptr);
  tick(1s);
  EXPECT_EQ(table.find(index), nullptr);
  EXPECT_FALSE(table.pool().in_use(ip));
  EXPECT_EQ(table.timer_stats().disconnected, 1u);
}

TEST_F(TimersTest, ResumeRestoresFullTimersAndZeroInactivity) {
  table.detach_ssl(s, ssl.get(), EndReason::client_closed);
  tick(100s);
  auto again = std::make_shared<NullTransport>();
  table.attach_ssl(s, again, {});
  EXPECT_FALSE(s->inactive_since.has_value());
  for (int i = 0; i < 10; ++i) {  // past the old disconnected deadline, on keepalives only
    tick(5s);
    receive_ssl();
  }
  EXPECT_FALSE(again->closed);
  EXPECT_NE(table.find(s->index), nullptr);
  EXPECT_EQ(idle_time_left(*s, pol, clock.now()), 10s);
}

TEST_F(TimersTest, SessionTimeoutEndsEvenAnActiveSession) {
  pol.session_timeout = 30s;
  for (int i = 0; i < 6; ++i) {  // data before each tick: the last tick ends (frees) the session
    data_ssl();
    tick(5s);
  }
  EXPECT_EQ(table.size(), 0u);
  EXPECT_TRUE(ssl->closed);
  EXPECT_TRUE(ssl->notified);
  EXPECT_EQ(ssl->reason, EndReason::session_timeout);
}

TEST(TimerRules, DisconnectedTimeoutIsItsOwnSetting) {
  FakeClock clock;
  Session s;
  s.login_time = clock.now();
  s.inactive_since = clock.now();
  config::Policy p = policy();
  p.idle_timeout = 10s;
  p.disconnected_timeout = 400s;
  clock.advance(300s);
  EXPECT_FALSE(evaluate_timers(s, p, clock.now()).end_disconnected);
  clock.advance(100s);
  EXPECT_TRUE(evaluate_timers(s, p, clock.now()).end_disconnected);
}

}  // namespace
}  // namespace tandem::session
