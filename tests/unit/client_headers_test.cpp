#include "node/http/client_headers.hpp"

#include <gtest/gtest.h>

namespace tandem::http {
namespace {

Request with(std::vector<Header> headers) {
  Request r;
  r.method = "CONNECT";
  r.target = "/CSCOSSLC/tunnel";
  r.headers = std::move(headers);
  return r;
}

TEST(ClientHeaders, CiscoSecureClientHeadersAreRead) {
  auto h = read_client_headers(with({{"X-AnyConnect-Platform", "win"},
                                     {"X-CSTP-Protocol", "Copyright (c) 2004 Cisco Systems, Inc."},
                                     {"X-Aggregate-Auth", "1"},
                                     {"X-Transcend-Version", "1"}}));
  ASSERT_TRUE(h) << h.error();
  EXPECT_EQ(h->platform, "win");
  EXPECT_EQ(h->cstp_protocol, "Copyright (c) 2004 Cisco Systems, Inc.");
  EXPECT_TRUE(h->aggregate_auth);
  EXPECT_TRUE(h->transcend);
}

TEST(ClientHeaders, AbsentIsFine) {
  auto h = read_client_headers(with({{"User-Agent", "Open AnyConnect VPN Agent v9.01-3"}}));
  ASSERT_TRUE(h);
  EXPECT_EQ(h->platform, "");
  EXPECT_FALSE(h->aggregate_auth);
}

TEST(ClientHeaders, HostileValuesAreRefusedNamingTheHeader) {
  struct Case {
    Header h;
    const char* names;
  };
  for (const auto& c :
       std::vector<Case>{{{"X-AnyConnect-Platform", "win; rm -rf"}, "X-AnyConnect-Platform"},
                         {{"X-AnyConnect-Platform", std::string(33, 'a')}, "X-AnyConnect-Platform"},
                         {{"X-AnyConnect-Platform", ""}, "X-AnyConnect-Platform"},
                         {{"X-CSTP-Protocol", std::string(129, 'a')}, "X-CSTP-Protocol"},
                         {{"X-CSTP-Protocol", "a\x1b[31m"}, "X-CSTP-Protocol"},
                         {{"X-Aggregate-Auth", "yes"}, "X-Aggregate-Auth"},
                         {{"X-Transcend-Version", "123456789"}, "X-Transcend-Version"}}) {
    auto h = read_client_headers(with({c.h}));
    ASSERT_FALSE(h) << c.h.name << ": " << c.h.value;
    EXPECT_NE(h.error().find(c.names), std::string::npos) << h.error();
  }
  auto twice = read_client_headers(
      with({{"X-AnyConnect-Platform", "win"}, {"x-anyconnect-platform", "linux-64"}}));
  ASSERT_FALSE(twice);
  EXPECT_NE(twice.error().find("more than once"), std::string::npos);
}

TEST(SessionToken, TheForms) {
  // openconnect: one Cookie header, webvpn only.
  EXPECT_EQ(*session_token(with({{"Cookie", "webvpn=7-abc/+="}})), "7-abc/+=");
  // Other cookies around it, over several Cookie headers.
  EXPECT_EQ(*session_token(with(
                {{"Cookie", "webvpncontext=x"}, {"Cookie", "webvpnc=bu:/&p:t; webvpn=7-abc"}})),
            "7-abc");
  // An RFC 6265 quoted value.
  EXPECT_EQ(*session_token(with({{"Cookie", "webvpn=\"7-abc\""}})), "7-abc");
  // A cleared cookie the jar still sends, then the real one; or the same token twice.
  EXPECT_EQ(*session_token(with({{"Cookie", "webvpn=; webvpn=7-abc"}})), "7-abc");
  EXPECT_EQ(*session_token(with({{"Cookie", "webvpn=7-abc; webvpn=7-abc"}})), "7-abc");
}

TEST(SessionToken, MissingAndMalformed) {
  auto none = session_token(with({}));
  ASSERT_FALSE(none);
  EXPECT_EQ(none.code(), Errc::not_found);
  auto only_c = session_token(with({{"Cookie", "webvpnc=bu:/&p:t"}}));
  ASSERT_FALSE(only_c);
  EXPECT_EQ(only_c.code(), Errc::not_found);
  EXPECT_NE(only_c.error().find("webvpnc"), std::string::npos);
  auto empty = session_token(with({{"Cookie", "webvpn="}}));
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.code(), Errc::not_found);
  for (const char* v : {"webvpn=a; webvpn=b", "webvpn=a\\b", "webvpn=a,b", "webvpn=\"a"}) {
    auto r = session_token(with({{"Cookie", v}}));
    ASSERT_FALSE(r) << v;
    EXPECT_EQ(r.code(), Errc::invalid) << v;
  }
  auto long_one = session_token(with({{"Cookie", "webvpn=" + std::string(513, 'a')}}));
  ASSERT_FALSE(long_one);
  EXPECT_EQ(long_one.code(), Errc::invalid);
}

}  // namespace
}  // namespace tandem::http
