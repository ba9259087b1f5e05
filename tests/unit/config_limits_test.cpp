// [limits]: defaults, every key read, and the errors for bad values (docs/limits.md).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "node/config/config.hpp"
#include "node/config/defaults.hpp"
#include "tests/unit/config_parsing.hpp"

namespace tandem::config {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

using testing::parse_error;

TEST(ConfigLimits, DefaultsWithoutTheTable) {
  auto c = parse_config("", "test.toml");
  ASSERT_TRUE(c.ok());
  const Limits& l = c->limits;
  EXPECT_EQ(l, default_limits());
  EXPECT_EQ(l, default_config().limits);
  EXPECT_EQ(16, l.connections_per_address);
  EXPECT_EQ(512, l.tls_handshakes);
  EXPECT_EQ(8, l.tls_handshakes_per_address);
  EXPECT_EQ(120s, l.login_deadline);
  EXPECT_EQ(4, l.logins_in_flight_per_address);
  EXPECT_EQ(5, l.login_failures_per_user_address);
  EXPECT_EQ(20, l.login_failures_per_address);
  EXPECT_EQ(50, l.login_failures_per_user);
  EXPECT_EQ(2s, l.login_backoff_initial);
  EXPECT_EQ(5min, l.login_backoff_max);
  EXPECT_EQ(1h, l.login_forget_after);
  EXPECT_EQ(20000, l.login_throttle_entries);
  EXPECT_EQ(256, l.dtls_handshakes);
  EXPECT_EQ(2, l.dtls_handshakes_per_session);
  EXPECT_EQ(-1, l.max_sessions);  // derived from memory (docs/limits.md, "Sessions")
}

TEST(ConfigLimits, ReadsEveryKey) {
  auto c = parse_config(R"(
[limits]
connections_per_address = 0
tls_handshakes = 100
tls_handshakes_per_address = 3
login_deadline = "45s"
logins_in_flight_per_address = 2
login_failures_per_user_address = 3
login_failures_per_address = 10
login_failures_per_user = 0
login_backoff_initial = "500ms"
login_backoff_max = "2m"
login_forget_after = "30m"
login_throttle_entries = 500
dtls_handshakes = 64
dtls_handshakes_per_session = 1
max_sessions = 20000
)",
                        "test.toml");
  ASSERT_TRUE(c.ok()) << c.error();
  const Limits& l = c->limits;
  EXPECT_EQ(0, l.connections_per_address);
  EXPECT_EQ(100, l.tls_handshakes);
  EXPECT_EQ(3, l.tls_handshakes_per_address);
  EXPECT_EQ(45s, l.login_deadline);
  EXPECT_EQ(2, l.logins_in_flight_per_address);
  EXPECT_EQ(3, l.login_failures_per_user_address);
  EXPECT_EQ(10, l.login_failures_per_address);
  EXPECT_EQ(0, l.login_failures_per_user);
  EXPECT_EQ(500ms, l.login_backoff_initial);
  EXPECT_EQ(2min, l.login_backoff_max);
  EXPECT_EQ(30min, l.login_forget_after);
  EXPECT_EQ(500, l.login_throttle_entries);
  EXPECT_EQ(64, l.dtls_handshakes);
  EXPECT_EQ(1, l.dtls_handshakes_per_session);
  EXPECT_EQ(20000, l.max_sessions);
}

TEST(ConfigLimits, BadValuesNameTheKeyAndLine) {
  const std::string e = parse_error(R"(
[limits]
connections_per_address = -1
tls_handshakes = 0
login_deadline = "0"
login_backoff_initial = "soon"
login_throttle_entries = 10
dtls_handshakes_per_session = 65
max_sessions = -1
colour = "red"
)");
  EXPECT_THAT(e, HasSubstr("limits.connections_per_address: expected an integer 0..100000, got -1 "
                           "(line 3)"));
  EXPECT_THAT(e, HasSubstr("limits.tls_handshakes: expected an integer 1..100000, got 0"));
  EXPECT_THAT(e, HasSubstr("limits.login_deadline: expected a duration above zero"));
  EXPECT_THAT(e, HasSubstr("limits.login_backoff_initial: expected a duration"));
  EXPECT_THAT(e, HasSubstr("limits.login_throttle_entries: expected an integer 100..10000000"));
  EXPECT_THAT(e, HasSubstr("limits.dtls_handshakes_per_session: expected an integer 0..64"));
  EXPECT_THAT(e, HasSubstr("limits.max_sessions: expected an integer 0..10000000, got -1"));
  EXPECT_THAT(e, HasSubstr("unknown key 'limits.colour' (line 10)"));
}

TEST(ConfigLimits, BackOffAndForgetTimesMustBeOrdered) {
  EXPECT_THAT(parse_error("[limits]\nlogin_backoff_initial = \"10m\"\n"),
              HasSubstr("limits.login_backoff_max: must not be shorter than "
                        "limits.login_backoff_initial"));
  EXPECT_THAT(parse_error("[limits]\nlogin_backoff_max = \"2h\"\n"),
              HasSubstr("limits.login_forget_after: must be longer than limits.login_backoff_max"));
  EXPECT_THAT(parse_error("[limits]\nlogin_forget_after = \"5m\"\n"),
              HasSubstr("limits.login_forget_after: must be longer than limits.login_backoff_max "
                        "(line 2)"));
}

TEST(ConfigLimits, NotATable) {
  EXPECT_THAT(parse_error("limits = 3\n"), HasSubstr("limits: expected a table, got 3"));
}

}  // namespace
}  // namespace tandem::config
