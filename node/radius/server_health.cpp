#include "node/radius/server_health.hpp"

namespace tandem::radius {

std::vector<config::RadiusServer> ServerHealth::order(
    const std::vector<config::RadiusServer>& servers, TimePoint now) const {
  std::vector<config::RadiusServer> live, dead;
  {
    std::lock_guard lock(mutex_);
    for (const auto& s : servers) {
      auto it = dead_until_.find(key(s));
      (it != dead_until_.end() && now < it->second ? dead : live).push_back(s);
    }
  }
  live.insert(live.end(), dead.begin(), dead.end());
  return live;
}

bool ServerHealth::silent(const config::RadiusServer& server, TimePoint now) {
  if (dead_time_.count() <= 0) return false;
  std::lock_guard lock(mutex_);
  auto [it, inserted] = dead_until_.try_emplace(key(server), now + dead_time_);
  const bool was_live = inserted || now >= it->second;
  it->second = now + dead_time_;
  return was_live;
}

bool ServerHealth::answered(const config::RadiusServer& server) {
  std::lock_guard lock(mutex_);
  return dead_until_.erase(key(server)) > 0;
}

}  // namespace tandem::radius
