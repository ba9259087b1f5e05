#include "node/server/connect_response.hpp"

#include <gtest/gtest.h>

#include <chrono>

#include "node/server/login.hpp"

namespace tandem::server {
namespace {

using namespace std::chrono_literals;

config::Policy policy() {
  config::Policy p;
  p.name = "default";
  p.idle_timeout = 30min;
  p.session_timeout = Duration{0};
  p.disconnected_timeout = 30min;
  p.dpd_interval = 30s;
  p.keepalive = 20s;
  p.mtu = 1400;
  p.simultaneous_logins = 3;
  return p;
}

std::vector<std::string> values(const http::Response& r, const std::string& name) {
  std::vector<std::string> out;
  for (const auto& h : r.headers)
    if (h.name == name) out.push_back(h.value);
  return out;
}

TunnelParams params() {
  TunnelParams p;
  p.client_ip = *net::parse_ipv4("10.77.0.2");
  p.pool = *net::parse_cidr("10.77.0.0/24");
  p.dns = {"10.77.0.1"};
  p.policy = policy();
  p.policy.routes = {"10.201.0.0/24"};
  p.server_name = "tandem test";
  return p;
}

TEST(ConnectResponse, HasWhatOpenconnectRequiresWithExactCase) {
  auto r = build_connect_response(params());
  std::string wire = r.serialize();
  // "HTTP/1.1 200 " with a reason phrase, or openconnect refuses the tunnel.
  EXPECT_EQ(wire.rfind("HTTP/1.1 200 CONNECTED\r\n", 0), 0u);
  EXPECT_EQ(values(r, "X-CSTP-Address"), std::vector<std::string>{"10.77.0.2"});
  EXPECT_EQ(values(r, "X-CSTP-Netmask"), std::vector<std::string>{"255.255.255.0"});
  EXPECT_EQ(values(r, "X-CSTP-MTU"), std::vector<std::string>{"1400"});
  EXPECT_EQ(values(r, "X-CSTP-DPD"), std::vector<std::string>{"30"});
  EXPECT_EQ(values(r, "X-CSTP-Keepalive"), std::vector<std::string>{"20"});
  EXPECT_EQ(values(r, "X-CSTP-Disconnected-Timeout"), std::vector<std::string>{"1800"});
  EXPECT_EQ(values(r, "X-CSTP-Session-Timeout"), std::vector<std::string>{"none"});
  EXPECT_EQ(wire.find("Content-Length"), std::string::npos);  // no body: CSTP follows
  EXPECT_EQ(wire.substr(wire.size() - 4), "\r\n\r\n");
}

TEST(ConnectResponse, SplitIncludesThePoolAndEachRoute) {
  auto r = build_connect_response(params());
  EXPECT_EQ(values(r, "X-CSTP-Split-Include"),
            (std::vector<std::string>{"10.77.0.0/255.255.255.0", "10.201.0.0/255.255.255.0"}));
  auto full = params();
  full.policy.routes.clear();
  EXPECT_TRUE(values(build_connect_response(full), "X-CSTP-Split-Include").empty());
}

TEST(ConnectResponse, ExcludedRoutesAreSentInSplitAndFullTunnels) {
  auto p = params();
  p.policy.exclude_routes = {"10.201.0.128/25"};
  EXPECT_EQ(values(build_connect_response(p), "X-CSTP-Split-Exclude"),
            std::vector<std::string>{"10.201.0.128/255.255.255.128"});
  p.policy.routes.clear();
  EXPECT_EQ(values(build_connect_response(p), "X-CSTP-Split-Exclude"),
            std::vector<std::string>{"10.201.0.128/255.255.255.128"});
  EXPECT_TRUE(values(build_connect_response(params()), "X-CSTP-Split-Exclude").empty());
}

TEST(ConnectResponse, SameSessionSameAddressStrings) {
  // openconnect compares address and netmask as strings on every resume (notes §6.2).
  auto a = build_connect_response(params()).serialize();
  auto b = build_connect_response(params()).serialize();
  EXPECT_EQ(a, b);
}

TEST(ConnectResponse, RefusalsCarryTheRightStatus) {
  EXPECT_EQ(build_connect_refusal(401, "x").serialize().rfind("HTTP/1.1 401 ", 0), 0u);
  auto busy = build_connect_refusal(503, "standby not ready");
  EXPECT_EQ(values(busy, "X-Reason"), std::vector<std::string>{"standby not ready"});
}

TEST(Login, TunnelGroupComesFromSelectThenOpaqueThenPath) {
  config::Config c = config::default_config();
  c.tunnel_groups["eng"] = {"eng", "default", std::nullopt};
  c.tunnel_groups["sales"] = {"sales", "default", std::nullopt};
  auth::ClientMessage m;
  EXPECT_EQ(resolve_tunnel_group(c, m, "/"), "default");
  EXPECT_EQ(resolve_tunnel_group(c, m, "/eng"), "eng");
  EXPECT_EQ(resolve_tunnel_group(c, m, "/nosuch"), "default");
  m.opaque_tunnel_group = "sales";
  EXPECT_EQ(resolve_tunnel_group(c, m, "/eng"), "sales");
  m.group_select = "eng";
  EXPECT_EQ(resolve_tunnel_group(c, m, "/"), "eng");
  m.group_select = "bogus";
  EXPECT_EQ(resolve_tunnel_group(c, m, "/"), "sales");
}

// <group-access> is the URL the user typed: after a director's redirect the POST path is the
// member's, but the group still shows there. Below the URL path, above the default.
TEST(Login, GroupAccessPathSelectsTheGroup) {
  config::Config c = config::default_config();
  c.tunnel_groups["eng"] = {"eng", "default", std::nullopt};
  auth::ClientMessage m;
  m.group_access = "https://director.example.com:4443/eng";
  EXPECT_EQ(resolve_tunnel_group(c, m, "/"), "eng");
  c.tunnel_groups["sales"] = {"sales", "default", std::nullopt};
  EXPECT_EQ(resolve_tunnel_group(c, m, "/sales"), "sales");
  m.group_access = "https://director.example.com/nosuch";
  EXPECT_EQ(resolve_tunnel_group(c, m, "/"), "default");
}

TEST(Login, GroupAccessSegmentRefusesWhatIsNotAnHttpsUrl) {
  EXPECT_EQ(group_access_segment("https://h/eng"), "eng");
  EXPECT_EQ(group_access_segment("HTTPS://h:443/eng/x?y=1"), "eng");
  EXPECT_EQ(group_access_segment("https://h/eng?x"), "eng");
  EXPECT_EQ(group_access_segment("https://h"), "");
  EXPECT_EQ(group_access_segment("https://h/"), "");
  EXPECT_EQ(group_access_segment("http://h/eng"), "");
  EXPECT_EQ(group_access_segment("/eng"), "");
  EXPECT_EQ(group_access_segment("https://h/e ng"), "");
  EXPECT_EQ(group_access_segment(std::string("https://h/e\x01g")), "");
  EXPECT_EQ(group_access_segment("https://h/" + std::string(1100, 'a')), "");
}

TEST(Login, SuccessCarriesTokenInCookieAndBody) {
  auto r = login_success_response("7-abc", config::TunnelGroup{});
  auto wire = r.serialize();
  EXPECT_NE(wire.find("Set-Cookie: webvpn=7-abc;"), std::string::npos);
  EXPECT_NE(r.body.find("<session-token>7-abc</session-token>"), std::string::npos);
  EXPECT_NE(r.body.find("id=\"success\""), std::string::npos);
  EXPECT_EQ(r.body.find("vpn-profile-manifest"), std::string::npos);
}

// A group with a profile announces it where openconnect looks: config-auth > config >
// vpn-profile-manifest > vpn rev="1.0" > file type="profile" service-type="user" > uri, hash.
TEST(Login, SuccessAnnouncesTheGroupsProfile) {
  config::TunnelGroup g{"eng", "default", std::nullopt, "/etc/p.xml", nullptr};
  auto p = std::make_shared<profile::XmlProfile>();
  p->sha1 = "A9993E364706816ABA3E25717850C26C9CD0D89D";
  g.profile = p;
  auto r = login_success_response("7-abc", g);
  auto doc = auth::parse_xml(r.body);
  ASSERT_TRUE(doc) << doc.error();
  const auth::XmlElement* file = nullptr;
  if (auto* config = doc->child("config"))
    if (auto* manifest = config->child("vpn-profile-manifest"))
      if (auto* vpn = manifest->child("vpn")) {
        EXPECT_EQ(vpn->attribute("rev"), "1.0");
        file = vpn->child("file");
      }
  ASSERT_NE(file, nullptr) << r.body;
  EXPECT_EQ(file->attribute("type"), "profile");
  EXPECT_EQ(file->attribute("service-type"), "user");
  ASSERT_NE(file->child("uri"), nullptr);
  EXPECT_EQ(file->child("uri")->text, "/CACHE/stc/profiles/eng.xml");
  ASSERT_NE(file->child("hash"), nullptr);
  EXPECT_EQ(file->child("hash")->attribute("type"), "sha1");
  EXPECT_EQ(file->child("hash")->text, p->sha1);
  // The token still travels in the body as well.
  ASSERT_NE(doc->child("session-token"), nullptr);
  EXPECT_EQ(doc->child("session-token")->text, "7-abc");
}

TEST(ConnectResponse, CiscoGroupPolicyHeadersFollowThePolicy) {
  auto p = params();
  auto r = build_connect_response(p);
  EXPECT_EQ(values(r, "X-CSTP-Client-Bypass-Protocol"), std::vector<std::string>{"false"});
  EXPECT_EQ(values(r, "X-CSTP-Disable-Always-On-VPN"), std::vector<std::string>{"false"});
  p.policy.client_bypass_protocol = true;
  p.policy.disable_always_on_vpn = true;
  r = build_connect_response(p);
  EXPECT_EQ(values(r, "X-CSTP-Client-Bypass-Protocol"), std::vector<std::string>{"true"});
  EXPECT_EQ(values(r, "X-CSTP-Disable-Always-On-VPN"), std::vector<std::string>{"true"});
}

}  // namespace
}  // namespace tandem::server

namespace tandem::server {
namespace {

TEST(ConnectResponse, RekeyIsNoneUnlessThePolicySetsAnInterval) {
  auto r = build_connect_response(params());
  EXPECT_EQ(values(r, "X-CSTP-Rekey-Method"), std::vector<std::string>{"none"});
  EXPECT_TRUE(values(r, "X-CSTP-Rekey-Time").empty());
  auto p = params();
  p.policy.rekey_interval = std::chrono::hours(8);
  r = build_connect_response(p);
  EXPECT_EQ(values(r, "X-CSTP-Rekey-Method"), std::vector<std::string>{"new-tunnel"});
  EXPECT_EQ(values(r, "X-CSTP-Rekey-Time"), std::vector<std::string>{"28800"});
}

TEST(ConnectResponse, LegacyDtlsAnnouncesSessionIdSuiteAndMtu) {
  auto p = params();
  p.dtls = TunnelParams::Dtls{4443, std::string(64, 'a'), "X-DTLS12-CipherSuite",
                              "AES256-GCM-SHA384"};
  auto r = build_connect_response(p);
  EXPECT_EQ(values(r, "X-DTLS-Session-ID"), std::vector<std::string>{std::string(64, 'a')});
  EXPECT_EQ(values(r, "X-DTLS12-CipherSuite"), std::vector<std::string>{"AES256-GCM-SHA384"});
  EXPECT_EQ(values(r, "X-DTLS-MTU"), std::vector<std::string>{"1400"});
  EXPECT_TRUE(values(r, "X-DTLS-App-ID").empty());
  EXPECT_TRUE(values(r, "X-DTLS-CipherSuite").empty());
  p.dtls = TunnelParams::Dtls{4443, std::string(64, 'b'), "", ""};
  r = build_connect_response(p);
  EXPECT_EQ(values(r, "X-DTLS-App-ID"), std::vector<std::string>{std::string(64, 'b')});
  EXPECT_EQ(values(r, "X-DTLS-CipherSuite"), std::vector<std::string>{"PSK-NEGOTIATE"});
  EXPECT_TRUE(values(r, "X-DTLS-Session-ID").empty());
}

}  // namespace
}  // namespace tandem::server
