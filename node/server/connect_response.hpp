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
  std::vector<std::string> dns;
  config::Policy policy;  // its routes (split-include; empty = full tunnel) and exclude_routes
  std::optional<int> client_base_mtu;  // X-CSTP-Base-MTU from the request
  std::string server_name;
  // DTLS (PSK-NEGOTIATE), when the client offered it and the headend serves UDP.
  struct Dtls {
    std::uint16_t port = 0;
    std::string app_id_hex;
  };
  std::optional<Dtls> dtls;
};

// True when the client's X-DTLS-CipherSuite offers PSK-NEGOTIATE.
bool offers_psk_negotiate(std::string_view cipher_suites);

http::Response build_connect_response(const TunnelParams& params);

// "10.201.0.0/24" -> "10.201.0.0/255.255.255.0"; empty on a malformed CIDR.
std::string split_include_value(const std::string& cidr);

// A refusal on CONNECT: 401 makes openconnect stop; 503 makes it retry (notes §6.4).
http::Response build_connect_refusal(int status, const std::string& reason);

}  // namespace tandem::server
