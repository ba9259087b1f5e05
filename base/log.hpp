#pragma once
// Structured logging: one line per event, `ts level event key=value ...`, to stderr.
// Values with spaces or quotes are quoted, so lines stay machine-parseable.
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace tandem::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3 };

using Field = std::pair<std::string_view, std::string>;

void set_level(Level level);
Level level();
bool parse_level(std::string_view text, Level& out);

void event(Level level, std::string_view name, std::initializer_list<Field> fields = {});

inline void debug(std::string_view name, std::initializer_list<Field> f = {}) {
  event(Level::debug, name, f);
}
inline void info(std::string_view name, std::initializer_list<Field> f = {}) {
  event(Level::info, name, f);
}
inline void warn(std::string_view name, std::initializer_list<Field> f = {}) {
  event(Level::warn, name, f);
}
inline void error(std::string_view name, std::initializer_list<Field> f = {}) {
  event(Level::error, name, f);
}

}  // namespace tandem::log
