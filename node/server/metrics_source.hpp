#pragma once
// Gathers what a Prometheus scrape shows from the node's owners of state: the session table
// (sessions, tunnels, traffic, timers, ends), the replicator (role, lag, failovers) and the
// Runtime's own event counters. Runs on the I/O thread, like everything that reads them.
#include <cstdint>

#include "node/metrics/registry.hpp"
#include "node/server/runtime.hpp"

namespace tandem::server {

metrics::Snapshot metrics_snapshot(Runtime& rt, std::uint64_t process_start_unix);

}  // namespace tandem::server
