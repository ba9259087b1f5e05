#include "node/server/session_limit.hpp"

#include <gtest/gtest.h>

namespace tandem::server {
namespace {

UsableMemory gib(std::uint64_t n) { return {n << 30, "MemTotal"}; }

TEST(SessionLimit, ConfiguredValueWinsAndZeroMeansNone) {
  EXPECT_EQ(resolve_session_limit(500, gib(1)).sessions, 500u);
  EXPECT_EQ(resolve_session_limit(500, std::nullopt).from, "config");
  const auto none = resolve_session_limit(0, gib(1));
  EXPECT_EQ(none.sessions, 0u);
  EXPECT_EQ(none.from, "none");
}

TEST(SessionLimit, FromMemoryIsHalfOfItAt64KiBASession) {
  const auto l = resolve_session_limit(-1, gib(8));
  EXPECT_EQ(l.sessions, 65536u);
  EXPECT_EQ(l.from, "memory");
  ASSERT_TRUE(l.memory.has_value());
  EXPECT_EQ(l.memory->from, "MemTotal");
  // Never 0 (that would mean no limit).
  EXPECT_EQ(resolve_session_limit(-1, UsableMemory{1000, "cgroup /x"}).sessions, 1u);
  EXPECT_EQ(resolve_session_limit(-1, std::nullopt).from, "none");
}

TEST(SessionLimit, ParsesMemTotal) {
  EXPECT_EQ(parse_mem_total("MemTotal:       24683784 kB\nMemFree:  1 kB\n"),
            std::uint64_t{24683784} * 1024);
  EXPECT_EQ(parse_mem_total("MemFree: 1 kB\nMemTotal: 2048 kB\n"), std::uint64_t{2048} * 1024);
  EXPECT_EQ(parse_mem_total("XMemTotal: 2048 kB\n"), std::nullopt);
  EXPECT_EQ(parse_mem_total("MemTotal: 2048\n"), std::nullopt);
  EXPECT_EQ(parse_mem_total("MemTotal: lots kB\n"), std::nullopt);
  EXPECT_EQ(parse_mem_total(""), std::nullopt);
}

TEST(SessionLimit, FindsTheCgroup2Mount) {
  const std::string mountinfo =
      "24 29 0:22 / /sys rw,nosuid shared:7 - sysfs sysfs rw\n"
      "31 24 0:27 / /sys/fs/cgroup/memory rw shared:10 - cgroup cgroup rw,memory\n"
      "30 24 0:26 / /sys/fs/cgroup/unified rw,nosuid shared:9 - cgroup2 cgroup2 rw\n";
  EXPECT_EQ(parse_cgroup2_mount(mountinfo), "/sys/fs/cgroup/unified");
  EXPECT_EQ(parse_cgroup2_mount("24 29 0:22 / /sys rw shared:7 - sysfs sysfs rw\n"), std::nullopt);
  EXPECT_EQ(parse_cgroup2_mount("30 24 0:26 / /a\\040b rw - cgroup2 cgroup2 rw\n"), std::nullopt);
}

TEST(SessionLimit, ParsesTheCgroupV2PathAndMemoryMax) {
  EXPECT_EQ(parse_cgroup2_path("0::/system.slice/tandemd.service\n"),
            "/system.slice/tandemd.service");
  EXPECT_EQ(parse_cgroup2_path("12:memory:/x\n0::/\n"), "/");
  EXPECT_EQ(parse_cgroup2_path("12:memory:/x\n"), std::nullopt);  // v1 only: not read
  EXPECT_EQ(parse_cgroup2_path("0::/../../etc\n"), std::nullopt);
  EXPECT_EQ(parse_memory_max("1073741824\n"), std::uint64_t{1073741824});
  EXPECT_EQ(parse_memory_max("max\n"), std::nullopt);
  EXPECT_EQ(parse_memory_max("12ab\n"), std::nullopt);
  EXPECT_EQ(parse_memory_max(""), std::nullopt);
}

TEST(SessionLimit, WalksUpToTheRootWithoutIt) {
  EXPECT_EQ(cgroup_and_ancestors("/system.slice/tandemd.service"),
            (std::vector<std::string>{"/system.slice/tandemd.service", "/system.slice"}));
  EXPECT_EQ(cgroup_and_ancestors("/a/"), (std::vector<std::string>{"/a"}));
  EXPECT_TRUE(cgroup_and_ancestors("/").empty());
}

}  // namespace
}  // namespace tandem::server
