#pragma once
// The most sessions one node holds ([limits] max_sessions, docs/limits.md "Sessions"). Beyond it a
// login is refused with a reason, so a node never takes more sessions than its memory can carry.
// Resumes of sessions it already holds are never refused by it.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tandem::server {

// What one session may cost when the limit comes from memory: issue 11's ceiling for a session
// with its tunnel (tests/bench/SCALE.md measures about a third of it in tandemd's RSS), which also
// leaves room for the kernel's socket memory, which RSS does not show.
inline constexpr std::uint64_t kSessionMemoryBudget = 64 * 1024;

// The memory this process may use, and where that figure comes from.
struct UsableMemory {
  std::uint64_t bytes = 0;
  std::string from;  // "MemTotal", or "cgroup /path" (the cgroup whose memory.max is lowest)
};

struct SessionLimit {
  std::uint64_t sessions = 0;          // 0: no limit
  std::string from;                    // "config", "memory" or "none"
  std::optional<UsableMemory> memory;  // what "memory" was derived from
};

// `configured`: [limits] max_sessions (-1: from memory, 0: none, else that many). `memory`: what
// this process may use (nullopt: unknown, then no limit). From memory: half of it, at
// kSessionMemoryBudget a session.
SessionLimit resolve_session_limit(int configured, std::optional<UsableMemory> memory);

// MemTotal, or the lowest memory.max of the process's cgroup and the cgroups above it when lower
// (systemd's MemoryMax= on the service or its slice, a container's limit). cgroup v2 only, found
// through /proc/self/mountinfo. Reads /proc and the cgroup files; nullopt when nothing is known.
std::optional<UsableMemory> usable_memory();

// The pure parts of usable_memory(), for tests.
std::optional<std::uint64_t> parse_mem_total(std::string_view meminfo);       // bytes
std::optional<std::string> parse_cgroup2_mount(std::string_view mountinfo);   // mount point
std::optional<std::string> parse_cgroup2_path(std::string_view proc_cgroup);  // "0::/x" -> "/x"
std::optional<std::uint64_t> parse_memory_max(std::string_view memory_max);   // "max" -> nullopt
// "/a/b" -> {"/a/b", "/a"}: the cgroup and those above it, the root (which has no limit) left out.
std::vector<std::string> cgroup_and_ancestors(const std::string& path);

}  // namespace tandem::server
