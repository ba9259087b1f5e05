#include "node/session/traffic.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace tandem::session {
namespace {

std::vector<std::uint8_t> ipv4(std::uint32_t src, std::uint32_t dst) {
  std::vector<std::uint8_t> p(28, 0);
  p[0] = 0x45;
  for (int i = 0; i < 4; ++i) {
    p[12 + i] = static_cast<std::uint8_t>(src >> (24 - 8 * i));
    p[16 + i] = static_cast<std::uint8_t>(dst >> (24 - 8 * i));
  }
  return p;
}

TEST(Traffic, DestinationOfIpv4Only) {
  EXPECT_EQ(ipv4_destination(ipv4(1, 0x0a4d0009)), 0x0a4d0009u);
  EXPECT_FALSE(ipv4_destination(std::vector<std::uint8_t>{0x45, 0}).has_value());
}

}  // namespace
}  // namespace tandem::session
