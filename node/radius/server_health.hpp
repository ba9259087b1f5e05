#pragma once
// Which RADIUS servers stayed silent lately (docs/radius.md, "Dead servers"). A server that let
// a whole request go unanswered (every try timed out, or it could not be reached) is dead for
// `dead_time`: requests ask the live servers first, in the configured order, and the dead ones
// after them, so a request still goes through when every server is marked. Any answer makes a
// server live again, and silence about a request sent before its latest answer marks nothing
// (requests run side by side, and a slow one must not undo a newer answer). Shared by the
// RADIUS client's threads; time is passed in.
#include <map>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "base/clock.hpp"
#include "node/config/radius_config.hpp"

namespace tandem::radius {

class ServerHealth {
 public:
  // 0: no memory (every request starts with the first server).
  explicit ServerHealth(Duration dead_time) : dead_time_(dead_time) {}

  // `servers` in the order to ask them at `now`.
  std::vector<config::RadiusServer> order(const std::vector<config::RadiusServer>& servers,
                                          TimePoint now) const;
  // The server let a request asked at `asked` go unanswered. True when this marks it dead and
  // it was live (never marked, or it answered since): a mark that ran out is only renewed.
  bool silent(const config::RadiusServer& server, TimePoint asked, TimePoint now);
  // The server answered at `now`. True when it was marked dead until now.
  bool answered(const config::RadiusServer& server, TimePoint now);

  Duration dead_time() const { return dead_time_; }

 private:
  using Key = std::pair<std::uint32_t, std::uint16_t>;
  static Key key(const config::RadiusServer& s) { return {s.ip, s.port}; }
  struct State {
    std::optional<TimePoint> dead_until;  // marked, until then
    std::optional<TimePoint> last_answer;
  };

  const Duration dead_time_;
  mutable std::mutex mutex_;
  std::map<Key, State> servers_;
};

}  // namespace tandem::radius
