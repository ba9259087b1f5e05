#pragma once
// Where the director sends a new client: the member with the most free capacity, among those
// that are up and accepting logins. Pure; ties go to the member listed first.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tandem::director {

struct MemberLoad {
  std::string name;
  std::string url;  // "https://vpn-a.example.net:443/"
  std::uint32_t sessions = 0;
  std::uint32_t capacity = 0;  // addresses in the member's pool
  bool accepting = false;      // active node up, not draining
};

// Index into `members` of the chosen member, or nullopt when none can take a client.
std::optional<std::size_t> choose_member(const std::vector<MemberLoad>& members);

}  // namespace tandem::director
