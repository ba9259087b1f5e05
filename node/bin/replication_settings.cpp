#include "node/bin/replication_settings.hpp"

namespace tandem {

replication::Settings replication_settings(const config::Config& c) {
  replication::Settings s;
  s.node_id = c.node_id;
  s.listen = c.listen;
  s.state_dir = c.state_dir;
  s.service_address = c.service_address;
  s.service_interface = c.service_interface;
  s.inside_address = c.inside_address;
  s.inside_address6 = c.inside_address6;
  s.inside_interface = c.inside_interface;

  s.peer.enabled = c.peer.enabled;
  s.peer.node_id = c.peer.node_id;
  s.peer.listen = c.peer.listen;
  s.peer.address = c.peer.address;
  s.peer.ca = c.peer.ca;
  s.peer.certificate = c.peer.certificate;
  s.peer.private_key = c.peer.private_key;
  s.peer.priority = c.peer.priority;
  s.peer.poll_interval = c.peer.poll_interval;
  s.peer.hold_time = c.peer.hold_time;

  s.arbiter.enabled = c.arbiter.enabled;
  s.arbiter.endpoints = c.arbiter.endpoints;
  s.arbiter.ca = c.arbiter.ca;
  s.arbiter.certificate = c.arbiter.certificate;
  s.arbiter.private_key = c.arbiter.private_key;
  s.arbiter.lease_ttl = c.arbiter.lease_ttl;

  s.member.id = c.member.id;
  s.member.url = c.member.url;
  s.member.capacity = c.member.capacity;
  return s;
}

}  // namespace tandem
