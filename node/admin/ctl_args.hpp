#pragma once
// tandemctl's argument parsing for the commands that choose sessions (`show sessions`,
// `logoff`). Pure, so every refusal (an index that is not a number, an unknown protocol, a
// logoff that names no session) is unit-tested; the command line only prints and exits.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "proto/admin.pb.h"

namespace tandem::admin {

using CtlArgs = std::vector<std::string_view>;

// Accepts "--name VALUE" and "--name=VALUE"; advances `i` past what it used. nullopt when
// args[i] is not this option; a missing value is reported through `missing`.
std::optional<std::string> take_option(const CtlArgs& args, std::size_t& i, std::string_view name,
                                       bool& missing);

// A session index: decimal digits, 1 or more ("3x", "-1", "+2", "0" and overflow are refused).
std::optional<std::uint64_t> parse_index(std::string_view text);

// Which sessions a command applies to, and how to print the answer.
struct Selection {
  proto::SessionFilter filter;
  bool filtered = false;  // at least one filter option was given
  bool json = false;
  bool detail = false;  // show sessions only
  bool all = false;     // logoff only
  bool help = false;
};

enum class SelectionFor { show, logoff };

// The options after `show sessions` or after `logoff`. The error is a usage message that names
// the command. A logoff must name its sessions or say --all, never both.
Result<Selection> parse_selection(const CtlArgs& args, SelectionFor command);

}  // namespace tandem::admin
