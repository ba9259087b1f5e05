#pragma once
// The tunnel groups' XML profiles as the node holds them (docs/cisco-clients.md): one log line
// per profile at start and at every reload, so an operator sees which file and hash each group's
// clients get, and which hosts and backup servers it lists.
#include "node/config/config.hpp"

namespace tandem::server {

void log_profiles(const config::Config& config);

}  // namespace tandem::server
