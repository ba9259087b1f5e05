#include <gtest/gtest.h>

#include <set>

#include "node/radius/challenge_store.hpp"

namespace tandem::radius {
namespace {

using namespace std::chrono_literals;
using Status = ChallengeStore::Taken::Status;

PendingChallenge challenge(const std::string& user) { return {user, "corp", "192.0.2.7", "S1"}; }

TEST(ChallengeStore, AnIdAnswersOnce) {
  FakeClock clock;
  ChallengeStore store(4, 60s);
  auto id = store.add("id1", challenge("alice"), clock.now());
  ASSERT_TRUE(id);
  auto first = store.take(*id, clock.now());
  ASSERT_EQ(first.status, Status::found);
  EXPECT_EQ(first.challenge.user, "alice");
  EXPECT_EQ(first.challenge.state, "S1");
  EXPECT_EQ(store.take(*id, clock.now()).status, Status::unknown);
  EXPECT_EQ(store.size(), 0u);
}

TEST(ChallengeStore, UnknownId) {
  FakeClock clock;
  ChallengeStore store(4, 60s);
  store.add("id1", challenge("alice"), clock.now());
  EXPECT_EQ(store.take("id2", clock.now()).status, Status::unknown);
  EXPECT_EQ(store.take("", clock.now()).status, Status::unknown);
}

TEST(ChallengeStore, Expires) {
  FakeClock clock;
  ChallengeStore store(4, 60s);
  store.add("a", challenge("alice"), clock.now());
  store.add("b", challenge("bob"), clock.now());
  clock.advance(59'999ms);
  EXPECT_EQ(store.take("a", clock.now()).status, Status::found);
  clock.advance(1ms);
  EXPECT_EQ(store.take("b", clock.now()).status, Status::expired);
}

TEST(ChallengeStore, BoundedExpiredOnesMakeRoom) {
  FakeClock clock;
  ChallengeStore store(2, 60s);
  EXPECT_TRUE(store.add("a", challenge("a"), clock.now()));
  EXPECT_TRUE(store.add("b", challenge("b"), clock.now()));
  EXPECT_FALSE(store.add("c", challenge("c"), clock.now()));  // full: refused, a and b stay
  EXPECT_EQ(store.size(), 2u);
  clock.advance(60s);
  EXPECT_TRUE(store.add("c", challenge("c"), clock.now()));  // a and b expired
  EXPECT_EQ(store.size(), 1u);
}

TEST(ChallengeStore, DuplicateIdRefused) {
  FakeClock clock;
  ChallengeStore store(4, 60s);
  EXPECT_TRUE(store.add("a", challenge("a"), clock.now()));
  EXPECT_FALSE(store.add("a", challenge("b"), clock.now()));
  EXPECT_EQ(store.take("a", clock.now()).challenge.user, "a");
}

TEST(ChallengeStore, RandomIds) {
  std::set<std::string> ids;
  for (int i = 0; i < 100; ++i) {
    const std::string id = random_challenge_id();
    EXPECT_EQ(id.size(), 32u);
    EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos);
    ids.insert(id);
  }
  EXPECT_EQ(ids.size(), 100u);
}

}  // namespace
}  // namespace tandem::radius
