#include "node/config/radius_config.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "node/config/config.hpp"
#include "node/config/restart_only.hpp"
#include "temp_dir.hpp"

namespace tandem::config {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

const char* kRadius = R"(
[radius]
servers = ["192.0.2.10", "192.0.2.11:11812"]
secret_file = "/etc/tandem/radius-secret"
)";

TEST(RadiusConfig, Defaults) {
  auto c = parse_config(kRadius, "t.toml");
  ASSERT_TRUE(c.ok()) << c.error();
  const RadiusSettings& r = c->radius;
  EXPECT_TRUE(r.enabled);
  ASSERT_EQ(r.servers.size(), 2u);
  EXPECT_EQ(r.servers[0].text(), "192.0.2.10:1812");
  EXPECT_EQ(r.servers[1].text(), "192.0.2.11:11812");
  ASSERT_EQ(r.accounting_servers.size(), 2u);
  EXPECT_EQ(r.accounting_servers[0].text(), "192.0.2.10:1813");
  EXPECT_EQ(r.accounting_servers[1].text(), "192.0.2.11:1813");
  EXPECT_EQ(r.timeout, 3s);
  EXPECT_EQ(r.retries, 2);
  EXPECT_EQ(r.dead_time, 60s);
  EXPECT_EQ(r.nas_identifier, c->node_id);
  EXPECT_EQ(r.interim_interval, 300s);
  EXPECT_FALSE(r.require_message_authenticator);
  EXPECT_TRUE(r.secret.empty());  // parse_config does not read files
  EXPECT_EQ(radius_worst_case(r), 18s);
  EXPECT_EQ(c->tunnel_groups.at("default").auth, GroupAuth::users);
}

TEST(RadiusConfig, AbsentMeansOff) {
  auto c = parse_config("", "t.toml");
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->radius.enabled);
}

TEST(RadiusConfig, EverythingSet) {
  auto c = parse_config(R"(
[node]
id = "n1"
[policy.staff]
[policy.guests]
[radius]
servers = ["10.0.0.1:1812"]
accounting_servers = ["10.0.0.2:1646"]
secret_file = "/s"
timeout = "2s"
retries = 0
dead_time = "0s"
nas_identifier = "vpn-east"
interim_interval = "10m"
require_message_authenticator = true
[radius.class_policy]
staff = "staff"
"guest users" = "guests"
[tunnel_group.corp]
auth = "radius"
policy = "guests"
)",
                        "t.toml");
  ASSERT_TRUE(c.ok()) << c.error();
  const RadiusSettings& r = c->radius;
  EXPECT_EQ(r.accounting_servers.at(0).text(), "10.0.0.2:1646");
  EXPECT_EQ(r.timeout, 2s);
  EXPECT_EQ(r.retries, 0);
  EXPECT_EQ(r.dead_time, 0s);
  EXPECT_EQ(r.nas_identifier, "vpn-east");
  EXPECT_EQ(r.interim_interval, 10min);
  EXPECT_TRUE(r.require_message_authenticator);
  EXPECT_EQ(r.class_policy.at("staff"), "staff");
  EXPECT_EQ(r.class_policy.at("guest users"), "guests");
  EXPECT_EQ(c->tunnel_groups.at("corp").auth, GroupAuth::radius);
  EXPECT_EQ(radius_worst_case(r), 2s);
}

TEST(RadiusConfig, EveryErrorReported) {
  auto c = parse_config(R"(
[radius]
servers = ["10.0.0.300", "10.0.0.1:0", "10.0.0.1:99999"]
timeout = "1500ms"
retries = 11
dead_time = "2h"
interim_interval = "500ms"
require_message_authenticator = "yes"
colour = "blue"
[radius.class_policy]
staff = "nope"
[tunnel_group.corp]
auth = "ldap"
)",
                        "t.toml");
  ASSERT_FALSE(c.ok());
  const std::string& e = c.error();
  EXPECT_THAT(e, HasSubstr("radius.servers[0]"));
  EXPECT_THAT(e, HasSubstr("radius.servers[1]"));
  EXPECT_THAT(e, HasSubstr("radius.servers[2]"));
  EXPECT_THAT(e, HasSubstr("radius.secret_file: is required"));
  EXPECT_THAT(e, HasSubstr("radius.timeout: whole seconds"));
  EXPECT_THAT(e, HasSubstr("radius.retries"));
  EXPECT_THAT(e, HasSubstr("radius.dead_time: 0 (off) or whole seconds up to 3600s"));
  EXPECT_THAT(e, HasSubstr("radius.interim_interval"));
  EXPECT_THAT(e, HasSubstr("radius.require_message_authenticator"));
  EXPECT_THAT(e, HasSubstr("unknown key 'radius.colour'"));
  EXPECT_THAT(e, HasSubstr("no policy named \"nope\""));
  EXPECT_THAT(e, HasSubstr("tunnel_group.corp.auth: expected \"users\" or \"radius\""));
}

TEST(RadiusConfig, RadiusGroupNeedsRadiusTable) {
  auto c = parse_config("[tunnel_group.corp]\nauth = \"radius\"\n", "t.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.error(), HasSubstr("tunnel_group.corp.auth: needs a [radius] table"));
}

TEST(RadiusConfig, WorstCaseMustFitLoginDeadline) {
  auto c = parse_config(R"(
[limits]
login_deadline = "60s"
[radius]
servers = ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
secret_file = "/s"
timeout = "10s"
retries = 1
)",
                        "t.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.error(), HasSubstr("= 60s must be below limits.login_deadline"));
}

TEST(RadiusConfig, ServerText) {
  EXPECT_EQ(parse_radius_server("127.0.0.1", 1812).value().text(), "127.0.0.1:1812");
  EXPECT_EQ(parse_radius_server("127.0.0.1:1", 1812).value().port, 1);
  EXPECT_FALSE(parse_radius_server("localhost:1812", 1812).ok());
  EXPECT_FALSE(parse_radius_server("127.0.0.1:", 1812).ok());
  EXPECT_FALSE(parse_radius_server("127.0.0.1:01812", 1812).ok());
  EXPECT_FALSE(parse_radius_server("127.0.0.1:18x2", 1812).ok());
}

TEST(RadiusConfig, SecretShape) {
  EXPECT_EQ(check_radius_secret("s3cr:t!"), "");
  EXPECT_NE(check_radius_secret(""), "");
  EXPECT_NE(check_radius_secret("a b"), "");
  EXPECT_NE(check_radius_secret("a,b"), "");
  EXPECT_NE(check_radius_secret(std::string(129, 'a')), "");
}

void write(const std::string& path, const std::string& text, mode_t mode) {
  std::ofstream(path) << text;
  ::chmod(path.c_str(), mode);
}

TEST(RadiusConfig, SecretFile) {
  testing::TempDir dir;
  write(dir.sub("ok"), "t0p-secret\n", 0600);
  write(dir.sub("crlf"), "t0p-secret\r\n", 0640);
  write(dir.sub("empty"), "\n", 0600);
  write(dir.sub("world"), "t0p-secret\n", 0644);
  write(dir.sub("space"), "t0p secret\n", 0600);
  EXPECT_EQ(read_radius_secret(dir.sub("ok")).value(), "t0p-secret");
  EXPECT_EQ(read_radius_secret(dir.sub("crlf")).value(), "t0p-secret");
  EXPECT_THAT(read_radius_secret(dir.sub("empty")).error(), HasSubstr("empty"));
  EXPECT_THAT(read_radius_secret(dir.sub("world")).error(), HasSubstr("readable by every user"));
  auto spaced = read_radius_secret(dir.sub("space"));
  ASSERT_FALSE(spaced.ok());
  EXPECT_THAT(spaced.error(), Not(HasSubstr("t0p")));  // the secret is never in a message
  EXPECT_FALSE(read_radius_secret(dir.sub("missing")).ok());
}

TEST(RadiusConfig, LoadReadsTheSecret) {
  testing::TempDir dir;
  write(dir.sub("secret"), "abc123\n", 0600);
  write(dir.sub("t.toml"),
        "[radius]\nservers = [\"127.0.0.1\"]\nsecret_file = \"" + dir.sub("secret") + "\"\n", 0600);
  auto c = load_config(dir.sub("t.toml"));
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c->radius.secret, "abc123");
  ::chmod(dir.sub("secret").c_str(), 0604);
  auto bad = load_config(dir.sub("t.toml"));
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error(), HasSubstr("radius.secret_file: "));
}

// The client is made once; only the Class mapping follows a reload.
TEST(RadiusConfig, ReloadKeepsTheClientButTakesTheMapping) {
  auto running =
      parse_config(std::string(kRadius) + "[radius.class_policy]\na = \"default\"\n", "t.toml")
          .value();
  auto next = parse_config(R"(
[policy.p2]
[radius]
servers = ["192.0.2.99"]
secret_file = "/other"
[radius.class_policy]
b = "p2"
)",
                           "t.toml")
                  .value();
  const auto kept = keep_restart_only(running, next);
  EXPECT_THAT(kept, ::testing::Contains("radius"));
  EXPECT_EQ(next.radius.servers, running.radius.servers);
  EXPECT_EQ(next.radius.secret_file, running.radius.secret_file);
  EXPECT_EQ(next.radius.class_policy.count("a"), 0u);
  EXPECT_EQ(next.radius.class_policy.at("b"), "p2");
}

}  // namespace
}  // namespace tandem::config
