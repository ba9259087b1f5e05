#pragma once
// What the director counts, and its Prometheus text (format 0.0.4). Pure; everything runs on the
// director's one I/O thread, so plain integers suffice.
#include <array>
#include <cstdint>
#include <string>

#include "director/redirect.hpp"

namespace tandem::director {

struct DirectorStats {
  std::array<std::uint64_t, kOutcomes> answers{};  // by Outcome
  std::uint64_t bad_requests = 0;         // requests that did not parse
  std::uint64_t connections_refused = 0;  // over the front door's limits
  std::uint64_t records_refused = 0;      // member records that did not validate
  std::uint64_t etcd_resyncs = 0;         // full reads after a watch ended
  // Gauges, filled at scrape time.
  std::uint64_t members = 0;
  std::uint64_t members_eligible = 0;
  bool silent = true;
  double seconds_since_contact = -1;  // -1: never in contact
};

std::string render(const DirectorStats& s, const std::string& version);

}  // namespace tandem::director
