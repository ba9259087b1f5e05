#pragma once
// tandemd's wiring between the two libraries that do not know each other: the node's
// configuration in, replication's settings out (README, "Layout").
#include "node/config/config.hpp"
#include "replication/settings.hpp"

namespace tandem {

replication::Settings replication_settings(const config::Config& c);

}  // namespace tandem
