#include "loadbalancer/placement.hpp"

namespace tandem::director {

std::optional<std::size_t> choose_member(const std::vector<MemberLoad>& members) {
  std::optional<std::size_t> best;
  double best_free = 0.0;
  for (std::size_t i = 0; i < members.size(); ++i) {
    const auto& m = members[i];
    if (!m.accepting || m.sessions >= m.capacity) continue;
    // Compare free fractions so that members of different sizes fill evenly.
    double free = static_cast<double>(m.capacity - m.sessions) / m.capacity;
    if (!best || free > best_free) {
      best = i;
      best_free = free;
    }
  }
  return best;
}

}  // namespace tandem::director
