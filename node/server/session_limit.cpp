#include "node/server/session_limit.hpp"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>

namespace tandem::server {

namespace {

std::optional<std::uint64_t> parse_number(std::string_view s) {
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end == s.data()) return std::nullopt;
  return v;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> lines_of(std::string_view text) {
  std::vector<std::string> out;
  std::istringstream in{std::string(text)};
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

}  // namespace

SessionLimit resolve_session_limit(int configured, std::optional<UsableMemory> memory) {
  if (configured > 0) return {static_cast<std::uint64_t>(configured), "config", std::nullopt};
  if (configured == 0 || !memory) return {0, "none", std::nullopt};
  const std::uint64_t sessions =
      std::max<std::uint64_t>(1, memory->bytes / 2 / kSessionMemoryBudget);
  return {sessions, "memory", std::move(memory)};
}

std::optional<std::uint64_t> parse_mem_total(std::string_view meminfo) {
  for (const std::string& line : lines_of(meminfo)) {
    std::string_view rest(line);
    if (!rest.starts_with("MemTotal:")) continue;
    rest.remove_prefix(9);
    rest.remove_prefix(std::min(rest.find_first_not_of(' '), rest.size()));
    const std::size_t digits = std::min(rest.find_first_not_of("0123456789"), rest.size());
    const auto kb = parse_number(rest.substr(0, digits));
    if (!kb || rest.substr(digits) != " kB") return std::nullopt;
    return *kb * 1024;
  }
  return std::nullopt;
}

std::optional<std::string> parse_cgroup2_mount(std::string_view mountinfo) {
  // "36 25 0:30 / /sys/fs/cgroup rw,... shared:9 - cgroup2 cgroup2 rw,...": the mount point is
  // the fifth field, the filesystem type the first after " - ".
  for (const std::string& line : lines_of(mountinfo)) {
    const auto dash = line.find(" - ");
    if (dash == std::string::npos || line.compare(dash + 3, 8, "cgroup2 ") != 0) continue;
    std::istringstream fields(line.substr(0, dash));
    std::string f, mount_point;
    for (int i = 0; i < 5 && fields >> f; ++i) mount_point = f;
    // Escaped characters (\040 for a space) are not worth decoding: such a mount is skipped.
    if (mount_point.starts_with('/') && mount_point.find('\\') == std::string::npos)
      return mount_point;
  }
  return std::nullopt;
}

std::optional<std::string> parse_cgroup2_path(std::string_view proc_cgroup) {
  // cgroup v2 has one line, "0::/path"; v1 lines name their controllers and are not read here.
  for (const std::string& line : lines_of(proc_cgroup)) {
    if (line.rfind("0::/", 0) == 0 && line.find("..") == std::string::npos) return line.substr(3);
  }
  return std::nullopt;
}

std::optional<std::uint64_t> parse_memory_max(std::string_view memory_max) {
  while (!memory_max.empty() && (memory_max.back() == '\n' || memory_max.back() == ' '))
    memory_max.remove_suffix(1);
  if (memory_max.empty() || memory_max == "max") return std::nullopt;
  const auto v = parse_number(memory_max);
  if (!v || std::to_string(*v).size() != memory_max.size()) return std::nullopt;
  return v;
}

std::vector<std::string> cgroup_and_ancestors(const std::string& path) {
  std::vector<std::string> out;
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  while (p.size() > 1) {
    out.push_back(p);
    p.resize(p.rfind('/'));
  }
  return out;
}

std::optional<UsableMemory> usable_memory() {
  std::optional<UsableMemory> memory;
  if (auto total = parse_mem_total(read_file("/proc/meminfo")))
    memory = UsableMemory{*total, "MemTotal"};
  const auto mount = parse_cgroup2_mount(read_file("/proc/self/mountinfo"));
  const auto path = parse_cgroup2_path(read_file("/proc/self/cgroup"));
  if (!mount || !path) return memory;
  for (const std::string& cgroup : cgroup_and_ancestors(*path)) {
    const auto max = parse_memory_max(read_file(*mount + cgroup + "/memory.max"));
    if (max && (!memory || *max < memory->bytes)) memory = UsableMemory{*max, "cgroup " + cgroup};
  }
  return memory;
}

}  // namespace tandem::server
