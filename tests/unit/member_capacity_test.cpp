// The capacity a member's record publishes (replication/member_publisher.hpp).
#include <gtest/gtest.h>

#include "replication/member_publisher.hpp"

namespace tandem::replication {
namespace {

TEST(MemberCapacity, TheNodesSessionLimitCapsTheConfiguredCapacity) {
  EXPECT_EQ(published_capacity(1000, 0), 1000u);     // no session limit
  EXPECT_EQ(published_capacity(1000, 400), 400u);    // the node would refuse past 400
  EXPECT_EQ(published_capacity(1000, 5000), 1000u);  // the limit is above the capacity
}

}  // namespace
}  // namespace tandem::replication
