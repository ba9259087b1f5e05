#include "base/log.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

#include "base/text.hpp"

namespace tandem::log {
namespace {

std::atomic<Level> g_level{Level::info};
std::mutex g_write_mutex;

const char* level_name(Level l) {
  switch (l) {
    case Level::debug:
      return "debug";
    case Level::info:
      return "info";
    case Level::warn:
      return "warn";
    case Level::error:
      return "error";
  }
  return "?";
}

// Values may carry client bytes: a log line stays valid UTF-8 and bounded whatever they hold.
constexpr std::size_t kMaxValueBytes = 1024;

void append_value(std::string& out, std::string_view raw) {
  std::string cleaned;
  std::string_view v = raw;
  if (raw.size() > kMaxValueBytes || !text::is_valid_utf8(raw)) {
    cleaned = text::sanitize(raw, kMaxValueBytes);
    v = cleaned;
  }
  bool needs_quotes = v.empty();
  for (char c : v) {
    if (c == ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) < 0x20) {
      needs_quotes = true;
      break;
    }
  }
  if (!needs_quotes) {
    out.append(v);
    return;
  }
  out.push_back('"');
  for (char c : v) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned char>(c));
      out.append(buf);
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
}

}  // namespace

void set_level(Level l) { g_level.store(l); }
Level level() { return g_level.load(); }

bool parse_level(std::string_view text, Level& out) {
  if (text == "debug")
    out = Level::debug;
  else if (text == "info")
    out = Level::info;
  else if (text == "warn" || text == "warning")
    out = Level::warn;
  else if (text == "error")
    out = Level::error;
  else
    return false;
  return true;
}

void event(Level l, std::string_view name, std::initializer_list<Field> fields) {
  if (l < g_level.load()) return;
  auto now = std::chrono::system_clock::now();
  auto secs = std::chrono::system_clock::to_time_t(now);
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char ts[64];
  std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  std::string line;
  line.reserve(160);
  line.append(ts).append(" ").append(level_name(l)).append(" ").append(name);
  for (const auto& [k, v] : fields) {
    line.push_back(' ');
    line.append(k).push_back('=');
    append_value(line, v);
  }
  line.push_back('\n');
  std::lock_guard lock(g_write_mutex);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace tandem::log
