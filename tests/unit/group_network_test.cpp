// A policy's client network settings: dns, split_dns, default_domain, banner
// (docs/group-networks.md). Their checks at load, how the CONNECT answer and the login reply
// carry them, and that a reload may change them.
#include "node/config/group_network.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>

#include "node/config/config.hpp"
#include "node/config/restart_only.hpp"
#include "node/server/connect_response.hpp"
#include "node/server/group_network_headers.hpp"
#include "node/server/login.hpp"
#include "tests/unit/config_parsing.hpp"

namespace tandem {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using Strings = std::vector<std::string>;

using testing::parse_error;
using testing::parse_ok;

// --- domain names ------------------------------------------------------------------------------

TEST(GroupNetwork, DomainNamesAccepted) {
  for (const char* ok : {"corp", "corp.example.com", "a-b.example", "x1.internal", "EXAMPLE.Com",
                         "xn--bcher-kva.example", "1corp.example"}) {
    EXPECT_EQ(config::check_domain_name(ok), "") << ok;
  }
  const std::string label63(63, 'a');
  EXPECT_EQ(config::check_domain_name(label63 + ".example"), "");
  // 253 characters: four labels of 63 and one of 1 with the dots.
  const std::string longest = label63 + "." + label63 + "." + label63 + "." + std::string(61, 'b');
  ASSERT_EQ(longest.size(), 253u);
  EXPECT_EQ(config::check_domain_name(longest), "");
}

TEST(GroupNetwork, DomainNamesRefusedWithAReason) {
  const std::string label63(63, 'a');
  const struct {
    std::string name;
    const char* why;
  } cases[] = {
      {"", "empty"},
      {"corp.example.", "trailing dot"},
      {".corp", "empty label"},
      {"corp..example", "empty label"},
      {label63 + "a.example", "longer than 63"},
      {label63 + "." + label63 + "." + label63 + "." + std::string(62, 'b'), "253"},
      {"-corp.example", "starts or ends with -"},
      {"corp-.example", "starts or ends with -"},
      {"*.corp.example", "wildcard"},
      {"corp example", "A-Z a-z 0-9 -"},
      {"corp_x.example", "A-Z a-z 0-9 -"},
      {"corp.example\r\nX-Evil: 1", "A-Z a-z 0-9 -"},
      {std::string("corp\0x", 6), "A-Z a-z 0-9 -"},
      {"b\xc3\xbc"
       "cher.example",
       "A-Z a-z 0-9 -"},
      {"10.1.2.3", "all-digit"},
      {"corp.123", "all-digit"},
  };
  for (const auto& c : cases) {
    EXPECT_THAT(config::check_domain_name(c.name), HasSubstr(c.why)) << c.name;
  }
}

TEST(GroupNetwork, DefaultDomainIsASpaceSeparatedSearchList) {
  EXPECT_EQ(config::check_default_domain("corp.example"), "");
  EXPECT_EQ(config::check_default_domain("corp.example lab.example"), "");
  EXPECT_EQ(config::check_default_domain("a b c d e f"), "");
  EXPECT_THAT(config::check_default_domain("a b c d e f g"), HasSubstr("more than 6"));
  EXPECT_THAT(config::check_default_domain(""), HasSubstr("empty"));
  EXPECT_THAT(config::check_default_domain("a  b"), HasSubstr("domain 2: empty"));
  EXPECT_THAT(config::check_default_domain("a "), HasSubstr("domain 2: empty"));
  EXPECT_THAT(config::check_default_domain("a\tb"), HasSubstr("domain 1"));
  EXPECT_THAT(config::check_default_domain("ok.example bad_.example"), HasSubstr("domain 2"));
}

// --- banner ------------------------------------------------------------------------------------

TEST(GroupNetwork, BannerChecks) {
  EXPECT_EQ(config::check_banner(""), "");
  EXPECT_EQ(config::check_banner("Authorised use only.\nActivity is logged: 100% of it."), "");
  EXPECT_EQ(config::check_banner("Zugang nur f\xc3\xbcr Befugte \xe2\x80\x94 \xe6\x9c\xac"), "");
  EXPECT_EQ(config::check_banner(std::string(config::kMaxBannerBytes, 'x')), "");
  EXPECT_THAT(config::check_banner(std::string(config::kMaxBannerBytes + 1, 'x')),
              HasSubstr("longer than 4000 bytes"));
  EXPECT_THAT(config::check_banner("line\r\nX-Injected: 1"), HasSubstr("carriage return"));
  EXPECT_THAT(config::check_banner("tab\there"), HasSubstr("control character"));
  EXPECT_THAT(config::check_banner(std::string("nul\0here", 8)), HasSubstr("control character"));
  EXPECT_THAT(config::check_banner("bell\a"), HasSubstr("control character"));
  EXPECT_THAT(config::check_banner("del\x7f"), HasSubstr("control character"));
  EXPECT_THAT(config::check_banner("c1 \xc2\x85 next line"), HasSubstr("control character"));
  EXPECT_THAT(config::check_banner("bad \xff utf-8"), HasSubstr("UTF-8"));
  EXPECT_THAT(config::check_banner("overlong \xc0\xaf"), HasSubstr("UTF-8"));
}

// --- the configuration -------------------------------------------------------------------------

TEST(GroupNetwork, DefaultsAndThePoolDnsFallback) {
  const config::Config none = parse_ok("");
  const config::Policy& d = none.policies.at("default");
  EXPECT_THAT(d.dns, IsEmpty());
  EXPECT_THAT(d.split_dns, IsEmpty());
  EXPECT_EQ(d.default_domain, "");
  EXPECT_EQ(d.banner, "");

  const config::Config c = parse_ok(R"(
[pool]
dns = ["10.201.0.53", "10.201.0.54", "10.201.0.55", "10.201.0.56"]
[policy.staff]
mtu = 1300
[policy.eng]
dns = ["10.9.0.53"]
split_dns = ["corp.example", "Lab.Example"]
default_domain = "corp.example lab.example"
banner = """
Engineering VPN.
Authorised use only."""
[policy.dark]
dns = []
)");
  // The built-in default and a policy without the key follow [pool] dns (no count limit there,
  // as before this key existed).
  EXPECT_EQ(c.policies.at("default").dns.size(), 4u);
  EXPECT_EQ(c.policies.at("staff").dns, c.dns);
  const config::Policy& eng = c.policies.at("eng");
  EXPECT_EQ(eng.dns, Strings{"10.9.0.53"});
  EXPECT_EQ(eng.split_dns, (Strings{"corp.example", "Lab.Example"}));
  EXPECT_EQ(eng.default_domain, "corp.example lab.example");
  EXPECT_EQ(eng.banner, "Engineering VPN.\nAuthorised use only.");
  EXPECT_THAT(c.policies.at("dark").dns, IsEmpty());  // [] = no DNS servers at all
}

TEST(GroupNetwork, BadValuesAreErrorsNamingTheKeyAndFile) {
  EXPECT_THAT(parse_error("[policy.p]\ndns = [\"10.0.0.1\", \"dns.example\"]\n"),
              HasSubstr("test.toml: policy.p.dns[1]: expected an IPv4 or IPv6 address"));
  EXPECT_THAT(parse_error("[policy.p]\ndns = \"10.0.0.1\"\n"),
              HasSubstr("test.toml: policy.p.dns: expected an array of IPv4 or IPv6 addresses"));
  EXPECT_THAT(parse_error("[policy.p]\ndns = [\"10.0.0.1\", \"10.0.0.2\", \"10.0.0.3\", "
                          "\"10.0.0.4\"]\n"),
              HasSubstr("test.toml: policy.p.dns: at most 3 servers"));
  EXPECT_THAT(parse_error("[policy.p]\nsplit_dns = [\"corp.example\", \"*.lab.example\"]\n"),
              HasSubstr("test.toml: policy.p.split_dns[1]: expected a domain name"));
  EXPECT_THAT(parse_error("[policy.p]\nsplit_dns = [\"corp.example\", \"CORP.example\"]\n"),
              HasSubstr("test.toml: policy.p.split_dns: \"CORP.example\" is listed twice"));
  EXPECT_THAT(parse_error("[policy.p]\nsplit_dns = \"corp.example\"\n"),
              HasSubstr("policy.p.split_dns: expected an array of domain names"));
  std::string many = "[policy.p]\nsplit_dns = [";
  for (int i = 0; i < 65; ++i) many += "\"d" + std::to_string(i) + ".example\",";
  many += "]\n";
  EXPECT_THAT(parse_error(many), HasSubstr("policy.p.split_dns: at most 64 domains"));
  EXPECT_THAT(parse_error("[policy.p]\ndefault_domain = \"corp.example.\"\n"),
              HasSubstr("test.toml: policy.p.default_domain: expected one or more domain names"));
  EXPECT_THAT(parse_error("[policy.p]\ndefault_domain = [\"corp.example\"]\n"),
              HasSubstr("policy.p.default_domain: expected one or more domain names"));
  const std::string injected =
      parse_error("[policy.p]\nbanner = \"Welcome\\r\\nX-CSTP-Split-Include: 0.0.0.0/0.0.0.0\"\n");
  EXPECT_THAT(injected, HasSubstr("test.toml: policy.p.banner: expected text of at most 4000 "
                                  "bytes"));
  EXPECT_THAT(injected, HasSubstr("carriage return"));
  // The message shows the value escaped: one problem, one line.
  EXPECT_THAT(injected, Not(HasSubstr("\n")));
  EXPECT_THAT(parse_error("[policy.p]\nbanner = \"" + std::string(4001, 'x') + "\"\n"),
              HasSubstr("policy.p.banner: expected text of at most 4000 bytes"));
  EXPECT_THAT(parse_error("[policy.p]\nbanner = 42\n"), HasSubstr("policy.p.banner: expected"));
  EXPECT_THAT(parse_error("[policy.p]\nsplit_dnz = []\n"),
              HasSubstr("unknown key 'policy.p.split_dnz'"));
}

TEST(GroupNetwork, AReloadMayChangeThemAll) {
  // None of the keys is restart-only: a reload takes them as they are in the file.
  const config::Config running = parse_ok("[policy.default]\nsplit_dns = [\"a.example\"]\n");
  config::Config next = parse_ok(R"(
[pool]
dns = ["10.0.0.53"]
[policy.default]
dns = ["10.0.0.54"]
split_dns = ["b.example"]
default_domain = "b.example"
banner = "changed"
)");
  EXPECT_THAT(config::keep_restart_only(running, next), IsEmpty());
  EXPECT_EQ(next.policies.at("default").split_dns, Strings{"b.example"});
  EXPECT_EQ(next.policies.at("default").banner, "changed");
}

// --- what the client is sent -------------------------------------------------------------------

std::vector<std::string> values(const http::Response& r, const std::string& name) {
  std::vector<std::string> out;
  for (const auto& h : r.headers)
    if (h.name == name) out.push_back(h.value);
  return out;
}

TEST(GroupNetwork, BannerHeaderValueIsPercentEncoded) {
  EXPECT_EQ(server::banner_header_value("Welcome"), "Welcome");
  EXPECT_EQ(server::banner_header_value("Line 1\nLine 2"), "Line 1%0ALine 2");
  EXPECT_EQ(server::banner_header_value("100% sure"), "100%25 sure");
  EXPECT_EQ(server::banner_header_value("f\xc3\xbcr"), "f%C3%BCr");
  // Whatever it is given, nothing that ends a header line gets through.
  const std::string hostile = server::banner_header_value("a\r\nX-Evil: 1\r\n\r\nbody");
  EXPECT_EQ(hostile.find_first_of("\r\n"), std::string::npos);
  EXPECT_EQ(hostile, "a%0D%0AX-Evil: 1%0D%0A%0D%0Abody");
}

TEST(GroupNetwork, ConnectAnswerCarriesThePolicysSettings) {
  server::TunnelParams p;
  p.client_ip = *net::parse_ipv4("10.77.0.2");
  p.pool = *net::parse_cidr("10.77.0.0/24");
  p.policy.name = "eng";
  p.policy.mtu = 1400;
  p.policy.routes = {"10.201.0.0/24"};
  p.policy.exclude_routes = {"10.201.0.128/25"};
  p.policy.dns = {"10.9.0.53", "10.9.0.54"};
  p.dns = p.policy.dns;
  p.policy.split_dns = {"corp.example", "lab.example"};
  p.policy.default_domain = "corp.example";
  p.policy.banner = "Engineering VPN.\nAuthorised use only.";
  const http::Response r = server::build_connect_response(p);
  EXPECT_EQ(values(r, "X-CSTP-DNS"), (Strings{"10.9.0.53", "10.9.0.54"}));
  EXPECT_EQ(values(r, "X-CSTP-Split-DNS"), (Strings{"corp.example", "lab.example"}));
  EXPECT_EQ(values(r, "X-CSTP-Default-Domain"), Strings{"corp.example"});
  EXPECT_EQ(values(r, "X-CSTP-Banner"), Strings{"Engineering VPN.%0AAuthorised use only."});
  EXPECT_EQ(values(r, "X-CSTP-Split-Include"),
            (Strings{"10.77.0.0/255.255.255.0", "10.201.0.0/255.255.255.0"}));
  EXPECT_EQ(values(r, "X-CSTP-Split-Exclude"), Strings{"10.201.0.128/255.255.255.128"});
  // One header per line on the wire: the banner's line end did not become one.
  const std::string wire = r.serialize();
  EXPECT_NE(wire.find("\r\nX-CSTP-Banner: Engineering VPN.%0AAuthorised use only.\r\n"),
            std::string::npos);
}

TEST(GroupNetwork, NothingSentForUnsetKeys) {
  http::Response r;
  config::Policy p;
  server::add_group_network_headers(r, p);
  EXPECT_THAT(r.headers, IsEmpty());
}

TEST(GroupNetwork, LoginSuccessCarriesTheBannerEscaped) {
  const auto r = server::login_success_response("7-abc", config::TunnelGroup{},
                                                "Hello <staff> & \"guests\"\nLine 2");
  EXPECT_NE(r.body.find("<banner>Hello &lt;staff&gt; &amp; &quot;guests&quot;\nLine 2</banner>"),
            std::string::npos)
      << r.body;
  const auto none = server::login_success_response("7-abc", config::TunnelGroup{}, "");
  EXPECT_EQ(none.body.find("<banner>"), std::string::npos);
}

}  // namespace
}  // namespace tandem
