#pragma once
// The replication link's PEM material: [peer] ca, certificate and private_key. tandemd reads it
// at start-up while it is still root (docs/privileges.md), so the files need not be readable by
// [process] user; new files take a restart.
#include <string>

#include "base/result.hpp"
#include "replication/settings.hpp"

namespace tandem::replication {

struct PeerKeys {
  std::string ca;
  std::string certificate;
  std::string private_key;
};

// Errors name the key and the file.
Result<PeerKeys> read_peer_keys(const PeerSettings& peer);

}  // namespace tandem::replication
