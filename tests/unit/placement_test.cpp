#include "loadbalancer/placement.hpp"

#include <gtest/gtest.h>

namespace tandem::director {
namespace {

TEST(Placement, PicksMemberWithMostFreeCapacityFraction) {
  std::vector<MemberLoad> m = {{"a", "https://a/", 90, 100, true},
                               {"b", "https://b/", 100, 250, true},
                               {"c", "https://c/", 10, 20, true}};
  EXPECT_EQ(choose_member(m), 1u);
}

TEST(Placement, SkipsFullAndDrainingMembers) {
  std::vector<MemberLoad> m = {{"a", "https://a/", 0, 100, false},
                               {"b", "https://b/", 50, 50, true},
                               {"c", "https://c/", 49, 50, true}};
  EXPECT_EQ(choose_member(m), 2u);
}

TEST(Placement, NoneWhenNobodyCanTakeAClient) {
  EXPECT_FALSE(choose_member({}).has_value());
  EXPECT_FALSE(choose_member({{"a", "https://a/", 5, 5, true}}).has_value());
}

TEST(Placement, TieGoesToFirstListed) {
  std::vector<MemberLoad> m = {{"a", "https://a/", 5, 10, true}, {"b", "https://b/", 5, 10, true}};
  EXPECT_EQ(choose_member(m), 0u);
}

}  // namespace
}  // namespace tandem::director
