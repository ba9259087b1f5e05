#include "node/server/session_limit.hpp"

#include <gtest/gtest.h>

namespace tandem::server {
namespace {

TEST(SessionLimit, ConfiguredValueWinsAndZeroMeansNone) {
  EXPECT_EQ(resolve_session_limit(500, std::uint64_t{1} << 30).sessions, 500u);
  EXPECT_EQ(resolve_session_limit(500, std::nullopt).from, "config");
  const auto none = resolve_session_limit(0, std::uint64_t{1} << 30);
  EXPECT_EQ(none.sessions, 0u);
  EXPECT_EQ(none.from, "none");
}

TEST(SessionLimit, FromMemoryIsHalfOfItAt64KiBASession) {
  const auto l = resolve_session_limit(-1, std::uint64_t{8} << 30);  // 8 GiB
  EXPECT_EQ(l.sessions, 65536u);
  EXPECT_EQ(l.from, "memory");
  EXPECT_EQ(resolve_session_limit(-1, 1000).sessions, 1u);  // never 0 (that would mean none)
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

}  // namespace
}  // namespace tandem::server
