#include "replication/session_codec.hpp"

#include <algorithm>

namespace tandem::replication {
namespace {

void put_counters(const session::Counters& c, proto::TunnelRecord& t) {
  t.set_bytes_tx(c.bytes_tx);
  t.set_bytes_rx(c.bytes_rx);
  t.set_packets_tx(c.packets_tx);
  t.set_packets_rx(c.packets_rx);
}

}  // namespace

proto::SessionRecord to_record(const session::Session& s) {
  proto::SessionRecord r;
  r.set_index(s.index);
  r.set_username(s.user);
  r.set_tunnel_group(s.tunnel_group);
  r.set_group_policy(s.policy);
  r.set_assigned_ipv4(s.ip);
  r.set_token_hash(std::string(s.token_hash.begin(), s.token_hash.end()));
  r.set_login_time_unix(s.login_time_unix);
  r.set_public_ip(s.public_ip);
  r.set_public_port(s.public_port);
  r.set_client_type(s.client_type);
  r.set_bytes_tx(s.counters.bytes_tx);
  r.set_bytes_rx(s.counters.bytes_rx);
  r.set_packets_tx(s.counters.packets_tx);
  r.set_packets_rx(s.counters.packets_rx);
  r.set_drops_tx(s.counters.drops_tx);
  r.set_drops_rx(s.counters.drops_rx);
  if (s.ssl) {
    auto* t = r.add_tunnels();
    t->set_kind(proto::TunnelRecord::SSL);
    t->set_public_ip(s.ssl_info.public_ip);
    t->set_public_port(s.ssl_info.public_port);
    t->set_local_port(s.ssl_info.local_port);
    t->set_encapsulation(s.ssl_info.encapsulation);
    t->set_cipher(s.ssl_info.cipher);
    t->set_connected_at_unix(s.ssl_info.connected_at_unix);
    put_counters(s.ssl_info.counters, *t);
  }
  return r;
}

session::Session from_record(const proto::SessionRecord& r) {
  session::Session s;
  s.index = r.index();
  s.user = r.username();
  s.tunnel_group = r.tunnel_group();
  s.policy = r.group_policy();
  s.ip = r.assigned_ipv4();
  const std::string& h = r.token_hash();
  std::copy_n(h.begin(), std::min(h.size(), s.token_hash.size()), s.token_hash.begin());
  s.login_time_unix = r.login_time_unix();
  s.public_ip = r.public_ip();
  s.public_port = static_cast<std::uint16_t>(r.public_port());
  s.client_type = r.client_type();
  s.counters = {r.bytes_tx(), r.bytes_rx(), r.packets_tx(), r.packets_rx(), r.drops_tx(), r.drops_rx()};
  return s;
}

}  // namespace tandem::replication
