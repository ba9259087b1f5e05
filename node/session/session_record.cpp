#include "node/session/session_record.hpp"

#include <algorithm>

#include "base/text.hpp"

namespace tandem::session {
namespace {

void put_tunnel(const TunnelInfo& info, proto::TunnelRecord::Kind kind, proto::TunnelRecord& t) {
  t.set_kind(kind);
  t.set_public_ip(info.public_ip);
  t.set_public_port(info.public_port);
  t.set_local_port(info.local_port);
  t.set_encapsulation(info.encapsulation);
  t.set_cipher(info.cipher);
  t.set_connected_at_unix(info.connected_at_unix);
  t.set_bytes_tx(info.counters.bytes_tx);
  t.set_bytes_rx(info.counters.bytes_rx);
  t.set_packets_tx(info.counters.packets_tx);
  t.set_packets_rx(info.counters.packets_rx);
}

// A record may come from disk or from the peer: its text is re-checked, whatever wrote it.
std::string clean(const std::string& s) { return text::sanitize(s); }

// Ours are 16 hex digits; a RADIUS attribute holds at most 253 bytes.
constexpr std::size_t kMaxAcctSessionId = 64;

TunnelInfo get_tunnel(const proto::TunnelRecord& t) {
  TunnelInfo info;
  info.public_ip = clean(t.public_ip());
  info.public_port = static_cast<std::uint16_t>(t.public_port());
  info.local_port = static_cast<std::uint16_t>(t.local_port());
  info.encapsulation = clean(t.encapsulation());
  info.cipher = clean(t.cipher());
  info.connected_at_unix = t.connected_at_unix();
  info.counters.bytes_tx = t.bytes_tx();
  info.counters.bytes_rx = t.bytes_rx();
  info.counters.packets_tx = t.packets_tx();
  info.counters.packets_rx = t.packets_rx();
  return info;
}

}  // namespace

proto::SessionRecord to_record(const Session& s) {
  proto::SessionRecord r;
  r.set_index(s.index);
  r.set_username(s.user);
  r.set_tunnel_group(s.tunnel_group);
  r.set_group_policy(s.policy);
  r.set_assigned_ipv4(s.ip);
  if (s.ip6) r.set_assigned_ipv6(std::string(s.ip6->begin(), s.ip6->end()));
  r.set_token_hash(std::string(s.token_hash.begin(), s.token_hash.end()));
  r.set_login_time_unix(s.login_time_unix);
  r.set_public_ip(s.public_ip);
  r.set_public_port(s.public_port);
  r.set_client_type(s.client_type);
  r.set_client_os(s.client_os);
  r.set_acct_start_pending(s.acct_start_pending);
  r.set_auth_method(static_cast<std::uint32_t>(s.auth_method));
  r.set_radius_class(s.radius_class);
  r.set_policy_override(s.policy_override);
  r.set_session_timeout_s(static_cast<std::uint32_t>(
      std::chrono::duration_cast<std::chrono::seconds>(s.session_timeout_override).count()));
  r.set_idle_timeout_s(static_cast<std::uint32_t>(
      std::chrono::duration_cast<std::chrono::seconds>(s.idle_timeout_override).count()));
  r.set_bytes_tx(s.counters.bytes_tx);
  r.set_bytes_rx(s.counters.bytes_rx);
  r.set_packets_tx(s.counters.packets_tx);
  r.set_packets_rx(s.counters.packets_rx);
  r.set_drops_tx(s.counters.drops_tx);
  r.set_drops_rx(s.counters.drops_rx);
  r.set_resumes(s.resumes);
  r.set_acct_session_id(s.acct_session_id);
  r.set_acct_reported_input_octets(s.acct_reported.bytes_rx);
  r.set_acct_reported_output_octets(s.acct_reported.bytes_tx);
  r.set_acct_reported_input_packets(s.acct_reported.packets_rx);
  r.set_acct_reported_output_packets(s.acct_reported.packets_tx);
  // The last known tunnel endpoints travel too: a new active uses them to reset the clients'
  // old connections at once (service_address.hpp, tickle).
  if (s.ssl_info.connected_at_unix != 0)
    put_tunnel(s.ssl_info, proto::TunnelRecord::SSL, *r.add_tunnels());
  if (s.dtls) put_tunnel(s.dtls_info, proto::TunnelRecord::DTLS, *r.add_tunnels());
  return r;
}

Session from_record(const proto::SessionRecord& r) {
  Session s;
  s.index = r.index();
  s.user = text::sanitize(r.username(), text::kMaxUsername);
  s.tunnel_group = clean(r.tunnel_group());
  s.policy = clean(r.group_policy());
  s.ip = r.assigned_ipv4();
  if (const std::string& a6 = r.assigned_ipv6(); a6.size() == 16) {
    s.ip6.emplace();
    std::copy_n(reinterpret_cast<const std::uint8_t*>(a6.data()), 16, s.ip6->begin());
  }
  const std::string& h = r.token_hash();
  std::copy_n(h.begin(), std::min(h.size(), s.token_hash.size()), s.token_hash.begin());
  s.login_time_unix = r.login_time_unix();
  s.public_ip = clean(r.public_ip());
  s.public_port = static_cast<std::uint16_t>(r.public_port());
  s.client_type = clean(r.client_type());
  s.client_os = clean(r.client_os());
  s.acct_start_pending = r.acct_start_pending();
  // An unknown value (a newer writer) reads as the weakest claim: password.
  s.auth_method = r.auth_method() <= static_cast<std::uint32_t>(auth::AuthMethod::radius)
                      ? static_cast<auth::AuthMethod>(r.auth_method())
                      : auth::AuthMethod::password;
  // Bytes as the server sent them, at most as many as one RADIUS attribute holds.
  s.radius_class = r.radius_class().substr(0, 253);
  s.policy_override = clean(r.policy_override());
  s.session_timeout_override = std::chrono::seconds(r.session_timeout_s());
  s.idle_timeout_override = std::chrono::seconds(r.idle_timeout_s());
  s.counters = {r.bytes_tx(),   r.bytes_rx(), r.packets_tx(),
                r.packets_rx(), r.drops_tx(), r.drops_rx()};
  s.resumes = r.resumes();
  s.acct_session_id = text::sanitize(r.acct_session_id(), kMaxAcctSessionId);
  s.acct_reported.bytes_rx = r.acct_reported_input_octets();
  s.acct_reported.bytes_tx = r.acct_reported_output_octets();
  s.acct_reported.packets_rx = r.acct_reported_input_packets();
  s.acct_reported.packets_tx = r.acct_reported_output_packets();
  for (const auto& t : r.tunnels())
    if (t.kind() == proto::TunnelRecord::SSL) s.ssl_info = get_tunnel(t);
  return s;
}

}  // namespace tandem::session
