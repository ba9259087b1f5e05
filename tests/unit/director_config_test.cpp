#include "director/director_config.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace tandem::director {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

const std::string kMinimal =
    "[tls]\ncertificate = \"/etc/tandem/c.pem\"\nprivate_key = \"/etc/tandem/k.pem\"\n"
    "[arbiter]\nendpoints = [\"http://127.0.0.1:2379\"]\n";

TEST(DirectorConfig, MinimalAndFull) {
  auto c = parse_director_config(kMinimal, "d.toml");
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c->listen, "0.0.0.0:443");
  EXPECT_EQ(c->silent_after, 15s);
  EXPECT_EQ(c->endpoints.size(), 1u);

  c = parse_director_config(
      "[director]\nlisten = \"10.0.0.1:8443\"\nmetrics_listen = \"127.0.0.1:9101\"\n"
      "silent_after = \"30s\"\n" +
          kMinimal.substr(0, kMinimal.find("[arbiter]")) +
          "expiry_warning = \"7d\"\n[arbiter]\nendpoints = [\"https://e1:2379\", "
          "\"https://e2:2379\"]\nca = \"/ca.pem\"\ncertificate = \"/c.pem\"\n"
          "private_key = \"/k.pem\"\n[log]\nlevel = \"debug\"\n",
      "d.toml");
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c->listen, "10.0.0.1:8443");
  EXPECT_EQ(c->metrics_listen, "127.0.0.1:9101");
  EXPECT_EQ(c->silent_after, 30s);
  EXPECT_EQ(c->tls_expiry_warning, 7 * 24h);
  EXPECT_EQ(c->endpoints.size(), 2u);
  EXPECT_EQ(c->arbiter_ca, "/ca.pem");
  EXPECT_EQ(c->log_level, "debug");
}

TEST(DirectorConfig, UnknownKeysAreErrorsWithFileAndLine) {
  auto c = parse_director_config(kMinimal + "typo = 1\n[director]\nlisten_on = \"x\"\n", "d.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.error(), HasSubstr("d.toml: unknown key 'arbiter.typo' (line 6)"));
  EXPECT_THAT(c.error(), HasSubstr("d.toml: unknown key 'director.listen_on' (line 8)"));
}

TEST(DirectorConfig, EveryProblemAtOnce) {
  auto c = parse_director_config(
      "[director]\nlisten = \"nowhere\"\nsilent_after = \"0\"\n[arbiter]\n"
      "endpoints = [\"etcd:2379\", \"https://e:2379\"]\ncertificate = \"/c.pem\"\n"
      "[log]\nlevel = \"loud\"\n",
      "d.toml");
  ASSERT_FALSE(c.ok());
  const std::string& e = c.error();
  EXPECT_THAT(e, HasSubstr("director.listen: expected \"ip:port\""));
  EXPECT_THAT(e, HasSubstr("director.silent_after: expected a duration above zero"));
  EXPECT_THAT(e, HasSubstr("tls: certificate and private_key are required"));
  EXPECT_THAT(e, HasSubstr("arbiter.endpoints[0]"));
  EXPECT_THAT(e, HasSubstr("arbiter: certificate and private_key must be given together"));
  EXPECT_THAT(e, HasSubstr("arbiter.ca: required with https endpoints"));
  EXPECT_THAT(e, HasSubstr("log.level"));
}

TEST(DirectorConfig, EndpointsRequiredAndTomlErrorsOnOneLine) {
  auto c = parse_director_config(kMinimal.substr(0, kMinimal.find("[arbiter]")), "d.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.error(), HasSubstr("arbiter.endpoints: required"));
  c = parse_director_config("[director\n", "d.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.error(), HasSubstr("d.toml: line 1"));
  EXPECT_EQ(c.error().find('\n'), std::string::npos);
}

}  // namespace
}  // namespace tandem::director
