#include "node/auth/login_throttle.hpp"

#include <gtest/gtest.h>

#include <string>

#include "node/config/defaults.hpp"

namespace tandem::auth {
namespace {

using namespace std::chrono_literals;
using Verdict = LoginThrottle::Verdict;
using Scope = LoginThrottle::Scope;
using Outcome = LoginThrottle::Outcome;

constexpr const char* kX = "192.0.2.1";
constexpr const char* kY = "198.51.100.7";

class LoginThrottleTest : public ::testing::Test {
 protected:
  ThrottleSettings settings() {
    ThrottleSettings s;  // the production defaults, spelled out where a test depends on them
    s.failures_per_user_address = 5;
    s.failures_per_address = 20;
    s.failures_per_user = 50;
    s.backoff_initial = 2s;
    s.backoff_max = 5min;
    s.forget_after = 1h;
    s.max_entries = 1000;
    s.in_flight = 256;
    s.in_flight_per_address = 4;
    return s;
  }

  // One whole attempt: admitted, then finished with `outcome`. Returns the admission.
  LoginThrottle::Admission attempt(const std::string& user, const std::string& address,
                                   Outcome outcome) {
    auto a = throttle.admit(user, address);
    if (a.verdict == Verdict::allowed) throttle.finish(user, address, outcome);
    return a;
  }
  void fail_n(const std::string& user, const std::string& address, int n) {
    for (int i = 0; i < n; ++i)
      ASSERT_EQ(Verdict::allowed, attempt(user, address, Outcome::failure).verdict)
          << user << "@" << address << " failure " << i + 1;
  }

  FakeClock clock;
  LoginThrottle throttle{clock, settings()};
};

TEST_F(LoginThrottleTest, AllowsTheFreeFailuresThenBacksOffWithoutHashing) {
  fail_n("alice", kX, 5);
  auto a = throttle.admit("alice", kX);
  EXPECT_EQ(Verdict::throttled, a.verdict);
  EXPECT_EQ(Scope::user_address, a.scope);
  EXPECT_EQ(5u, a.failures);
  EXPECT_EQ(2s, a.retry_after);
  EXPECT_EQ(0u, throttle.in_flight()) << "a refused attempt holds nothing";
  EXPECT_EQ(1u, throttle.stats().throttled[0]);
}

TEST_F(LoginThrottleTest, BackOffDoublesUpToTheMaximum) {
  fail_n("alice", kX, 5);
  Duration expected = 2s;
  for (int i = 0; i < 12; ++i) {
    auto a = throttle.admit("alice", kX);
    ASSERT_EQ(Verdict::throttled, a.verdict) << i;
    EXPECT_EQ(expected, a.retry_after) << "after " << 5 + i << " failures";
    clock.advance(a.retry_after - 1ms);
    EXPECT_EQ(Verdict::throttled, throttle.admit("alice", kX).verdict) << "1 ms early";
    clock.advance(1ms);
    ASSERT_EQ(Verdict::allowed, attempt("alice", kX, Outcome::failure).verdict) << i;
    expected = std::min<Duration>(expected * 2, 5min);
  }
  EXPECT_EQ(5min, throttle.admit("alice", kX).retry_after);
}

TEST_F(LoginThrottleTest, RefusedAttemptsDoNotLengthenTheBackOff) {
  fail_n("alice", kX, 5);
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(Verdict::throttled, throttle.admit("alice", kX).verdict);
    clock.advance(10ms);
  }
  clock.advance(1s);  // 2 s after the 5th failure
  EXPECT_EQ(Verdict::allowed, throttle.admit("alice", kX).verdict);
}

// What "a handful of tries per minute" means with the defaults: a guesser who retries the
// moment it is allowed gets 5 tries, then at +2, +6, +14, +30 s: 9 in the first minute, then
// 1 (62 s), 1 (126 s), 1 (254 s) and one every 5 minutes.
TEST_F(LoginThrottleTest, AGuesserGetsAHandfulOfTriesPerMinute) {
  int tries_first_minute = 0, tries_total = 0;
  const TimePoint start = clock.now();
  while (clock.now() - start < 30min) {
    auto a = throttle.admit("alice", kX);
    if (a.verdict == Verdict::allowed) {
      throttle.finish("alice", kX, Outcome::failure);
      ++tries_total;
      if (clock.now() - start < 1min) ++tries_first_minute;
      clock.advance(100ms);  // a fast client
    } else {
      clock.advance(a.retry_after);
    }
  }
  EXPECT_EQ(9, tries_first_minute);
  EXPECT_LE(tries_total, 9 + 3 + 6);  // then about one per 5 minutes
}

TEST_F(LoginThrottleTest, FailuresFromOneAddressDoNotBlockTheUserElsewhere) {
  fail_n("alice", kX, 5);
  ASSERT_EQ(Verdict::throttled, throttle.admit("alice", kX).verdict);
  EXPECT_EQ(Verdict::allowed, attempt("alice", kY, Outcome::success).verdict);
  // Nor another user at the same address (the address allowance is larger).
  EXPECT_EQ(Verdict::allowed, attempt("bob", kX, Outcome::success).verdict);
}

TEST_F(LoginThrottleTest, ASuccessClearsThePairButNotTheAddress) {
  fail_n("alice", kX, 4);
  ASSERT_EQ(Verdict::allowed, attempt("alice", kX, Outcome::success).verdict);
  fail_n("alice", kX, 5);  // five more free failures: the pair's count started again
  EXPECT_EQ(Verdict::throttled, throttle.admit("alice", kX).verdict);
  // The address kept all 9 failures: 11 more from any user and it is throttled.
  fail_n("carol", kX, 5);
  fail_n("dave", kX, 5);
  fail_n("erin", kX, 1);
  auto a = throttle.admit("frank", kX);
  EXPECT_EQ(Verdict::throttled, a.verdict);
  EXPECT_EQ(Scope::address, a.scope);
  EXPECT_EQ(20u, a.failures);
}

TEST_F(LoginThrottleTest, AnAddressSprayingManyNamesIsThrottled) {
  for (int i = 0; i < 20; ++i)
    ASSERT_EQ(Verdict::allowed, attempt("user" + std::to_string(i), kX, Outcome::failure).verdict);
  auto a = throttle.admit("someone-new", kX);
  EXPECT_EQ(Verdict::throttled, a.verdict);
  EXPECT_EQ(Scope::address, a.scope);
  EXPECT_EQ(2s, a.retry_after);
  EXPECT_EQ(Verdict::allowed, throttle.admit("someone-new", kY).verdict);
}

TEST_F(LoginThrottleTest, MalformedNamesCountAgainstTheAddressOnly) {
  for (int i = 0; i < 20; ++i)
    ASSERT_EQ(Verdict::allowed, attempt("", kX, Outcome::failure).verdict);
  EXPECT_EQ(Scope::address, throttle.admit("", kX).scope);
  EXPECT_EQ(1u, throttle.failure_entries()) << "no user or pair entries for a malformed name";
}

TEST_F(LoginThrottleTest, OneAddressAloneCannotTripTheUserLimit) {
  // 5 failures, then one per back-off window, for hours: the user's count stays at 5.
  for (int i = 0; i < 200; ++i) {
    auto a = throttle.admit("alice", kX);
    if (a.verdict == Verdict::allowed)
      throttle.finish("alice", kX, Outcome::failure);
    else
      clock.advance(a.retry_after);
  }
  EXPECT_EQ(Verdict::allowed, attempt("alice", kY, Outcome::success).verdict);
}

TEST_F(LoginThrottleTest, ManyAddressesTripTheUserLimitExceptWhereTheUserLoggedInBefore) {
  ASSERT_EQ(Verdict::allowed, attempt("alice", kY, Outcome::success).verdict);  // her usual place
  for (int i = 0; i < 10; ++i) fail_n("alice", "203.0.113." + std::to_string(i), 5);
  auto a = throttle.admit("alice", "203.0.113.200");
  EXPECT_EQ(Verdict::throttled, a.verdict);
  EXPECT_EQ(Scope::user, a.scope);
  EXPECT_EQ(50u, a.failures);
  EXPECT_EQ(Verdict::allowed, attempt("alice", kY, Outcome::success).verdict)
      << "an address alice logged in from is not subject to the user limit";
  EXPECT_EQ(Verdict::allowed, throttle.admit("bob", "203.0.113.200").verdict);
}

TEST_F(LoginThrottleTest, StateIsForgottenAfterAQuietPeriod) {
  fail_n("alice", kX, 5);
  clock.advance(59min);
  fail_n("alice", kX, 1);  // the 2 s back-off is long over, but the count is remembered
  auto a = throttle.admit("alice", kX);
  EXPECT_EQ(Verdict::throttled, a.verdict);
  EXPECT_EQ(6u, a.failures);
  EXPECT_EQ(4s, a.retry_after);
  clock.advance(1h);
  fail_n("alice", kX, 5);  // forgotten: five free failures again
  a = throttle.admit("alice", kX);
  EXPECT_EQ(5u, a.failures);
  EXPECT_EQ(2s, a.retry_after);
}

TEST_F(LoginThrottleTest, ForgottenEntriesAreDroppedFromMemory) {
  for (int i = 0; i < 50; ++i) fail_n("user" + std::to_string(i), "10.1.0." + std::to_string(i), 1);
  EXPECT_EQ(3u * 50u, throttle.failure_entries());  // addresses, users, pairs
  clock.advance(1h);
  fail_n("alice", kX, 1);
  EXPECT_EQ(3u, throttle.failure_entries()) << "only alice's fresh entries remain";
}

TEST_F(LoginThrottleTest, AFloodOfNamesCannotGrowTheTablesBeyondTheBound) {
  // 100 addresses x 200 made-up names, all at once: far more keys than the table may hold.
  for (int a = 0; a < 100; ++a) {
    const std::string address = "10.9.0." + std::to_string(a);
    for (int u = 0; u < 200; ++u) {
      const std::string name = "bogus-" + std::to_string(a) + "-" + std::to_string(u);
      attempt(name, address, Outcome::failure);
      ASSERT_LE(throttle.failure_entries(), 1000u);
    }
  }
  EXPECT_EQ(1000u, throttle.failure_entries());
  EXPECT_GT(throttle.stats().evicted, 0u);
  EXPECT_EQ(100u * 180u, throttle.stats().throttled[static_cast<int>(Scope::address)])
      << "each address was stopped after 20 names";
}

TEST_F(LoginThrottleTest, TrustedAddressesAreBoundedToo) {
  for (int i = 0; i < 3000; ++i)
    ASSERT_EQ(Verdict::allowed, attempt("user" + std::to_string(i), kX, Outcome::success).verdict);
  EXPECT_EQ(1000u, throttle.trusted_entries());
  EXPECT_EQ(0u, throttle.failure_entries());
}

TEST_F(LoginThrottleTest, CapsLoginsInFlightInTotalAndPerAddress) {
  for (int i = 0; i < 4; ++i)
    ASSERT_EQ(Verdict::allowed, throttle.admit("u" + std::to_string(i), kX).verdict);
  EXPECT_EQ(Verdict::address_busy, throttle.admit("u9", kX).verdict);
  EXPECT_EQ(Verdict::allowed, throttle.admit("u9", kY).verdict);
  EXPECT_EQ(5u, throttle.in_flight());
  throttle.finish("u0", kX, Outcome::success);
  EXPECT_EQ(Verdict::allowed, throttle.admit("u9", kX).verdict);
  EXPECT_EQ(1u, throttle.stats().address_busy);

  auto s = settings();
  s.in_flight = 5;
  throttle.configure(s);
  EXPECT_EQ(Verdict::busy, throttle.admit("u8", "203.0.113.9").verdict);
  EXPECT_EQ(1u, throttle.stats().busy);
}

TEST_F(LoginThrottleTest, AtTheEdgeOfTheBackOffOnlyOneCheckRunsAtATime) {
  fail_n("alice", kX, 4);
  ASSERT_EQ(Verdict::allowed, throttle.admit("alice", kX).verdict);
  auto second = throttle.admit("alice", kX);
  EXPECT_EQ(Verdict::throttled, second.verdict) << "its failure would start the back-off";
  EXPECT_EQ(Scope::user_address, second.scope);
  throttle.finish("alice", kX, Outcome::failure);
  EXPECT_EQ(Verdict::throttled, throttle.admit("alice", kX).verdict);
}

TEST_F(LoginThrottleTest, AnAbandonedCheckCountsForNothing) {
  fail_n("alice", kX, 4);
  {
    ASSERT_EQ(Verdict::allowed, throttle.admit("alice", kX).verdict);
    LoginAttempt dropped(throttle, "alice", kX);  // e.g. the connection's coroutine destroyed
  }
  EXPECT_EQ(0u, throttle.in_flight());
  EXPECT_EQ(Verdict::allowed, attempt("alice", kX, Outcome::failure).verdict);
  EXPECT_EQ(Verdict::throttled, throttle.admit("alice", kX).verdict);
}

TEST_F(LoginThrottleTest, LoginAttemptReportsOnce) {
  ASSERT_EQ(Verdict::allowed, throttle.admit("alice", kX).verdict);
  LoginAttempt a(throttle, "alice", kX);
  a.finish(Outcome::failure);
  a.finish(Outcome::failure);  // ignored
  EXPECT_EQ(0u, throttle.in_flight());
  EXPECT_EQ(3u, throttle.failure_entries());
  LoginAttempt moved(std::move(a));  // nothing left to report
  EXPECT_EQ(0u, throttle.in_flight());
}

TEST_F(LoginThrottleTest, ZeroDisablesAKey) {
  auto s = settings();
  s.failures_per_user_address = 0;
  s.failures_per_address = 0;
  s.failures_per_user = 0;
  s.in_flight_per_address = 0;
  throttle.configure(s);
  fail_n("alice", kX, 500);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(Verdict::allowed, throttle.admit("alice", kX).verdict);
}

TEST_F(LoginThrottleTest, ConfigureShrinksTheTables) {
  for (int i = 0; i < 100; ++i)
    fail_n("user" + std::to_string(i), "10.1.0." + std::to_string(i), 1);
  ASSERT_EQ(300u, throttle.failure_entries());
  auto s = settings();
  s.max_entries = 10;
  throttle.configure(s);
  EXPECT_EQ(10u, throttle.failure_entries());
}

TEST(LoginThrottleSettings, FromTheConfigDefaults) {
  const auto s = throttle_settings(config::default_limits(), defaults::kMaxPendingLogins);
  EXPECT_EQ(defaults::kLoginFailuresPerUserAddress, s.failures_per_user_address);
  EXPECT_EQ(defaults::kLoginFailuresPerAddress, s.failures_per_address);
  EXPECT_EQ(defaults::kLoginFailuresPerUser, s.failures_per_user);
  EXPECT_EQ(defaults::kLoginBackoffInitial, s.backoff_initial);
  EXPECT_EQ(defaults::kLoginBackoffMax, s.backoff_max);
  EXPECT_EQ(defaults::kLoginForgetAfter, s.forget_after);
  EXPECT_EQ(defaults::kLoginThrottleEntries, s.max_entries);
  EXPECT_EQ(defaults::kMaxPendingLogins, s.in_flight);
  EXPECT_EQ(defaults::kLoginsInFlightPerAddress, s.in_flight_per_address);
  EXPECT_EQ("user_address", to_string(LoginThrottle::Scope::user_address));
}

}  // namespace
}  // namespace tandem::auth
