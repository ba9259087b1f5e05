#include "director/placement.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <functional>
#include <random>

namespace tandem::director {
namespace {

Member member(const std::string& id, std::uint64_t sessions, std::uint64_t capacity) {
  Member m;
  m.id = id;
  m.url = "https://" + id + "/";
  m.authority = id;
  m.sessions = sessions;
  m.capacity = capacity;
  return m;
}

std::map<std::string, Member> view(std::initializer_list<Member> ms) {
  std::map<std::string, Member> out;
  for (const auto& m : ms) out[m.id] = m;
  return out;
}

// Answers the scripted numbers in turn (each must be below the bound it is asked with), then 0.
struct Scripted {
  std::deque<std::size_t> next;
  std::vector<std::size_t> bounds;
  std::size_t operator()(std::size_t bound) {
    bounds.push_back(bound);
    std::size_t v = 0;
    if (!next.empty()) {
      v = next.front();
      next.pop_front();
    }
    EXPECT_LT(v, bound);
    return v;
  }
};

std::string chosen(const Placement& p) {
  if (const auto* m = std::get_if<const Member*>(&p)) return (*m)->id;
  return "none: " + std::get<NoMember>(p).reason;
}

TEST(Placement, NoMembersAndSilence) {
  Scripted r;
  Random random = std::ref(r);
  auto p = place({}, false, random);
  ASSERT_TRUE(std::holds_alternative<NoMember>(p));
  EXPECT_EQ(std::get<NoMember>(p).why, NoMember::Why::no_members);
  p = place(view({member("a", 0, 10)}), true, random);
  ASSERT_TRUE(std::holds_alternative<NoMember>(p));
  EXPECT_EQ(std::get<NoMember>(p).why, NoMember::Why::silent);
}

TEST(Placement, SkipsDrainingDegradedAndFull) {
  Member d = member("drain", 0, 10);
  d.draining = true;
  Member g = member("degraded", 0, 10);
  g.degraded = true;
  Member f = member("full", 10, 10);
  Scripted r;
  Random random = std::ref(r);
  auto p = place(view({d, g, f}), false, random);
  ASSERT_TRUE(std::holds_alternative<NoMember>(p));
  const auto& none = std::get<NoMember>(p);
  EXPECT_EQ(none.why, NoMember::Why::none_eligible);
  EXPECT_EQ(none.reason, "no member can take a new session (1 draining, 1 degraded, 1 full)");
  // One eligible member among them: always that one, whatever the random source says.
  for (std::size_t i = 0; i < 5; ++i) {
    Scripted rr{{i % 4, 0, 0}, {}};
    Random rnd = std::ref(rr);
    EXPECT_EQ(chosen(place(view({d, g, f, member("ok", 9, 10)}), false, rnd)), "ok");
  }
}

TEST(Placement, TwoLeastLoadedByFractionAreTheCandidates) {
  // Loads: a 50%, b 10%, c 20% (of a bigger capacity), e 90%.
  auto v = view({member("a", 5, 10), member("b", 10, 100), member("c", 200, 1000),
                 member("e", 9, 10)});
  // No shuffle (all draws 0 keep... whatever order), then the weighted draw between b (0.9) and
  // c (0.8): below 900000 is b, from 900000 on is c.
  int seen_b = 0, seen_c = 0;
  for (std::size_t draw : {0ul, 899'999ul, 900'000ul, 1'699'999ul}) {
    Scripted r{{0, 0, 0, draw}, {}};
    Random random = std::ref(r);
    const std::string id = chosen(place(v, false, random));
    ASSERT_TRUE(id == "b" || id == "c") << id;
    (id == "b" ? seen_b : seen_c)++;
    EXPECT_EQ(r.bounds.back(), 1'700'000u);  // weights: b 900000 + c 800000
  }
  EXPECT_EQ(seen_b, 2);
  EXPECT_EQ(seen_c, 2);
}

TEST(Placement, AnEmptierCandidateGetsMoreOfABurst) {
  // a is empty, b nearly full: b is a candidate but with a tenth of a's weight.
  auto v = view({member("a", 0, 10), member("b", 9, 10)});
  std::map<std::string, int> counts;
  std::size_t n = 0;
  Random random = [&n](std::size_t bound) { return (n++ * 7919) % bound; };
  for (int i = 0; i < 1100; ++i) counts[chosen(place(v, false, random))]++;
  EXPECT_GT(counts["a"], 900);
  EXPECT_GT(counts["b"], 0);
}

TEST(Placement, EqualLoadsAreSpreadOverAllMembers) {
  // A burst between two updates: five empty members, equal loads; the shuffle spreads it.
  auto v = view({member("a", 0, 10), member("b", 0, 10), member("c", 0, 10), member("d", 0, 10),
                 member("e", 0, 10)});
  std::mt19937_64 rng(42);
  Random random = [&rng](std::size_t bound) {
    return std::uniform_int_distribution<std::size_t>(0, bound - 1)(rng);
  };
  std::map<std::string, int> counts;
  for (int i = 0; i < 1000; ++i) counts[chosen(place(v, false, random))]++;
  ASSERT_EQ(counts.size(), 5u);
  for (const auto& [id, n] : counts) EXPECT_GT(n, 120) << id;
}

TEST(Placement, HugeNumbersDoNotOverflow) {
  auto v = view({member("a", UINT64_MAX - 1, UINT64_MAX), member("b", 1, 2)});
  Scripted r;
  Random random = std::ref(r);
  // b is half full, a nearly full: b sorts first; with draw 0, b is chosen.
  EXPECT_EQ(chosen(place(v, false, random)), "b");
}

}  // namespace
}  // namespace tandem::director
