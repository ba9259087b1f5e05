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

}  // namespace

SessionLimit resolve_session_limit(int configured, std::optional<std::uint64_t> memory) {
  if (configured > 0) return {static_cast<std::uint64_t>(configured), "config"};
  if (configured == 0 || !memory) return {0, "none"};
  return {std::max<std::uint64_t>(1, *memory / 2 / kSessionMemoryBudget), "memory"};
}

std::optional<std::uint64_t> parse_mem_total(std::string_view meminfo) {
  constexpr std::string_view kKey = "MemTotal:";
  const auto at = meminfo.find(kKey);
  if (at == std::string_view::npos || (at > 0 && meminfo[at - 1] != '\n')) return std::nullopt;
  std::string_view rest = meminfo.substr(at + kKey.size());
  rest.remove_prefix(std::min(rest.find_first_not_of(' '), rest.size()));
  const std::size_t digits = std::min(rest.find_first_not_of("0123456789"), rest.size());
  const auto kb = parse_number(rest.substr(0, digits));
  if (!kb || rest.substr(digits).rfind(" kB", 0) != 0) return std::nullopt;
  return *kb * 1024;
}

std::optional<std::string> parse_cgroup2_path(std::string_view proc_cgroup) {
  // cgroup v2 has one line, "0::/path"; v1 lines name their controllers and are not read here.
  std::istringstream lines{std::string(proc_cgroup)};
  for (std::string line; std::getline(lines, line);) {
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

std::optional<std::uint64_t> usable_memory() {
  std::optional<std::uint64_t> memory = parse_mem_total(read_file("/proc/meminfo"));
  if (auto path = parse_cgroup2_path(read_file("/proc/self/cgroup"))) {
    const std::string dir = *path == "/" ? "" : *path;
    if (auto max = parse_memory_max(read_file("/sys/fs/cgroup" + dir + "/memory.max")))
      memory = memory ? std::min(*memory, *max) : *max;
  }
  return memory;
}

}  // namespace tandem::server
