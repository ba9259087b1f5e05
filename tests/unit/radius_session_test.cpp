// What a RADIUS login leaves on its session (docs/radius.md): the requested address, the Class,
// the policy override and the timeouts, applied by the timers and kept across the record (so
// that a restart or a failover needs no new Access-Request).
#include <gtest/gtest.h>

#include <chrono>

#include "node/session/session_record.hpp"
#include "node/session/session_table.hpp"
#include "node/session/timers.hpp"

namespace tandem::session {
namespace {

using namespace std::chrono_literals;

config::Policy policy() {
  config::Policy p;
  p.name = "default";
  p.idle_timeout = 60s;
  p.disconnected_timeout = 120s;
  p.session_timeout = 0s;
  p.dpd_interval = 0s;
  p.keepalive = 0s;
  p.mtu = 1400;
  p.simultaneous_logins = 0;
  return p;
}

NewSession radius_login(const std::string& user, std::optional<std::uint32_t> ip) {
  NewSession n{user, "corp", "contractors", "10.200.0.2", 1000, "oc", 0};
  n.auth_method = auth::AuthMethod::radius;
  n.ip = ip;
  n.radius_class = std::string("\x01staff", 6);
  n.policy_override = "contractors";
  n.session_timeout_override = 30s;
  n.idle_timeout_override = 10s;
  return n;
}

TEST(RadiusSession, RequestedAddressIsLeasedOnceOnly) {
  FakeClock clock;
  SessionTable table{AddressPool(*net::parse_cidr("10.77.0.0/24")), clock};
  const std::uint32_t ip = *net::parse_ipv4("10.77.0.50");
  auto first = table.create(radius_login("dave", ip));
  ASSERT_TRUE(first.ok()) << first.error();
  EXPECT_EQ(first->session->ip, ip);
  EXPECT_EQ(first->session->radius_class, std::string("\x01staff", 6));
  EXPECT_EQ(first->session->policy_override, "contractors");
  auto second = table.create(radius_login("dave", ip));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.code(), Errc::duplicate);
  EXPECT_EQ(table.size(), 1u);
  // The pool itself never gives it out either.
  auto other = table.create({"erin", "default", "default", "10.200.0.3", 1, "oc", 0});
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->session->ip, ip);
}

TEST(RadiusSession, TimeoutsOverrideThePolicys) {
  FakeClock clock;
  Session s;
  s.login_time = clock.now();
  const config::Policy p = policy();
  EXPECT_EQ(session_timeout_of(s, p), 0s);
  EXPECT_EQ(idle_timeout_of(s, p), 60s);
  s.session_timeout_override = 30s;
  s.idle_timeout_override = 10s;
  EXPECT_EQ(session_timeout_of(s, p), 30s);
  EXPECT_EQ(idle_timeout_of(s, p), 10s);
  const config::Policy told = with_session_overrides(p, s);
  EXPECT_EQ(told.session_timeout, 30s);
  EXPECT_EQ(told.idle_timeout, 10s);
  EXPECT_EQ(told.disconnected_timeout, 120s);
  clock.advance(29'999ms);
  EXPECT_FALSE(evaluate_timers(s, p, clock.now()).end_session_timeout);
  clock.advance(1ms);
  EXPECT_TRUE(evaluate_timers(s, p, clock.now()).end_session_timeout);
}

class NullTransport : public Transport {
 public:
  bool send_packet(std::span<const std::uint8_t>) override { return true; }
  void close(EndReason r, bool) override {
    closed = true;
    reason = r;
  }
  void send_dpd_request() override {}
  bool closed = false;
  EndReason reason = EndReason::shutdown;
};

// The policy says 60 s; RADIUS's Idle-Timeout of 10 s decides.
TEST(RadiusSession, IdleOverrideIdlesTheTunnel) {
  FakeClock clock;
  SessionTable table{AddressPool(*net::parse_cidr("10.77.0.0/24")), clock};
  NewSession n = radius_login("dave", std::nullopt);
  n.session_timeout_override = 0s;
  auto c = table.create(n);
  ASSERT_TRUE(c.ok());
  auto ssl = std::make_shared<NullTransport>();
  table.attach_ssl(c->session, ssl, {});
  const config::Policy p = policy();
  auto tick = [&](Duration d) {
    clock.advance(d);
    table.run_timers([&p](const Session&) -> const config::Policy& { return p; });
  };
  tick(9s);
  EXPECT_FALSE(ssl->closed);
  tick(1s);
  EXPECT_TRUE(ssl->closed);
  EXPECT_EQ(ssl->reason, EndReason::idle_timeout);
}

TEST(RadiusSession, RecordKeepsWhatRadiusDecided) {
  Session s;
  s.index = 7;
  s.user = "dave";
  s.tunnel_group = "corp";
  s.policy = "contractors";
  s.auth_method = auth::AuthMethod::radius;
  s.radius_class = std::string("\x00\xffk", 3);
  s.policy_override = "contractors";
  s.session_timeout_override = 7200s;
  s.idle_timeout_override = 900s;
  const Session back = from_record(to_record(s));
  EXPECT_EQ(back.auth_method, auth::AuthMethod::radius);
  EXPECT_EQ(back.radius_class, std::string("\x00\xffk", 3));
  EXPECT_EQ(back.policy_override, "contractors");
  EXPECT_EQ(back.session_timeout_override, 7200s);
  EXPECT_EQ(back.idle_timeout_override, 900s);
}

TEST(RadiusSession, OldRowsReadAsPasswordWithoutOverrides) {
  proto::SessionRecord r;
  r.set_index(1);
  r.set_auth_method(9);  // a newer writer's value
  const Session s = from_record(r);
  EXPECT_EQ(s.auth_method, auth::AuthMethod::password);
  EXPECT_EQ(s.radius_class, "");
  EXPECT_EQ(s.policy_override, "");
  EXPECT_EQ(s.session_timeout_override, 0s);
  EXPECT_EQ(s.idle_timeout_override, 0s);
}

}  // namespace
}  // namespace tandem::session
