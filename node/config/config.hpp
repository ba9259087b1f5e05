#pragma once
// The daemon's configuration: a plain value built by load_config() from TOML.
// Every key has a default (config/defaults.hpp); unknown keys and bad values are errors
// that name the key and the file.
#include <map>
#include <string>
#include <vector>

#include "node/common/clock.hpp"
#include "node/common/result.hpp"

namespace tandem::config {

struct Policy {
  std::string name;
  Duration idle_timeout;
  Duration session_timeout;       // 0 = none
  Duration disconnected_timeout;  // defaults to idle_timeout (S8)
  Duration dpd_interval;          // 0 = off
  Duration keepalive;             // 0 = off
  int mtu;
  int simultaneous_logins;        // 0 = unlimited
};

struct TunnelGroup {
  std::string name;
  std::string policy;  // name of a Policy
};

struct Config {
  std::string source;  // file path, or "<built-in defaults>"

  // [node]
  std::string node_id;
  std::string listen;  // "ip:port"
  std::string admin_socket;
  std::string state_dir;
  std::string log_level;  // debug|info|warn|error
  std::string tun_name;

  // [tls]; empty = self-signed certificate made in state_dir
  std::string tls_certificate;
  std::string tls_private_key;

  // [auth]
  std::string users_file;

  // [pool]
  std::string pool_ipv4;  // CIDR
  std::vector<std::string> dns;
  std::vector<std::string> routes;  // split-include CIDRs; empty = full tunnel

  std::map<std::string, Policy> policies;           // always has "default"
  std::map<std::string, TunnelGroup> tunnel_groups;  // always has "default"
};

// Built-in defaults: a standalone node.
Config default_config();

// Parse TOML text; `source` names the file in error messages.
Result<Config> parse_config(const std::string& toml_text, const std::string& source);

// Read and parse a file.
Result<Config> load_config(const std::string& path);

// "30s", "30m", "1h", "1500ms", "2d", "0", "none" (= 0). Pure.
Result<Duration> parse_duration(const std::string& text);

}  // namespace tandem::config
