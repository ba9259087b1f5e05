#include "base/log_limiter.hpp"

#include <gtest/gtest.h>

namespace tandem::log {
namespace {

using namespace std::chrono_literals;

TEST(LogLimiter, ABurstThenOneLinePerInterval) {
  FakeClock clock;
  LogLimiter limiter(3, 1s);
  std::uint64_t suppressed = 99;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(limiter.allow(clock.now(), suppressed));
    EXPECT_EQ(0u, suppressed);
  }
  for (int i = 0; i < 1000; ++i) ASSERT_FALSE(limiter.allow(clock.now(), suppressed));
  clock.advance(999ms);
  EXPECT_FALSE(limiter.allow(clock.now(), suppressed));
  clock.advance(1ms);
  ASSERT_TRUE(limiter.allow(clock.now(), suppressed));
  EXPECT_EQ(1001u, suppressed) << "the next line says how many were skipped";
  EXPECT_FALSE(limiter.allow(clock.now(), suppressed));
}

TEST(LogLimiter, AFloodForAMinuteWritesBurstPlusOneLinePerSecond) {
  FakeClock clock;
  LogLimiter limiter(20, 1s);
  std::uint64_t written = 0, skipped_reported = 0, suppressed = 0;
  for (int ms = 0; ms < 60'000; ++ms) {  // 1000 events per second
    if (limiter.allow(clock.now(), suppressed)) {
      ++written;
      skipped_reported += suppressed;
    }
    clock.advance(1ms);
  }
  EXPECT_EQ(20u + 59u, written);
  EXPECT_LE(60'000u - written - skipped_reported, 1000u) << "only the last second's are pending";
}

TEST(LogLimiter, RefillsToTheBurstAfterAQuietTime) {
  FakeClock clock;
  LogLimiter limiter(5, 1s);
  std::uint64_t suppressed = 0;
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(limiter.allow(clock.now(), suppressed));
  clock.advance(1h);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(limiter.allow(clock.now(), suppressed));
  EXPECT_FALSE(limiter.allow(clock.now(), suppressed));
}

}  // namespace
}  // namespace tandem::log
