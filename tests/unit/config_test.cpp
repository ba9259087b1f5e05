#include "node/config/config.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "base/text.hpp"
#include "node/config/defaults.hpp"
#include "tests/unit/config_parsing.hpp"

namespace tandem::config {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

using testing::parse_error;
using testing::parse_ok;

TEST(Duration, ParsesUnits) {
  EXPECT_EQ(parse_duration("30s").value(), 30s);
  EXPECT_EQ(parse_duration("30m").value(), 30min);
  EXPECT_EQ(parse_duration("1h").value(), 1h);
  EXPECT_EQ(parse_duration("1500ms").value(), 1500ms);
  EXPECT_EQ(parse_duration("2d").value(), 48h);
  EXPECT_EQ(parse_duration("1h30m").value(), 90min);
  EXPECT_EQ(parse_duration("0").value(), 0ms);
  EXPECT_EQ(parse_duration("0s").value(), 0ms);
  EXPECT_EQ(parse_duration("none").value(), 0ms);
}

TEST(Duration, RejectsMalformed) {
  for (const char* bad :
       {"", "30", "s", "-5s", "+5s", "5 s", " 5s", "5s ", "1.5h", "5x", "5S", "5sec", "None", "off",
        "h1", "99999999999999999999s", "9223372036854775807d"}) {
    EXPECT_FALSE(parse_duration(bad).ok()) << bad;
  }
  EXPECT_THAT(parse_duration("5x").error(), HasSubstr("unknown unit"));
  EXPECT_THAT(parse_duration("30").error(), HasSubstr("missing unit"));
}

TEST(Config, BuiltInDefaults) {
  const Config c = default_config();
  EXPECT_EQ(c.source, "<built-in defaults>");
  EXPECT_EQ(c.node_id, "tandem-1");
  EXPECT_EQ(c.listen, defaults::kListen);
  EXPECT_EQ(c.admin_socket, defaults::kAdminSocket);
  EXPECT_EQ(c.state_dir, defaults::kStateDir);
  EXPECT_EQ(c.log_level, "info");
  EXPECT_EQ(c.tun_name, defaults::kTunName);
  EXPECT_TRUE(c.tun_offload);
  EXPECT_EQ(c.data_threads, 0);  // one per CPU
  EXPECT_EQ(c.users_file, defaults::kUsersFile);
  EXPECT_EQ(c.pool_ipv4, defaults::kPoolIpv4);
  EXPECT_TRUE(c.tls_certificate.empty() && c.tls_private_key.empty());
  EXPECT_EQ(c.tls_expiry_warning, defaults::kCertificateExpiryWarning);
  EXPECT_EQ(c.tls_expiry_warning, std::chrono::hours(30 * 24));
  EXPECT_TRUE(c.dns.empty() && c.routes.empty());
  ASSERT_EQ(c.policies.size(), 1u);
  const Policy& p = c.policies.at("default");
  EXPECT_EQ(p.name, "default");
  EXPECT_EQ(p.idle_timeout, defaults::kIdleTimeout);
  EXPECT_EQ(p.session_timeout, defaults::kSessionTimeout);
  EXPECT_EQ(p.disconnected_timeout, defaults::kIdleTimeout);
  EXPECT_EQ(p.dpd_interval, defaults::kDpdInterval);
  EXPECT_EQ(p.keepalive, defaults::kKeepalive);
  EXPECT_EQ(p.mtu, defaults::kMtu);
  EXPECT_EQ(p.simultaneous_logins, defaults::kSimultaneousLogins);
  ASSERT_EQ(c.tunnel_groups.size(), 1u);
  EXPECT_EQ(c.tunnel_groups.at("default").policy, "default");
}

TEST(Config, EmptyFileIsTheDefaults) {
  const Config c = parse_ok("");
  EXPECT_EQ(c.source, "test.toml");
  EXPECT_EQ(c.listen, defaults::kListen);
  EXPECT_EQ(c.policies.count("default"), 1u);
  EXPECT_EQ(c.tunnel_groups.count("default"), 1u);
}

TEST(Config, ReadsEveryKey) {
  const Config c = parse_ok(R"(
[node]
id = "hel-a"
listen = "192.0.2.10:8443"
admin_socket = "/tmp/t.sock"
state_dir = "/tmp/state"
log_level = "debug"
tun_name = "vpn0"

[tls]
certificate = "/etc/tandem/cert.pem"
private_key = "/etc/tandem/key.pem"
expiry_warning = "45d"

[auth]
users_file = "/tmp/users"

[pool]
ipv4 = "10.90.0.0/16"
dns = ["192.0.2.53", "192.0.2.54"]
routes = ["10.0.0.0/8", "172.16.0.0/12"]

[policy.default]
idle_timeout = "10m"
keepalive = 0

[policy.strict]
idle_timeout = 600
session_timeout = "8h"
disconnected_timeout = "6m"
dpd_interval = "1500ms"
mtu = 1300
simultaneous_logins = 0

[tunnel_group.staff]
policy = "strict"
)");
  EXPECT_EQ(c.node_id, "hel-a");
  EXPECT_EQ(c.listen, "192.0.2.10:8443");
  EXPECT_EQ(c.admin_socket, "/tmp/t.sock");
  EXPECT_EQ(c.state_dir, "/tmp/state");
  EXPECT_EQ(c.log_level, "debug");
  EXPECT_EQ(c.tun_name, "vpn0");
  EXPECT_EQ(c.tls_certificate, "/etc/tandem/cert.pem");
  EXPECT_EQ(c.tls_private_key, "/etc/tandem/key.pem");
  EXPECT_EQ(c.tls_expiry_warning, std::chrono::hours(45 * 24));
  EXPECT_EQ(c.users_file, "/tmp/users");
  EXPECT_EQ(c.pool_ipv4, "10.90.0.0/16");
  EXPECT_EQ(c.dns, (std::vector<std::string>{"192.0.2.53", "192.0.2.54"}));
  EXPECT_EQ(c.routes, (std::vector<std::string>{"10.0.0.0/8", "172.16.0.0/12"}));

  const Policy& def = c.policies.at("default");
  EXPECT_EQ(def.idle_timeout, 10min);
  EXPECT_EQ(def.keepalive, 0ms);
  EXPECT_EQ(def.dpd_interval, defaults::kDpdInterval);
  const Policy& strict = c.policies.at("strict");
  EXPECT_EQ(strict.disconnected_timeout, 6min);
  EXPECT_EQ(strict.mtu, 1300);
  EXPECT_EQ(c.tunnel_groups.at("staff").policy, "strict");
}

TEST(Config, PoliciesAndTunnelGroups) {
  const Config c = parse_ok(R"(
[policy.default]
mtu = 1280
[policy.strict]
idle_timeout = 600
session_timeout = "8h"
dpd_interval = "1500ms"
simultaneous_logins = 0
[tunnel_group.staff]
policy = "strict"
[tunnel_group.guests]
)");
  ASSERT_EQ(c.policies.size(), 2u);
  const Policy& strict = c.policies.at("strict");
  EXPECT_EQ(strict.name, "strict");
  EXPECT_EQ(strict.idle_timeout, 10min);
  EXPECT_EQ(strict.session_timeout, 8h);
  EXPECT_EQ(strict.dpd_interval, 1500ms);
  EXPECT_EQ(strict.simultaneous_logins, 0);
  // Omitted keys come from the built-in defaults, not from [policy.default].
  EXPECT_EQ(strict.mtu, defaults::kMtu);
  EXPECT_EQ(c.policies.at("default").mtu, 1280);

  ASSERT_EQ(c.tunnel_groups.size(), 3u);
  EXPECT_EQ(c.tunnel_groups.at("staff").policy, "strict");
  EXPECT_EQ(c.tunnel_groups.at("guests").policy, "default");
  EXPECT_EQ(c.tunnel_groups.at("default").policy, "default");
}

TEST(Config, DisconnectedTimeoutDefaultsToThePolicysIdleTimeout) {
  const Config c = parse_ok(R"(
[policy.default]
idle_timeout = "45m"
[policy.quick]
idle_timeout = "7m"
[policy.explicit]
idle_timeout = "7m"
disconnected_timeout = "2h"
)");
  EXPECT_EQ(c.policies.at("default").disconnected_timeout, 45min);
  EXPECT_EQ(c.policies.at("quick").disconnected_timeout, 7min);
  EXPECT_EQ(c.policies.at("explicit").disconnected_timeout, 2h);
  EXPECT_EQ(c.policies.at("explicit").idle_timeout, 7min);
}

TEST(Config, UnknownKeysAreErrorsNamingKeyAndFile) {
  EXPECT_THAT(parse_error("[node]\nfoo = 1\n"), HasSubstr("test.toml: unknown key 'node.foo'"));
  EXPECT_THAT(parse_error("[nodes]\nid = \"x\"\n"), HasSubstr("test.toml: unknown key 'nodes'"));
  EXPECT_THAT(parse_error("[policy.default]\nidle = \"5m\"\n"),
              HasSubstr("unknown key 'policy.default.idle'"));
  EXPECT_THAT(parse_error("[tunnel_group.a]\npolicy = \"default\"\ngroup_url = \"x\"\n"),
              HasSubstr("unknown key 'tunnel_group.a.group_url'"));
  EXPECT_THAT(parse_error("[tls]\ncert = \"x\"\n"), HasSubstr("unknown key 'tls.cert'"));
  EXPECT_THAT(parse_error("[pool]\nipv7 = \"x\"\n"), HasSubstr("unknown key 'pool.ipv7'"));
  EXPECT_THAT(parse_error("[auth]\nusers = \"x\"\n"), HasSubstr("unknown key 'auth.users'"));
  EXPECT_THAT(parse_error("listen = \"1.2.3.4:5\"\n"), HasSubstr("unknown key 'listen'"));
}

TEST(Config, EveryErrorIsReportedWithItsLine) {
  const std::string e = parse_error("[node]\nfoo = 1\nlog_level = \"loud\"\n");
  EXPECT_THAT(e, HasSubstr("unknown key 'node.foo' (line 2)"));
  EXPECT_THAT(e, HasSubstr("test.toml: node.log_level: expected one of debug, info, warn, error, "
                           "got \"loud\" (line 3)"));
}

TEST(Config, WrongValuesNameTheKeyAndWhatWasGiven) {
  EXPECT_THAT(parse_error("[node]\nlisten = \"localhost:443\"\n"),
              HasSubstr("test.toml: node.listen: expected \"ip:port\""));
  EXPECT_THAT(parse_error("[node]\nlisten = 443\n"), HasSubstr("got 443"));
  for (const char* bad : {"1.2.3.4", "1.2.3.4:0", "1.2.3.4:65536", "1.2.3.4:", "1.2.3.4:0443",
                          "1.2.3:443", ":443", "::1:443", "[::1]", "1.2.3.4:44a"}) {
    EXPECT_THAT(parse_error(std::string("[node]\nlisten = \"") + bad + "\"\n"),
                HasSubstr("node.listen"))
        << bad;
  }
  EXPECT_TRUE(parse_ok("[node]\nlisten = \"[::]:443\"\n").listen == "[::]:443");  // docs/ipv6.md
  EXPECT_THAT(parse_error("[node]\ntun_name = \"a-very-long-name0\"\n"),
              HasSubstr("node.tun_name"));
  EXPECT_THAT(parse_error("[node]\ntun_name = \"tun 0\"\n"), HasSubstr("node.tun_name"));
  EXPECT_THAT(parse_error("[node]\ntun_name = \"\"\n"), HasSubstr("node.tun_name"));
  EXPECT_FALSE(parse_ok("[node]\ntun_offload = false\n").tun_offload);
  EXPECT_THAT(parse_error("[node]\ntun_offload = 1\n"),
              HasSubstr("node.tun_offload: expected true or false"));
  EXPECT_EQ(parse_ok("[node]\ndata_threads = 4\n").data_threads, 4);
  EXPECT_THAT(parse_error("[node]\ndata_threads = -1\n"),
              HasSubstr("node.data_threads: expected an integer 0..256"));
  EXPECT_THAT(parse_error("[node]\nid = \"\"\n"), HasSubstr("node.id"));
  EXPECT_THAT(parse_error("[node]\nstate_dir = 5\n"), HasSubstr("node.state_dir: expected a path"));
  EXPECT_THAT(parse_error("[node]\nadmin_socket = \"/" + std::string(120, 'x') + "\"\n"),
              HasSubstr("node.admin_socket"));
  EXPECT_THAT(parse_error("node = 3\n"), HasSubstr("node: expected a table, got 3"));
}

TEST(Config, PoolValidation) {
  EXPECT_THAT(parse_error("[pool]\nipv4 = \"10.77.0.1/24\"\n"),
              HasSubstr("pool.ipv4: expected an IPv4 network"));
  EXPECT_THAT(parse_error("[pool]\nipv4 = \"10.77.0.1/24\"\n"), HasSubstr("host bits"));
  EXPECT_THAT(parse_error("[pool]\nipv4 = \"10.0.0.0/7\"\n"), HasSubstr("pool.ipv4"));
  EXPECT_THAT(parse_error("[pool]\nipv4 = \"10.77.0.0/31\"\n"), HasSubstr("pool.ipv4"));
  EXPECT_THAT(parse_ok("[pool]\nipv4 = \"10.77.0.0/30\"\n").pool_ipv4, "10.77.0.0/30");
  EXPECT_THAT(parse_error("[pool]\ndns = \"1.1.1.1\"\n"),
              HasSubstr("pool.dns: expected an array of IPv4 or IPv6 addresses"));
  EXPECT_THAT(parse_error("[pool]\ndns = [\"1.1.1.1\", \"dns.example\"]\n"),
              HasSubstr("pool.dns[1]: expected an IPv4 or IPv6 address, got \"dns.example\""));
  EXPECT_THAT(parse_error("[pool]\ndns = [1]\n"), HasSubstr("pool.dns[0]"));
  EXPECT_THAT(parse_error("[pool]\nroutes = [\"10.0.0.0/8\", \"10.1.0.1/16\"]\n"),
              HasSubstr("pool.routes[1]"));
  EXPECT_TRUE(parse_ok("[pool]\nroutes = []\n").routes.empty());
}

TEST(Config, PolicyValueErrors) {
  EXPECT_THAT(parse_error("[policy.default]\nidle_timeout = \"5 minutes\"\n"),
              HasSubstr("test.toml: policy.default.idle_timeout: expected a duration"));
  EXPECT_THAT(parse_error("[policy.default]\nidle_timeout = \"none\"\n"),
              HasSubstr("policy.default.idle_timeout: expected a duration above zero"));
  EXPECT_THAT(parse_error("[policy.default]\nsession_timeout = -1\n"),
              HasSubstr("policy.default.session_timeout"));
  EXPECT_THAT(parse_error("[policy.default]\ndpd_interval = 1.5\n"),
              HasSubstr("got a floating-point number"));
  EXPECT_THAT(parse_error("[policy.p]\nmtu = 575\n"),
              HasSubstr("policy.p.mtu: expected an integer 576..9000, got 575"));
  EXPECT_THAT(parse_error("[policy.p]\nmtu = \"1400\"\n"), HasSubstr("got \"1400\""));
  EXPECT_THAT(parse_error("[policy.p]\nsimultaneous_logins = 1001\n"),
              HasSubstr("policy.p.simultaneous_logins"));
  EXPECT_THAT(parse_error("policy = 1\n"), HasSubstr("policy: expected a table"));
  EXPECT_THAT(parse_error("[policy]\np = 1\n"), HasSubstr("policy.p: expected a table"));
  EXPECT_THAT(parse_error("[policy.\"a b\"]\n"), HasSubstr("policy.\"a b\": expected a name"));
  const Config zeros = parse_ok("[policy.p]\nsession_timeout = \"none\"\ndpd_interval = \"0\"\n");
  EXPECT_EQ(zeros.policies.at("p").session_timeout, 0ms);
  EXPECT_EQ(zeros.policies.at("p").dpd_interval, 0ms);
}

TEST(Config, TunnelGroupMustNameAnExistingPolicy) {
  const std::string e = parse_error("[policy.strict]\n[tunnel_group.staff]\npolicy = \"strikt\"\n");
  EXPECT_THAT(e, HasSubstr("test.toml: tunnel_group.staff.policy: no policy named \"strikt\""));
  EXPECT_THAT(e, HasSubstr("default, strict"));
  EXPECT_THAT(parse_error("[tunnel_group.default]\npolicy = \"nope\"\n"),
              HasSubstr("tunnel_group.default.policy"));
}

TEST(Config, TlsNeedsBothOrNeither) {
  EXPECT_THAT(parse_error("[tls]\ncertificate = \"/c.pem\"\n"),
              HasSubstr("tls: certificate and private_key must be given together"));
  EXPECT_THAT(parse_error("[tls]\nprivate_key = \"/k.pem\"\n"), HasSubstr("tls: "));
}

TEST(Config, TlsExpiryWarningIsADuration) {
  auto c = parse_config("[tls]\nexpiry_warning = 0\n", "test.toml");
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c->tls_expiry_warning.count(), 0);  // never warn
  EXPECT_TRUE(c->tls_certificate.empty());      // expiry_warning alone keeps the self-signed one
  EXPECT_THAT(parse_error("[tls]\nexpiry_warning = \"30 days\"\n"),
              HasSubstr("tls.expiry_warning"));
}

TEST(Config, SyntaxErrorsGiveLineAndColumn) {
  const std::string e = parse_error("[node]\nid = \"a\"\nlisten = \n");
  EXPECT_THAT(e, HasSubstr("test.toml: line 3, column"));
  EXPECT_THAT(parse_error("[node]\nid = \"a\"\nid = \"b\"\n"), HasSubstr("test.toml: line 3"));
}

// Found by tests/fuzz (config): toml++ quotes the character it stopped at as it is, so a value
// cut short by a newline made the error two lines, the second naming no file.
TEST(Config, SyntaxErrorsStayOnOneLineWhateverTheFileHolds) {
  const std::string e = parse_error("[policy.default]\nidle_timeout = n\nmtu = 1400\n");
  EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  EXPECT_THAT(e, HasSubstr("test.toml: line 2"));
}

// Found by tests/fuzz (config): a value quoted in an error lost half of a character (the byte
// after the digits, or the 80-byte cut), so a valid UTF-8 file gave an error that was not.
TEST(Config, ErrorsAreValidUtf8WhenTheFileIs) {
  const std::string cut = parse_error("[policy.default]\nidle_timeout = \"1h3\xc3\x92\"\n");
  EXPECT_TRUE(text::is_valid_utf8(cut)) << cut;
  EXPECT_THAT(cut, HasSubstr("unexpected \"\xc3\x92\""));
  const std::string value = std::string(79, 'a') + "\xc3\xa9";  // the 80th byte starts a character
  const std::string long_value = parse_error("[node]\nid = \"" + value + "\"\n");
  EXPECT_TRUE(text::is_valid_utf8(long_value)) << long_value;
  EXPECT_THAT(long_value, HasSubstr("\"" + std::string(79, 'a') + "...\""));
}

TEST(Config, LoadConfigNamesAMissingFile) {
  auto c = load_config("/nonexistent/tandem.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.error(), HasSubstr("/nonexistent/tandem.toml"));
}

TEST(Config, LoadConfigReadsAFile) {
  const std::string path =
      ::testing::TempDir() + "tandem_config_test_" + std::to_string(::getpid()) + ".toml";
  std::ofstream(path) << "[node]\nid = \"from-file\"\nfoo = 1\n";
  auto bad = load_config(path);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error(), HasSubstr(path + ": unknown key 'node.foo'"));
  std::ofstream(path) << "[node]\nid = \"from-file\"\n";
  auto good = load_config(path);
  ::unlink(path.c_str());
  ASSERT_TRUE(good.ok()) << good.error();
  EXPECT_EQ(good->node_id, "from-file");
  EXPECT_EQ(good->source, path);
  EXPECT_THAT(good->source, Not(HasSubstr("built-in")));
}

}  // namespace
}  // namespace tandem::config

namespace tandem::config {
namespace {

TEST(Config, PolicyRekeyAndLegacyDtls) {
  auto c = parse_ok("[policy.default]\nrekey_interval = \"8h\"\ndtls_legacy = \"prefer\"\n");
  const auto& p = c.policies.at("default");
  EXPECT_EQ(p.rekey_interval, std::chrono::hours(8));
  EXPECT_EQ(p.dtls_legacy, dtls::LegacyDtls::prefer);
  const auto d = parse_ok("");
  EXPECT_EQ(d.policies.at("default").rekey_interval, Duration{});
  EXPECT_EQ(d.policies.at("default").dtls_legacy, dtls::LegacyDtls::fallback);
  EXPECT_THAT(parse_error("[policy.default]\nrekey_interval = \"5s\"\n"),
              HasSubstr("policy.default.rekey_interval"));
  EXPECT_THAT(parse_error("[policy.default]\ndtls_legacy = \"always\"\n"),
              HasSubstr("\"off\", \"fallback\" or \"prefer\""));
}

}  // namespace
}  // namespace tandem::config
