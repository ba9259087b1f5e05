#include "node/profile/xml_profile.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include "node/config/config.hpp"
#include "node/profile/manifest.hpp"
#include "node/profile/profile_file.hpp"
#include "temp_dir.hpp"

namespace tandem::profile {
namespace {

constexpr const char* kProfile = R"(<?xml version="1.0" encoding="UTF-8"?>
<AnyConnectProfile xmlns="http://schemas.xmlsoap.org/encoding/"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <ClientInitialization>
    <AutoReconnect UserControllable="false">true
      <AutoReconnectBehavior UserControllable="false">ReconnectAfterResume</AutoReconnectBehavior>
    </AutoReconnect>
  </ClientInitialization>
  <ServerList>
    <HostEntry>
      <HostName>Tandem A</HostName>
      <HostAddress>vpn-a.example.com</HostAddress>
      <BackupServerList>
        <HostAddress>vpn-b.example.com</HostAddress>
      </BackupServerList>
    </HostEntry>
    <HostEntry>
      <HostName> Tandem B </HostName>
      <HostAddress>vpn-b.example.com</HostAddress>
    </HostEntry>
  </ServerList>
</AnyConnectProfile>
)";

TEST(XmlProfile, ListsHostsAndBackups) {
  auto s = check_profile(kProfile);
  ASSERT_TRUE(s) << s.error();
  EXPECT_EQ(s->hosts, (std::vector<std::string>{"Tandem A", "Tandem B"}));
  EXPECT_EQ(s->backup_hosts, std::vector<std::string>{"vpn-b.example.com"});
}

TEST(XmlProfile, RefusesWhatIsNotAProfile) {
  EXPECT_FALSE(check_profile(""));
  EXPECT_FALSE(check_profile("<AnyConnectProfile><ServerList>"));  // not well-formed
  EXPECT_FALSE(check_profile("<Other><ServerList/></Other>"));
  EXPECT_FALSE(check_profile("<AnyConnectProfile/>"));  // no ServerList
  EXPECT_FALSE(check_profile("<AnyConnectProfile><ServerList/></AnyConnectProfile>"));
  auto r = check_profile(
      "<AnyConnectProfile><ServerList><HostEntry><HostAddress>x</HostAddress></HostEntry>"
      "</ServerList></AnyConnectProfile>");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("HostName"), std::string::npos) << r.error();
  // Entity definitions are refused, not expanded.
  r = check_profile("<!DOCTYPE a [<!ENTITY x \"y\">]><AnyConnectProfile/>");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("DTD"), std::string::npos) << r.error();
  std::string big = "<AnyConnectProfile>" + std::string(kMaxProfileBytes, ' ');
  r = check_profile(big);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("limit"), std::string::npos) << r.error();
}

TEST(XmlProfile, Sha1IsUpperCaseHexOfTheExactBytes) {
  EXPECT_EQ(sha1_hex("abc"), "A9993E364706816ABA3E25717850C26C9CD0D89D");
  EXPECT_EQ(sha1_hex(""), "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709");
}

TEST(ProfileManifest, UriAndTargetRoundTrip) {
  EXPECT_EQ(profile_uri("eng"), "/CACHE/stc/profiles/eng.xml");
  EXPECT_EQ(group_of_profile_target("/CACHE/stc/profiles/eng.xml"), "eng");
  EXPECT_EQ(group_of_profile_target("/CACHE/stc/profiles/a-b_c.1.xml"), "a-b_c.1");
  // openconnect 9.01 on a port other than 443 appends ":<port>" to the URI it was given.
  EXPECT_EQ(group_of_profile_target("/CACHE/stc/profiles/eng.xml:4443"), "eng");
  EXPECT_EQ(group_of_profile_target("/CACHE/stc/profiles/eng.xml:443"), "eng");
  EXPECT_EQ(group_of_profile_target("/CACHE/stc/profiles/eng.xml:0"), std::nullopt);
  EXPECT_EQ(group_of_profile_target("/CACHE/stc/profiles/eng.xml:65536"), std::nullopt);
  EXPECT_EQ(group_of_profile_target("/CACHE/stc/profiles/eng.xml:"), std::nullopt);
  EXPECT_EQ(group_of_profile_target("/CACHE/stc/profiles/eng.xml:44a"), std::nullopt);
  EXPECT_EQ(group_of_profile_target("/CACHE/stc/profiles/eng:4443"), std::nullopt);
  EXPECT_TRUE(is_profile_target("/CACHE/stc/profiles/whatever"));
  EXPECT_FALSE(is_profile_target("/profiles/eng.xml"));
}

TEST(ProfileManifest, TargetsThatNameNoGroup) {
  for (const char* t :
       {"/CACHE/stc/profiles/.xml", "/CACHE/stc/profiles/eng", "/CACHE/stc/profiles/../x.xml",
        "/CACHE/stc/profiles/..xml", "/CACHE/stc/profiles/%2e%2e/users.xml",
        "/CACHE/stc/profiles/a/b.xml", "/CACHE/stc/profiles/eng.xml?x=1",
        "/CACHE/stc/profiles/.hidden.xml", "/CACHE/stc/profiles/e ng.xml", "/etc/passwd"}) {
    EXPECT_EQ(group_of_profile_target(t), std::nullopt) << t;
  }
  EXPECT_EQ(group_of_profile_target("/CACHE/stc/profiles/" + std::string(65, 'a') + ".xml"),
            std::nullopt);
}

TEST(ProfileManifest, EscapesWhatItCarries) {
  auto m = build_profile_manifest("/a&b", "AB<");
  EXPECT_NE(m.find("<uri>/a&amp;b</uri>"), std::string::npos) << m;
  EXPECT_NE(m.find("<hash type=\"sha1\">AB&lt;</hash>"), std::string::npos) << m;
}

void write(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

TEST(ProfileFile, LoadsAndHashesTheBytesOnDisk) {
  testing::TempDir dir;
  write(dir.sub("p.xml"), kProfile);
  auto p = load_profile_file(dir.sub("p.xml"));
  ASSERT_TRUE(p) << p.error();
  EXPECT_EQ((*p)->bytes, kProfile);
  EXPECT_EQ((*p)->sha1, sha1_hex(kProfile));
  EXPECT_EQ((*p)->summary.hosts.size(), 2u);
}

TEST(ProfileFile, ErrorsNameTheFile) {
  testing::TempDir dir;
  auto missing = load_profile_file(dir.sub("none.xml"));
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().find(dir.sub("none.xml")), std::string::npos) << missing.error();
  write(dir.sub("bad.xml"), "<AnyConnectProfile>");
  auto bad = load_profile_file(dir.sub("bad.xml"));
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find(dir.sub("bad.xml")), std::string::npos) << bad.error();
  write(dir.sub("big.xml"), std::string(kMaxProfileBytes + 1, ' '));
  auto big = load_profile_file(dir.sub("big.xml"));
  ASSERT_FALSE(big);
  EXPECT_NE(big.error().find("larger"), std::string::npos) << big.error();
}

// load_config reads every group's profile; a bad one refuses the configuration, naming the
// key and the file.
TEST(ProfileFile, LoadConfigReadsProfilesAndRefusesBadOnes) {
  testing::TempDir dir;
  write(dir.sub("p.xml"), kProfile);
  write(dir.sub("bad.xml"), "<AnyConnectProfile><ServerList/></AnyConnectProfile>");
  const std::string head = "[tunnel_group.eng]\nprofile = \"" + dir.sub("p.xml") + "\"\n";
  write(dir.sub("good.toml"), head);
  auto good = config::load_config(dir.sub("good.toml"));
  ASSERT_TRUE(good) << good.error();
  ASSERT_NE(good->tunnel_groups.at("eng").profile, nullptr);
  EXPECT_EQ(good->tunnel_groups.at("eng").profile->sha1, sha1_hex(kProfile));
  EXPECT_EQ(good->tunnel_groups.at("default").profile, nullptr);

  write(dir.sub("bad.toml"),
        head + "[tunnel_group.ops]\nprofile = \"" + dir.sub("bad.xml") + "\"\n");
  auto bad = config::load_config(dir.sub("bad.toml"));
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("tunnel_group.ops.profile"), std::string::npos) << bad.error();
  EXPECT_NE(bad.error().find(dir.sub("bad.xml")), std::string::npos) << bad.error();
  EXPECT_EQ(bad.error().find("tunnel_group.eng"), std::string::npos) << bad.error();
}

TEST(ProfileFile, ParseConfigTakesThePathAndPolicyKeys) {
  auto c = config::parse_config(
      "[policy.p]\nclient_bypass_protocol = true\ndisable_always_on_vpn = true\n"
      "[tunnel_group.eng]\npolicy = \"p\"\nprofile = \"/x/p.xml\"\n",
      "t.toml");
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->tunnel_groups.at("eng").profile_path, "/x/p.xml");
  EXPECT_EQ(c->tunnel_groups.at("eng").profile, nullptr);  // parse_config reads no file
  EXPECT_TRUE(c->policies.at("p").client_bypass_protocol);
  EXPECT_TRUE(c->policies.at("p").disable_always_on_vpn);
  EXPECT_FALSE(c->policies.at("default").client_bypass_protocol);
  EXPECT_FALSE(c->policies.at("default").disable_always_on_vpn);
  auto bad = config::parse_config("[tunnel_group.eng]\nprofile = 3\n", "t.toml");
  EXPECT_FALSE(bad);
  bad = config::parse_config("[tunnel_group.\".x\"]\nprofile = \"/p.xml\"\n", "t.toml");
  EXPECT_FALSE(bad);
}

}  // namespace
}  // namespace tandem::profile
