#pragma once
// Which configuration keys a reload cannot apply to a running node: they were used once at
// start-up (sockets bound, the TUN device and addresses set up, the store opened, the peer link
// and the arbiter's lease made, privileges dropped). Pure, so the rule is tested directly.
#include <string>
#include <vector>

#include "node/config/config.hpp"

namespace tandem::config {

// Puts the running value back into `next` for every restart-only key that differs, and returns
// those keys' names ("node.listen", "peer", "arbiter", ...) in a fixed order for the operator.
std::vector<std::string> keep_restart_only(const Config& running, Config& next);

}  // namespace tandem::config
