#pragma once
// The most sessions one node holds ([limits] max_sessions, docs/limits.md "Sessions"). Beyond it a
// login is refused with a reason, so a node never takes more sessions than its memory can carry.
// Resumes of sessions it already holds are never refused by it.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tandem::server {

// What one session may cost when the limit comes from memory: issue 11's ceiling for a session
// with its tunnel (tests/bench/SCALE.md measures about a third of it in tandemd's RSS), which also
// leaves room for the kernel's socket memory, which RSS does not show.
inline constexpr std::uint64_t kSessionMemoryBudget = 64 * 1024;

struct SessionLimit {
  std::uint64_t sessions = 0;  // 0: no limit
  std::string from;            // "config", "memory" or "none"
};

// `configured`: [limits] max_sessions (-1: from memory, 0: none, else that many). `memory`: the
// bytes this process may use (nullopt: unknown, then no limit). From memory: half of it, at
// kSessionMemoryBudget a session.
SessionLimit resolve_session_limit(int configured, std::optional<std::uint64_t> memory);

// The machine's memory (MemTotal), or the process's cgroup's memory.max when lower (systemd's
// MemoryMax=, a container's limit). Reads /proc and /sys; nullopt when neither can be read.
std::optional<std::uint64_t> usable_memory();

// The pure parts of usable_memory(), for tests.
std::optional<std::uint64_t> parse_mem_total(std::string_view meminfo);      // bytes
std::optional<std::string> parse_cgroup2_path(std::string_view proc_cgroup);  // "0::/x" -> "/x"
std::optional<std::uint64_t> parse_memory_max(std::string_view memory_max);  // "max" -> nullopt

}  // namespace tandem::server
