// tandem-load's reading of a director's Location (tests/tools/redirect_location.hpp).
#include <gtest/gtest.h>

#include "tests/tools/redirect_location.hpp"

namespace tandem::load {
namespace {

TEST(LoadRedirect, TheDirectorsLocation) {
  auto r = parse_location("https://10.200.0.21:4443/");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->ip, "10.200.0.21");
  EXPECT_EQ(r->port, 4443);
  EXPECT_EQ(r->authority, "10.200.0.21:4443");
  EXPECT_EQ(r->target, "/");
}

TEST(LoadRedirect, KeepsPathAndQuery) {
  auto r = parse_location("https://10.0.0.1:4443/vpn/group?x=1&y=%20");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->target, "/vpn/group?x=1&y=%20");
  r = parse_location("https://10.0.0.1:4443?q=1");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->target, "/?q=1");
}

TEST(LoadRedirect, DefaultPortAndNoPath) {
  auto r = parse_location("HTTPS://10.0.0.1");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->port, 443);
  EXPECT_EQ(r->authority, "10.0.0.1");  // Host header without ":443", as openconnect sends it
  EXPECT_EQ(r->target, "/");
}

TEST(LoadRedirect, BracketedIpv6) {
  auto r = parse_location("https://[::1]:8443/a");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->ip, "::1");
  EXPECT_EQ(r->port, 8443);
  EXPECT_EQ(r->authority, "[::1]:8443");
  EXPECT_EQ(r->target, "/a");
}

TEST(LoadRedirect, FragmentIsDropped) {
  auto r = parse_location("https://10.0.0.1:4443/p?q#frag");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->target, "/p?q");
}

TEST(LoadRedirect, MalformedLocationsAreErrors) {
  for (const char* bad : {
           "",                              // empty
           "/relative",                     // not absolute
           "http://10.0.0.1:4443/",         // not https
           "https://",                      // no host
           "https:///path",                 // no host
           "https://member.example:4443/",  // a name: never resolved
           "https://10.0.0.1:/",            // ':' without a port
           "https://10.0.0.1:0/",           // port 0
           "https://10.0.0.1:65536/",       // port too big
           "https://10.0.0.1:44x3/",        // port not a number
           "https://user@10.0.0.1/",        // user information
           "https://[::1/",                 // unclosed bracket
           "https://[::1]x/",               // junk after the bracket
           "https://[10.0.0.1]/",           // IPv4 in brackets
           "https://::1/",                  // IPv6 without brackets
           "https://10.0.0.1/a b",          // a space
           "https://10.0.0.1/\x01",         // a control byte
           "https://10.0.0.1/\xc3\xa9",     // non-ASCII
           "https://999.0.0.1/",            // not an address
       }) {
    auto r = parse_location(bad);
    EXPECT_FALSE(r.ok()) << "accepted '" << bad << "'";
    if (!r.ok()) {
      EXPECT_EQ(r.code(), Errc::invalid);
      EXPECT_NE(r.error().find("bad Location"), std::string::npos);
    }
  }
}

TEST(LoadRedirect, OverlongLocationIsRefusedAndNotEchoedWhole) {
  std::string longest = "https://10.0.0.1/" + std::string(3000, 'a');
  auto r = parse_location(longest);
  ASSERT_FALSE(r.ok());
  EXPECT_LT(r.error().size(), 300u);
}

TEST(LoadRedirect, RedirectStatuses) {
  for (int s : {301, 302, 303, 307, 308}) EXPECT_TRUE(is_redirect_status(s)) << s;
  for (int s : {200, 304, 305, 401, 503}) EXPECT_FALSE(is_redirect_status(s)) << s;
}

}  // namespace
}  // namespace tandem::load
