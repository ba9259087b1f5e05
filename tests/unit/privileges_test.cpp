#include "node/process/privileges.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <linux/capability.h>

#include <string>

#include "node/config/config.hpp"

namespace tandem::process {
namespace {

using ::testing::HasSubstr;

// /proc/<pid>/status of tandemd after the drop (uid and gid 998), as Linux 6.1 prints it.
constexpr const char* kDropped =
    "Name:\ttandemd\n"
    "Umask:\t0077\n"
    "State:\tS (sleeping)\n"
    "Tgid:\t4242\n"
    "Uid:\t998\t998\t998\t998\n"
    "Gid:\t997\t997\t997\t997\n"
    "FDSize:\t64\n"
    "Groups:\t\n"
    "Threads:\t1\n"
    "CapInh:\t0000000000000000\n"
    "CapPrm:\t0000000000003000\n"
    "CapEff:\t0000000000003000\n"
    "CapBnd:\t0000000000003000\n"
    "CapAmb:\t0000000000000000\n"
    "NoNewPrivs:\t1\n"
    "Seccomp:\t0\n";

ProcessStatus status_of(const std::string& text) {
  auto s = parse_process_status(text);
  EXPECT_TRUE(s.ok()) << s.error();
  return s.ok() ? *s : ProcessStatus{};
}

std::string replace(std::string text, const std::string& from, const std::string& to) {
  auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

TEST(Capabilities, TheDaemonKeepsNetAdminAndNetRaw) {
  EXPECT_EQ(daemon_capabilities(), capability_bit(CAP_NET_ADMIN) | capability_bit(CAP_NET_RAW));
  EXPECT_EQ(daemon_capabilities(), 0x3000u);  // as /proc shows it
  EXPECT_EQ(keeper_capabilities(), capability_bit(CAP_NET_ADMIN));
}

TEST(Capabilities, FormatsNamesInBitOrder) {
  EXPECT_EQ(format_capabilities(0), "none");
  EXPECT_EQ(format_capabilities(daemon_capabilities()), "cap_net_admin,cap_net_raw");
  EXPECT_EQ(format_capabilities(capability_bit(CAP_CHOWN) | capability_bit(CAP_SETUID)),
            "cap_chown,cap_setuid");
  // A bit the library has no name for is shown by number rather than dropped.
  EXPECT_EQ(format_capabilities(capability_bit(63)), "63");
}

TEST(ProcessStatus, ParsesTheLinesThatMatter) {
  ProcessStatus s = status_of(kDropped);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(s.uid[i], 998u);
    EXPECT_EQ(s.gid[i], 997u);
  }
  EXPECT_TRUE(s.groups.empty());
  EXPECT_EQ(s.threads, 1);
  EXPECT_EQ(s.permitted, 0x3000u);
  EXPECT_EQ(s.effective, 0x3000u);
  EXPECT_EQ(s.bounding, 0x3000u);
  EXPECT_EQ(s.inheritable, 0u);
  EXPECT_EQ(s.ambient, 0u);
  EXPECT_EQ(s.no_new_privs, 1);

  ProcessStatus root =
      status_of(replace(replace(replace(kDropped, "Uid:\t998\t998\t998\t998", "Uid:\t0\t0\t0\t0"),
                                "Groups:\t\n", "Groups:\t0 4 27 \n"),
                        "CapBnd:\t0000000000003000", "CapBnd:\t000001ffffffffff"));
  EXPECT_EQ(root.uid[1], 0u);
  EXPECT_EQ(root.groups, (std::vector<gid_t>{0, 4, 27}));
  EXPECT_EQ(root.bounding, 0x1ffffffffffu);
}

TEST(ProcessStatus, RefusesWhatItCannotRead) {
  EXPECT_FALSE(parse_process_status("").ok());
  EXPECT_FALSE(parse_process_status("Name:\ttandemd\n").ok());
  EXPECT_FALSE(parse_process_status(replace(kDropped, "CapEff:\t0000000000003000\n", "")).ok());
  EXPECT_FALSE(parse_process_status(replace(kDropped, "NoNewPrivs:\t1\n", "")).ok());
  EXPECT_FALSE(
      parse_process_status(replace(kDropped, "CapEff:\t0000000000003000", "CapEff:\tzz")).ok());
  EXPECT_FALSE(
      parse_process_status(replace(kDropped, "Uid:\t998\t998\t998\t998", "Uid:\t998\t998")).ok());
}

TEST(CheckDropped, AcceptsExactlyTheTargetState) {
  EXPECT_TRUE(check_dropped(status_of(kDropped), 998, 997, daemon_capabilities()).ok());
}

TEST(CheckDropped, NamesTheFirstDifference) {
  const auto keep = daemon_capabilities();
  auto why = [&](const std::string& text, uid_t uid = 998, gid_t gid = 997) {
    auto r = check_dropped(status_of(text), uid, gid, keep);
    EXPECT_FALSE(r.ok()) << text;
    return r.ok() ? std::string() : r.error();
  };
  // A saved uid of 0 would let the process take root back.
  EXPECT_THAT(why(replace(kDropped, "Uid:\t998\t998\t998\t998", "Uid:\t998\t998\t0\t998")),
              HasSubstr("saved uid is 0"));
  EXPECT_THAT(why(kDropped, 999), HasSubstr("real uid is 998, not 999"));
  EXPECT_THAT(why(replace(kDropped, "Gid:\t997\t997\t997\t997", "Gid:\t0\t997\t997\t997")),
              HasSubstr("real gid is 0"));
  EXPECT_THAT(why(replace(kDropped, "Groups:\t\n", "Groups:\t0\n")),
              HasSubstr("supplementary groups"));
  EXPECT_THAT(why(replace(kDropped, "CapEff:\t0000000000003000", "CapEff:\t0000000000003400")),
              HasSubstr("effective capabilities are cap_net_bind_service,cap_net_admin,cap_net_raw"
                        ", not cap_net_admin,cap_net_raw"));
  EXPECT_THAT(why(replace(kDropped, "CapEff:\t0000000000003000", "CapEff:\t0000000000001000")),
              HasSubstr("effective capabilities are cap_net_admin, not"));
  EXPECT_THAT(why(replace(kDropped, "CapPrm:\t0000000000003000", "CapPrm:\t00000000000030c0")),
              HasSubstr("permitted capabilities are cap_setgid,cap_setuid,"));
  EXPECT_THAT(why(replace(kDropped, "CapBnd:\t0000000000003000", "CapBnd:\t000001ffffffffff")),
              HasSubstr("bounding capabilities"));
  EXPECT_THAT(why(replace(kDropped, "CapInh:\t0000000000000000", "CapInh:\t0000000000001000")),
              HasSubstr("inheritable capabilities are cap_net_admin, not none"));
  EXPECT_THAT(why(replace(kDropped, "CapAmb:\t0000000000000000", "CapAmb:\t0000000000001000")),
              HasSubstr("ambient capabilities"));
  EXPECT_THAT(why(replace(kDropped, "NoNewPrivs:\t1", "NoNewPrivs:\t0")),
              HasSubstr("no_new_privs"));
}

TEST(ResolveIdentity, RefusesRootAndUnknownNames) {
  auto root = resolve_identity("root", "");
  ASSERT_FALSE(root.ok());
  EXPECT_THAT(root.error(), HasSubstr("is root"));
  auto missing = resolve_identity("tandem-no-such-user-x", "");
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.error(), HasSubstr("does not exist"));
  auto nobody = resolve_identity("nobody", "tandem-no-such-group-x");
  ASSERT_FALSE(nobody.ok());
  EXPECT_THAT(nobody.error(), HasSubstr("group 'tandem-no-such-group-x' does not exist"));
}

TEST(ResolveIdentity, LooksUpAUserAndItsPrimaryGroup) {
  auto nobody = resolve_identity("nobody", "");  // Debian: uid 65534, group nogroup
  ASSERT_TRUE(nobody.ok()) << nobody.error();
  EXPECT_EQ(nobody->uid, 65534u);
  EXPECT_EQ(nobody->gid, 65534u);
  EXPECT_EQ(nobody->group, "nogroup");
}

}  // namespace
}  // namespace tandem::process

namespace tandem::config {
namespace {

using ::testing::HasSubstr;

TEST(ConfigProcess, DefaultsToNoUser) {
  auto c = parse_config("", "test.toml");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->run_as_user, "");
  EXPECT_EQ(c->run_as_group, "");
}

TEST(ConfigProcess, ReadsUserAndGroup) {
  auto c = parse_config("[process]\nuser = \"tandem\"\ngroup = \"tandem-ops\"\n", "test.toml");
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c->run_as_user, "tandem");
  EXPECT_EQ(c->run_as_group, "tandem-ops");
}

TEST(ConfigProcess, RefusesBadValues) {
  auto error = [](const std::string& text) {
    auto c = parse_config(text, "test.toml");
    EXPECT_FALSE(c.ok()) << text;
    return c.ok() ? std::string() : c.error();
  };
  EXPECT_THAT(error("[process]\nuser = \"-x\"\n"), HasSubstr("process.user: expected a user"));
  EXPECT_THAT(error("[process]\nuser = \"a b\"\n"), HasSubstr("process.user"));
  EXPECT_THAT(error("[process]\nuser = 5\n"), HasSubstr("process.user"));
  EXPECT_THAT(error("[process]\nuser = \"1abc\"\n"), HasSubstr("process.user"));
  EXPECT_THAT(error("[process]\nuser = \"tandem\"\nshell = \"x\"\n"),
              HasSubstr("unknown key 'process.shell'"));
  EXPECT_THAT(error("[process]\ngroup = \"tandem\"\n"),
              HasSubstr("process.group: needs process.user"));
  // The replication server binds after the drop, without CAP_NET_BIND_SERVICE.
  const std::string peer =
      "[node]\nid = \"a\"\n[peer]\nnode_id = \"b\"\nlisten = \"10.0.0.1:843\"\n"
      "address = \"10.0.0.2:8443\"\nca = \"/ca\"\ncertificate = \"/c\"\nprivate_key = \"/k\"\n";
  EXPECT_THAT(error(peer + "[process]\nuser = \"tandem\"\n"),
              HasSubstr("peer.listen: must be a port from 1024 up"));
  EXPECT_TRUE(parse_config(peer, "test.toml").ok());  // as root, a low port is fine
}

}  // namespace
}  // namespace tandem::config
