// The listen address texts (base/address.hpp): IPv4 "ip:port", and "[ipv6]:port" for the node's
// client-facing listener (docs/ipv6.md, "IPv6 as the outer transport").
#include <gtest/gtest.h>

#include "base/address.hpp"

namespace tandem::net {
namespace {

TEST(ListenAddress, Ipv4OnlyWhereIpv4IsRequired) {
  EXPECT_TRUE(valid_listen("10.0.0.1:443"));
  EXPECT_FALSE(valid_listen("[fd00::1]:443"));
}

TEST(ListenAddress, AcceptsBracketedIpv6) {
  EXPECT_TRUE(valid_listen_any("10.0.0.1:443"));
  EXPECT_TRUE(valid_listen_any("[fd00:200::1]:4443"));
  EXPECT_TRUE(valid_listen_any("[::]:443"));
}

TEST(ListenAddress, RefusesMalformedIpv6) {
  EXPECT_FALSE(valid_listen_any("fd00::1:443"));    // no brackets: the port is ambiguous
  EXPECT_FALSE(valid_listen_any("[fd00::1]"));      // no port
  EXPECT_FALSE(valid_listen_any("[fd00::1]:0"));    // port 0
  EXPECT_FALSE(valid_listen_any("[fd00::1]:070"));  // leading zero
  EXPECT_FALSE(valid_listen_any("[fd00::g]:443"));
  EXPECT_FALSE(valid_listen_any("[10.0.0.1]:443"));
  EXPECT_FALSE(valid_listen_any("[]:443"));
  EXPECT_FALSE(valid_listen_any("[fd00::1]x:443"));
}

TEST(ListenAddress, HostWithoutBrackets) {
  EXPECT_EQ(listen_host("10.0.0.1:443"), "10.0.0.1");
  EXPECT_EQ(listen_host("[fd00::1]:443"), "fd00::1");
}

}  // namespace
}  // namespace tandem::net
