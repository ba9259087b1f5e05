// The unsolicited Neighbour Advertisement that announces a taken IPv6 inside address
// (replication/neighbour_advert.hpp, docs/ipv6.md "Pairs").
#include "replication/neighbour_advert.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

namespace tandem::replication {
namespace {

net::Ipv6Addr v6(const char* text) { return net::parse_ipv6(text).value(); }

const MacAddr kMac = {0x02, 0x00, 0x5e, 0x10, 0x20, 0x30};

TEST(NeighbourAdvert, LayoutIsTypeFlagsTargetAndOurLinkLayerAddress) {
  const auto target = v6("fd00:201::1");
  const auto m = unsolicited_neighbour_advert(target, kMac, false);
  EXPECT_EQ(m[0], 136);   // Neighbour Advertisement
  EXPECT_EQ(m[1], 0);     // code
  EXPECT_EQ(m[4], 0x20);  // Override only: not a router, never Solicited to a multicast group
  EXPECT_EQ(m[5] | m[6] | m[7], 0);
  EXPECT_TRUE(std::equal(target.begin(), target.end(), m.begin() + 8));
  EXPECT_EQ(m[24], 2);  // Target Link-Layer Address option
  EXPECT_EQ(m[25], 1);  // 8 bytes
  EXPECT_TRUE(std::equal(kMac.begin(), kMac.end(), m.begin() + 26));
  EXPECT_EQ(unsolicited_neighbour_advert(target, kMac, true)[4], 0xa0);  // Router + Override
}

TEST(NeighbourAdvert, ChecksumVerifiesOverThePseudoHeaderToAllNodes) {
  const auto target = v6("fd00:201::1");
  const auto m = unsolicited_neighbour_advert(target, kMac, true);
  // A receiver sums the message with its checksum in place: a correct one gives 0.
  EXPECT_EQ(icmpv6_checksum(target, all_nodes_address(), m), 0);
  // Any other destination (or source) breaks it: the pseudo-header is part of the sum.
  EXPECT_NE(icmpv6_checksum(target, v6("ff02::2"), m), 0);
  EXPECT_NE(icmpv6_checksum(v6("fd00:201::2"), all_nodes_address(), m), 0);
}

TEST(NeighbourAdvert, ChecksumMatchesAHandComputedValue) {
  // fd00:201::1 -> ff02::1, Override, 02:00:5e:10:20:30. The 16-bit words summed:
  //   source fd00+0201+0001 = 0xff02, destination ff02+0001 = 0xff03, length 0x0020, next
  //   header 0x003a; message: 8800+2000 = 0xa800, target 0xff02, option 0201+0200+5e10+2030 =
  //   0x8241. Total 0x427a2, folded 0x27a6, complemented 0xd859.
  const auto m = unsolicited_neighbour_advert(v6("fd00:201::1"), kMac, false);
  EXPECT_EQ(m[2], 0xd8);
  EXPECT_EQ(m[3], 0x59);
}

TEST(NeighbourAdvert, AllNodesIsFf02Colon1) {
  EXPECT_EQ(net::format_ipv6(all_nodes_address()), "ff02::1");
}

TEST(NeighbourAdvert, OddLengthMessagesArePaddedWithZero) {
  const auto src = v6("fd00::1");
  const auto dst = v6("fd00::2");
  const std::vector<std::uint8_t> odd = {0x12, 0x34, 0x56};
  const std::vector<std::uint8_t> even = {0x12, 0x34, 0x56, 0x00};
  // Same words summed; only the length in the pseudo-header differs (3 vs 4).
  EXPECT_EQ(static_cast<std::uint16_t>(~icmpv6_checksum(src, dst, odd)) + 1,
            static_cast<std::uint16_t>(~icmpv6_checksum(src, dst, even)));
}

}  // namespace
}  // namespace tandem::replication
