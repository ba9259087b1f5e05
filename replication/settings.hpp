#pragma once
// What replication is configured with: the parts of the node's configuration it needs, in its
// own type, so that replication/ does not depend on node/ (README, "Layout"). tandemd fills it
// from the node's config (node/bin/replication_settings.cpp); the meaning of each field is the
// config key's (docs/configuration.md, [node], [peer], [arbiter], [member]).
#include <string>
#include <vector>

#include "base/clock.hpp"

namespace tandem::replication {

// [peer]: the other node of this member. Not enabled = a standalone node (still persistent).
struct PeerSettings {
  bool enabled = false;
  // Only a peer whose replication certificate names this id may follow, hand over or speak
  // for the peer.
  std::string node_id;
  std::string listen;   // "ip:port" our replication server listens on
  std::string address;  // "ip:port" of the peer's replication server
  std::string ca;       // files: the CA that signed both nodes' certificates (mutual TLS)
  std::string certificate;
  std::string private_key;
  int priority = 100;      // breaks ties when both nodes start at once (higher wins)
  Duration poll_interval;  // heartbeat period
  Duration hold_time;      // silence after which the standby promotes itself
};

// [arbiter]: etcd decides which node of the pair may serve (docs/arbiter.md).
struct ArbiterSettings {
  bool enabled = false;
  std::vector<std::string> endpoints;        // "http://host:port" / "https://host:port"
  std::string ca, certificate, private_key;  // for https endpoints
  Duration lease_ttl;                        // the active key's lease
};

// [member]: the member as directors see it (published with [arbiter]).
struct MemberSettings {
  std::string id;
  std::string url;
  int capacity = 0;
};

struct Settings {
  std::string node_id;
  std::string listen;     // the client-facing "ip:port" (SYN guard, tickles)
  std::string state_dir;  // the session store is <state_dir>/db
  // The member's addresses that move with the active role, "ip/prefix" on an interface; empty =
  // none (docs/configuration.md, service_address and inside_address).
  std::string service_address;
  std::string service_interface;
  std::string inside_address;
  std::string inside_address6;  // "fd00:99::1/64" on inside_interface; empty = none
  std::string inside_interface;
  PeerSettings peer;
  ArbiterSettings arbiter;
  MemberSettings member;
};

}  // namespace tandem::replication
