#include "node/radius/server_health.hpp"

namespace tandem::radius {

std::vector<config::RadiusServer> ServerHealth::order(
    const std::vector<config::RadiusServer>& servers, TimePoint now) const {
  std::vector<config::RadiusServer> live, dead;
  {
    std::lock_guard lock(mutex_);
    for (const auto& s : servers) {
      auto it = servers_.find(key(s));
      const bool marked =
          it != servers_.end() && it->second.dead_until && now < *it->second.dead_until;
      (marked ? dead : live).push_back(s);
    }
  }
  live.insert(live.end(), dead.begin(), dead.end());
  return live;
}

bool ServerHealth::silent(const config::RadiusServer& server, TimePoint asked, TimePoint now) {
  if (dead_time_.count() <= 0) return false;
  std::lock_guard lock(mutex_);
  State& s = servers_[key(server)];
  if (s.last_answer && *s.last_answer >= asked) return false;  // it answered since
  // Only an answer ends a mark: one that ran out is renewed, not announced again.
  const bool was_live = !s.dead_until.has_value();
  s.dead_until = now + dead_time_;
  return was_live;
}

bool ServerHealth::answered(const config::RadiusServer& server, TimePoint now) {
  std::lock_guard lock(mutex_);
  State& s = servers_[key(server)];
  s.last_answer = now;
  return std::exchange(s.dead_until, std::nullopt).has_value();
}

}  // namespace tandem::radius
