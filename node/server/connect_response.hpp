#pragma once
// The answer to a successful CONNECT: "HTTP/1.1 200 CONNECTED" and the X-CSTP-* headers that
// configure the client. Pure; the same inputs give the same address and netmask strings on
// every resume, which openconnect compares as text (protocol notes §6.2).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "node/config/config.hpp"
#include "node/http/request.hpp"
#include "node/session/address_pool.hpp"

namespace tandem::server {

struct TunnelParams {
  std::uint32_t client_ip = 0;
  net::Ipv4Net pool{};
  // IPv6 (docs/ipv6.md): both set when the session has an IPv6 address.
  std::optional<net::Ipv6Addr> client_ip6;
  std::optional<net::Ipv6Net> pool6;
  std::vector<std::string> dns;  // IPv6 servers are left out for a session without IPv6
  // Its routes (split-include; empty = full tunnel) and exclude_routes, and the same for IPv6.
  config::Policy policy;
  std::optional<int> client_base_mtu;  // X-CSTP-Base-MTU from the request
  std::string server_name;
  // DTLS, when the client offered a mode we serve and the headend serves UDP
  // (docs/dtls-modes.md).
  struct Dtls {
    std::uint16_t port = 0;
    std::string id_hex;  // PSK: the X-DTLS-App-ID; legacy: the X-DTLS-Session-ID (64 hex)
    // Legacy DTLS 1.2 only: the header that carries the chosen suite and its name.
    std::string legacy_header;
    std::string legacy_suite;
  };
  std::optional<Dtls> dtls;
};

http::Response build_connect_response(const TunnelParams& params);

// "10.201.0.0/24" -> "10.201.0.0/255.255.255.0"; empty on a malformed CIDR.
std::string split_include_value(const std::string& cidr);

// A refusal on CONNECT: 401 makes openconnect stop; 503 makes it retry (notes §6.4).
http::Response build_connect_refusal(int status, const std::string& reason);

}  // namespace tandem::server
