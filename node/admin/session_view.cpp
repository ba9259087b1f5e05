#include "node/admin/session_view.hpp"

#include <chrono>

#include "node/radius/attributes.hpp"
#include "node/session/address_pool.hpp"
#include "node/session/timers.hpp"

namespace tandem::admin {
namespace {

long long seconds(Duration d) {
  return std::chrono::duration_cast<std::chrono::seconds>(d).count();
}

// "TLS_AES_256_GCM_SHA384" / "PSK-AES256-GCM-SHA384" -> encryption and hashing as ASA shows them.
void split_cipher(const std::string& cipher, std::string& encryption, std::string& hashing) {
  auto has = [&](const char* s) { return cipher.find(s) != std::string::npos; };
  if (has("AES_256_GCM") || has("AES256-GCM"))
    encryption = "AES-GCM-256";
  else if (has("AES_128_GCM") || has("AES128-GCM"))
    encryption = "AES-GCM-128";
  else if (has("CHACHA20"))
    encryption = "CHACHA20-POLY1305";
  else if (has("AES256"))
    encryption = "AES256";
  else if (has("AES128"))
    encryption = "AES128";
  else
    encryption = cipher.empty() ? "none" : cipher;
  if (has("SHA384"))
    hashing = "SHA384";
  else if (has("SHA256"))
    hashing = "SHA256";
  else if (has("SHA"))
    hashing = "SHA1";
  else
    hashing = "none";
}

// openconnect's User-Agent is "Open AnyConnect VPN Agent v9.01-3": type and version apart.
void split_client(const std::string& agent, std::string& type, std::string& version) {
  auto v = agent.rfind(" v");
  if (v != std::string::npos && v + 2 < agent.size()) {
    type = agent.substr(0, v);
    version = agent.substr(v + 2);
  } else {
    type = agent;
  }
}

void fill_tunnel(proto::TunnelView& t, const session::TunnelInfo& info, const std::string& agent) {
  t.set_public_ip(info.public_ip);
  t.set_public_port(info.public_port);
  t.set_local_port(info.local_port);
  t.set_encapsulation(info.encapsulation);
  std::string enc, hash, type, version;
  split_cipher(info.cipher, enc, hash);
  t.set_encryption(enc);
  t.set_hashing(hash);
  split_client(agent, type, version);
  t.set_client_type(type);
  t.set_client_version(version);
  t.set_bytes_tx(info.counters.bytes_tx);
  t.set_bytes_rx(info.counters.bytes_rx);
  t.set_packets_tx(info.counters.packets_tx);
  t.set_packets_rx(info.counters.packets_rx);
  t.set_connected_at_unix(info.connected_at_unix);
}

// As the reference names it ("Auth Mode").
const char* auth_mode(auth::AuthMethod method) {
  switch (method) {
    case auth::AuthMethod::certificate:
      return "Certificate";
    case auth::AuthMethod::certificate_and_password:
      return "Certificate and userPassword";
    case auth::AuthMethod::password:
    case auth::AuthMethod::radius:  // a password, checked elsewhere: auth_method tells which
      break;
  }
  return "userPassword";
}

}  // namespace

proto::SessionView make_session_view(const session::Session& s, const config::Policy& policy,
                                     TimePoint now, long long now_unix) {
  proto::SessionView v;
  const std::string idx = std::to_string(s.index);
  v.set_index(s.index);
  v.set_username(s.user);
  v.set_assigned_ip(net::format_ipv4(s.ip));
  if (s.ip6) v.set_assigned_ipv6(net::format_ipv6(*s.ip6));
  v.set_public_ip(s.public_ip);
  v.set_bytes_tx(s.counters.bytes_tx);
  v.set_bytes_rx(s.counters.bytes_rx);
  v.set_packets_tx(s.counters.packets_tx);
  v.set_packets_rx(s.counters.packets_rx);
  v.set_drops_tx(s.counters.drops_tx);
  v.set_drops_rx(s.counters.drops_rx);
  v.set_group_policy(s.policy);
  v.set_tunnel_group(s.tunnel_group);
  v.set_login_time_unix(s.login_time_unix);
  v.set_duration_s(now_unix - s.login_time_unix);
  v.set_inactivity_s(s.inactive_since ? seconds(now - *s.inactive_since) : 0);
  v.set_state(s.ssl ? "active" : "waiting_to_resume");
  v.set_resumes(s.resumes);
  v.set_auth_method(auth::to_string(s.auth_method));
  v.set_radius_class(radius::printable(s.radius_class, 253));
  v.set_acct_session_id(s.acct_session_id);
  const long long idle_left = seconds(session::idle_time_left(s, policy, now));
  const long long idle_timeout = seconds(s.ssl ? policy.idle_timeout : policy.disconnected_timeout);

  v.add_protocols("AnyConnect-Parent");
  auto* parent = v.add_tunnels();
  parent->set_id(idx + ".1");
  parent->set_type("AnyConnect-Parent");
  parent->set_public_ip(s.public_ip);
  parent->set_public_port(s.public_port);
  parent->set_encapsulation("none");
  parent->set_encryption("none");
  parent->set_hashing("none");
  parent->set_auth_mode(auth_mode(s.auth_method));
  parent->set_idle_timeout_s(idle_timeout);
  parent->set_idle_left_s(idle_left);
  std::string type, version;
  split_client(s.client_type, type, version);
  parent->set_client_os(s.client_os);
  parent->set_client_type(type);
  parent->set_client_version(version);
  parent->set_connected_at_unix(s.login_time_unix);

  std::string enc, hash;
  if (s.ssl) {
    v.add_protocols("SSL-Tunnel");
    auto* t = v.add_tunnels();
    t->set_id(idx + ".2");
    t->set_type("SSL-Tunnel");
    fill_tunnel(*t, s.ssl_info, s.client_type);
    t->set_auth_mode(auth_mode(s.auth_method));
    t->set_idle_timeout_s(seconds(policy.idle_timeout));
    t->set_idle_left_s(idle_left);
    split_cipher(s.ssl_info.cipher, enc, hash);
  }
  if (s.dtls) {
    v.add_protocols("DTLS-Tunnel");
    auto* t = v.add_tunnels();
    t->set_id(idx + ".3");
    t->set_type("DTLS-Tunnel");
    fill_tunnel(*t, s.dtls_info, s.client_type);
    t->set_auth_mode(auth_mode(s.auth_method));
    t->set_idle_timeout_s(seconds(policy.idle_timeout));
    t->set_idle_left_s(
        std::max<long long>(0, seconds(policy.idle_timeout - (now - s.dtls_info.last_data))));
  }
  v.set_encryption(s.ssl ? enc : "none");
  v.set_hashing(s.ssl ? hash : "none");
  return v;
}

bool matches(const proto::SessionFilter& f, const session::Session& s) {
  if (f.index() != 0 && f.index() != s.index) return false;
  if (!f.user().empty() && f.user() != s.user) return false;
  if (!f.tunnel_group().empty() && f.tunnel_group() != s.tunnel_group) return false;
  if (f.inactive() && s.ssl) return false;
  if (!f.protocol().empty()) {
    const std::string& p = f.protocol();
    bool ssl = p == "ssl" || p == "ssl-tunnel" || p == "anyconnect";
    bool dtls = p == "dtls" || p == "dtls-tunnel";
    if (ssl && !s.ssl) return false;
    if (dtls && !s.dtls) return false;
    if (!ssl && !dtls) return false;
  }
  return true;
}

}  // namespace tandem::admin
