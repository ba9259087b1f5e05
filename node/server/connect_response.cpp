#include "node/server/connect_response.hpp"

#include <algorithm>
#include <chrono>

#include "node/server/group_network_headers.hpp"

namespace tandem::server {
namespace {

std::string seconds_or_none(Duration d) {
  auto s = std::chrono::duration_cast<std::chrono::seconds>(d).count();
  return s <= 0 ? "none" : std::to_string(s);
}

void add(http::Response& r, std::string name, std::string value) {
  r.headers.push_back({std::move(name), std::move(value)});
}

}  // namespace

std::string split_include_value(const std::string& cidr) {
  auto parsed = net::parse_cidr(cidr);
  if (!parsed) return {};
  return net::format_ipv4(parsed->network) + "/" + net::format_ipv4(parsed->netmask());
}

http::Response build_connect_response(const TunnelParams& p) {
  http::Response r;
  r.status = 200;
  r.reason = "CONNECTED";  // openconnect requires a reason phrase after "200 "
  r.omit_content_length = true;
  add(r, "X-CSTP-Version", "1");
  add(r, "X-CSTP-Server-Name", p.server_name);
  add(r, "X-CSTP-Address", net::format_ipv4(p.client_ip));
  add(r, "X-CSTP-Netmask", net::format_ipv4(p.pool.netmask()));
  const bool ipv6 = p.client_ip6 && p.pool6;
  // The pool's prefix length, as the IPv4 netmask is the pool's: the client routes the whole
  // pool into the tunnel (docs/ipv6.md).
  if (ipv6)
    add(r, "X-CSTP-Address-IP6",
        net::format_ipv6(*p.client_ip6) + "/" + std::to_string(p.pool6->prefix));
  for (const auto& dns : p.dns) {
    const bool dns6 = dns.find(':') != std::string::npos;
    if (!dns6 || ipv6) add(r, "X-CSTP-DNS", dns);  // a client without IPv6 cannot reach it
  }
  if (!p.policy.routes.empty()) {
    // The pool itself is always reachable, so clients can reach the headend's tunnel address.
    add(r, "X-CSTP-Split-Include",
        net::format_ipv4(p.pool.network) + "/" + net::format_ipv4(p.pool.netmask()));
    for (const auto& route : p.policy.routes) {
      auto value = split_include_value(route);
      if (!value.empty()) add(r, "X-CSTP-Split-Include", value);
    }
  }
  // The client keeps these out of the tunnel; the headend drops them if it sends them anyway
  // (docs/traffic-policy.md).
  for (const auto& route : p.policy.exclude_routes) {
    auto value = split_include_value(route);
    if (!value.empty()) add(r, "X-CSTP-Split-Exclude", value);
  }
  if (ipv6) {
    // Each family on its own: no IPv6 routes = every IPv6 destination through the tunnel.
    if (!p.policy.routes6.empty()) {
      add(r, "X-CSTP-Split-Include-IP6", net::format_cidr6(*p.pool6));
      for (const auto& route : p.policy.routes6)
        if (auto n = net::parse_cidr6(route))
          add(r, "X-CSTP-Split-Include-IP6", net::format_cidr6(*n));
    }
    for (const auto& route : p.policy.exclude_routes6)
      if (auto n = net::parse_cidr6(route))
        add(r, "X-CSTP-Split-Exclude-IP6", net::format_cidr6(*n));
  }
  add_group_network_headers(r, p.policy);
  using std::chrono::duration_cast;
  using std::chrono::seconds;
  auto dpd = duration_cast<seconds>(p.policy.dpd_interval).count();
  if (dpd > 0) add(r, "X-CSTP-DPD", std::to_string(dpd));
  auto keepalive = duration_cast<seconds>(p.policy.keepalive).count();
  if (keepalive > 0) add(r, "X-CSTP-Keepalive", std::to_string(keepalive));
  add(r, "X-CSTP-Idle-Timeout", seconds_or_none(p.policy.idle_timeout));
  add(r, "X-CSTP-Disconnected-Timeout", seconds_or_none(p.policy.disconnected_timeout));
  add(r, "X-CSTP-Session-Timeout", seconds_or_none(p.policy.session_timeout));
  // new-tunnel: a new TLS connection and CONNECT with the token, i.e. a resume (docs/rekey.md);
  // DTLS is then rebuilt with the new connection's keys. TLS renegotiation stays off.
  auto rekey = duration_cast<seconds>(p.policy.rekey_interval).count();
  if (rekey > 0) {
    add(r, "X-CSTP-Rekey-Time", std::to_string(rekey));
    add(r, "X-CSTP-Rekey-Method", "new-tunnel");
  } else {
    add(r, "X-CSTP-Rekey-Method", "none");
  }
  int base_mtu = std::clamp(p.client_base_mtu.value_or(1500), 1280, 1500);
  add(r, "X-CSTP-Base-MTU", std::to_string(base_mtu));
  add(r, "X-CSTP-MTU", std::to_string(p.policy.mtu));
  // Group policy for Cisco Secure Client (docs/cisco-clients.md); openconnect ignores both.
  add(r, "X-CSTP-Client-Bypass-Protocol", p.policy.client_bypass_protocol ? "true" : "false");
  add(r, "X-CSTP-Disable-Always-On-VPN", p.policy.disable_always_on_vpn ? "true" : "false");
  if (p.dtls) {
    add(r, "X-DTLS-Port", std::to_string(p.dtls->port));
    if (p.dtls->legacy_suite.empty()) {
      add(r, "X-DTLS-App-ID", p.dtls->id_hex);
      add(r, "X-DTLS-CipherSuite", "PSK-NEGOTIATE");
    } else {
      add(r, "X-DTLS-Session-ID", p.dtls->id_hex);
      add(r, p.dtls->legacy_header, p.dtls->legacy_suite);
      add(r, "X-DTLS-MTU", std::to_string(p.policy.mtu));  // as ocserv does in this mode
    }
    if (dpd > 0) add(r, "X-DTLS-DPD", std::to_string(dpd));
    if (keepalive > 0) add(r, "X-DTLS-Keepalive", std::to_string(keepalive));
    add(r, "X-DTLS-Rekey-Method", "none");
  }
  return r;
}

http::Response build_connect_refusal(int status, const std::string& reason) {
  http::Response r;
  r.status = status;
  r.reason = status == 401 ? "Unauthorized" : status == 503 ? "Service Unavailable" : "Error";
  if (status == 503) r.headers.push_back({"X-Reason", reason});
  r.headers.push_back({"Connection", "close"});
  return r;
}

}  // namespace tandem::server
