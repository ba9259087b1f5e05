#pragma once
// The role of one node of a member, in one typed form everywhere: the replication core decides
// it, the node serves by it, the admin API and metrics print it (to_string gives the stable
// JSON/metric label).
#include <cstdint>

namespace tandem {

enum class Role : std::uint8_t {
  standalone,  // no [peer]: always serving, nothing replicated
  standby,     // follows the active's session stream; does not serve clients
  active,      // serves the member's clients and replicates to the standby
};

constexpr const char* to_string(Role r) noexcept {
  switch (r) {
    case Role::standalone:
      return "standalone";
    case Role::standby:
      return "standby";
    case Role::active:
      return "active";
  }
  return "?";
}

// Serving clients: the active node of a pair, or a standalone node.
constexpr bool serves(Role r) noexcept { return r != Role::standby; }

}  // namespace tandem
