#include "director/placement.hpp"

#include <algorithm>
#include <utility>
#include <vector>

namespace tandem::director {
namespace {

// sessions/capacity compared without division: a < b  <=>  a.s * b.c < b.s * a.c, in 128 bits
// so that no published number can overflow it.
__extension__ using Wide = unsigned __int128;

bool less_loaded(const Member* a, const Member* b) {
  return Wide{a->sessions} * b->capacity < Wide{b->sessions} * a->capacity;
}

// The free fraction in millionths, at least 1 (the member is below capacity).
std::size_t weight(const Member* m) {
  const Wide free = Wide{m->capacity - m->sessions} * 1'000'000 / m->capacity;
  return std::max<std::size_t>(1, static_cast<std::size_t>(free));
}

}  // namespace

Placement place(const std::map<std::string, Member>& members, bool silent, const Random& random) {
  if (silent) {
    return NoMember{NoMember::Why::silent, 0, 0, 0,
                    "the director has lost contact with etcd: member state unknown"};
  }
  if (members.empty()) {
    return NoMember{NoMember::Why::no_members, 0, 0, 0, "no member is registered"};
  }
  NoMember none{NoMember::Why::none_eligible, 0, 0, 0, {}};
  std::vector<const Member*> eligible;
  for (const auto& [id, m] : members) {
    if (m.draining) {
      ++none.draining;
    } else if (m.degraded) {
      ++none.degraded;
    } else if (m.sessions >= m.capacity) {
      ++none.full;
    } else {
      eligible.push_back(&m);
    }
  }
  if (eligible.empty()) {
    none.reason = "no member can take a new session (" + std::to_string(none.draining) +
                  " draining, " + std::to_string(none.degraded) + " degraded, " +
                  std::to_string(none.full) + " full)";
    return none;
  }
  // Random order first (Fisher-Yates), then a stable sort by load: equal loads stay shuffled.
  for (std::size_t i = eligible.size(); i > 1; --i) {
    std::swap(eligible[i - 1], eligible[random(i)]);
  }
  std::stable_sort(eligible.begin(), eligible.end(), less_loaded);
  if (eligible.size() == 1) return eligible[0];
  const std::size_t first = weight(eligible[0]), second = weight(eligible[1]);
  return random(first + second) < first ? eligible[0] : eligible[1];
}

}  // namespace tandem::director
