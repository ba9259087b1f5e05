#pragma once
// tandem-director's configuration (docs/director.md, "Configuration"): TOML, every problem
// reported at once with its key, file and line; unknown keys are errors.
#include <string>
#include <vector>

#include "base/clock.hpp"
#include "base/result.hpp"

namespace tandem::director {

struct DirectorConfig {
  std::string source;  // file path

  // [director]
  std::string listen = "0.0.0.0:443";  // "ip:port", the cluster address clients are given
  std::string metrics_listen;          // "ip:port" for Prometheus text; empty = off
  // Without an answer from etcd for this long, the view is no longer trusted and new clients get
  // 503 (a member may have died and its record expired unseen).
  Duration silent_after{std::chrono::seconds(15)};

  // [tls]: required; the certificate clients see (it must satisfy their pin or trust, as the
  // members' do).
  std::string tls_certificate;
  std::string tls_private_key;
  Duration tls_expiry_warning{std::chrono::hours(24 * 30)};

  // [arbiter]: etcd.
  std::vector<std::string> endpoints;  // "http://H:P" or "https://H:P"
  std::string arbiter_ca, arbiter_certificate, arbiter_private_key;

  // [log]
  std::string log_level = "info";
};

Result<DirectorConfig> parse_director_config(const std::string& toml_text,
                                             const std::string& source);
Result<DirectorConfig> load_director_config(const std::string& path);

}  // namespace tandem::director
