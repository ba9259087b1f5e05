#include "director/redirect.hpp"

#include <gtest/gtest.h>

namespace tandem::director {
namespace {

http::Request parse(const std::string& text) {
  http::RequestParser parser;
  parser.feed(text);
  EXPECT_EQ(parser.state(), http::RequestParser::State::complete) << parser.error();
  return parser.take();
}

Member member_at(const std::string& url) {
  Member m;
  m.id = "m1";
  EXPECT_TRUE(parse_member_url(url, m).ok());
  m.capacity = 10;
  return m;
}

TEST(Redirect, KeepsPathAndQueryOnTheMember) {
  const Member m = member_at("https://m1.test:4443/");
  auto a = answer(parse("GET /profile?x=1&y=%20 HTTP/1.1\r\nHost: dir.test\r\n\r\n"),
                  [&] { return Placement(&m); });
  EXPECT_EQ(a.outcome, Outcome::redirected);
  EXPECT_EQ(a.location, "https://m1.test:4443/profile?x=1&y=%20");
  EXPECT_EQ(a.bytes,
            "HTTP/1.1 302 Found\r\nLocation: https://m1.test:4443/profile?x=1&y=%20\r\n"
            "Connection: close\r\nContent-Length: 0\r\n\r\n");
  // The init POST of openconnect, with its body.
  a = answer(parse("POST / HTTP/1.1\r\nHost: dir.test\r\nContent-Length: 5\r\n\r\n<xml>"),
             [&] { return Placement(&m); });
  EXPECT_EQ(a.location, "https://m1.test:4443/");
  EXPECT_EQ(a.member, "m1");
}

TEST(Redirect, JoinsTheMembersBasePath) {
  const Member m = member_at("https://m1.test/vpn/");
  EXPECT_EQ(location(m, "/grp?a=b"), "https://m1.test/vpn/grp?a=b");
  // Bytes outside printable ASCII never reach the header raw.
  EXPECT_EQ(location(m, "/\xc3\xa9"), "https://m1.test/vpn/%C3%A9");
}

TEST(Redirect, ConnectAndTokensAre503NeverA401) {
  const Member m = member_at("https://m1.test/");
  bool placed = false;
  auto place = [&] {
    placed = true;
    return Placement(&m);
  };
  auto a = answer(parse("CONNECT /CSCOSSLC/tunnel HTTP/1.1\r\nHost: dir\r\n"
                        "Cookie: webvpn=abc\r\n\r\n"),
                  place);
  EXPECT_EQ(a.outcome, Outcome::refused_connect);
  EXPECT_EQ(a.status, 503);
  EXPECT_TRUE(a.bytes.starts_with("HTTP/1.1 503 Service Unavailable\r\n")) << a.bytes;
  EXPECT_NE(a.bytes.find("\r\nX-Reason: tunnels are served by members"), std::string::npos);
  a = answer(parse("POST / HTTP/1.1\r\nHost: dir\r\nCookie: a=1; webvpn=AAAA==\r\n"
                   "Content-Length: 0\r\n\r\n"),
             place);
  EXPECT_EQ(a.outcome, Outcome::refused_token);
  EXPECT_EQ(a.status, 503);
  EXPECT_NE(a.bytes.find("X-Reason: a session token"), std::string::npos);
  EXPECT_FALSE(placed);
  // Other cookies (openconnect's webvpncontext) are not tokens.
  a = answer(parse("GET / HTTP/1.1\r\nHost: dir\r\nCookie: webvpncontext=x\r\n\r\n"), place);
  EXPECT_EQ(a.outcome, Outcome::redirected);
}

TEST(Redirect, NoMemberIs503WithTheReason) {
  auto a = answer(parse("GET / HTTP/1.1\r\nHost: dir\r\n\r\n"), [] {
    return Placement(NoMember{NoMember::Why::no_members, 0, 0, 0, "no member is registered"});
  });
  EXPECT_EQ(a.outcome, Outcome::refused_no_member);
  EXPECT_EQ(a.status, 503);
  EXPECT_NE(a.bytes.find("\r\nX-Reason: no member is registered\r\n"), std::string::npos);
}

TEST(Redirect, RefusesMethodsTargetsAndLoops) {
  const Member m = member_at("https://dir.test:443/");
  auto place = [&] { return Placement(&m); };
  EXPECT_EQ(answer(parse("PUT / HTTP/1.1\r\nContent-Length: 0\r\n\r\n"), place).status, 405);
  EXPECT_EQ(answer(parse("GET https://x/ HTTP/1.1\r\n\r\n"), place).outcome,
            Outcome::refused_target);
  // The member's URL is where the client already is: openconnect would loop (§2.9).
  auto a = answer(parse("GET / HTTP/1.1\r\nHost: DIR.test\r\n\r\n"), place);
  EXPECT_EQ(a.outcome, Outcome::refused_loop);
  EXPECT_EQ(a.status, 503);
  EXPECT_EQ(answer(parse("GET / HTTP/1.1\r\nHost: dir.test:8443\r\n\r\n"), place).outcome,
            Outcome::redirected);
}

}  // namespace
}  // namespace tandem::director
