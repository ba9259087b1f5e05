#pragma once
// Watches the expiry of the certificates this node uses: the client-facing one ("tls", as the
// TLS context serves it) and, in a pair, the replication link's certificate and CA ("peer",
// "peer_ca", read from the [peer] files). What it reports is what is in use: the files are read
// at start, as tandemd and the replication link load them then; a file replaced later is
// reported as waiting for a restart, not as the one in use.
#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "node/config/config.hpp"
#include "node/tls/certificate_expiry.hpp"

namespace tandem::server {

class CertificateMonitor {
 public:
  struct Watched {
    std::string name;  // the metrics label: "tls", "peer" or "peer_ca"
    std::string path;
    tls::CertificateInfo in_use;       // the one of the file or chain that expires first
    std::vector<std::string> digests;  // of every certificate in use, in file order
  };

  // The client-facing certificate as `served` (leaf and chain, non-empty), and the [peer]
  // files when a peer is configured. A [peer] file that cannot be read is logged
  // (`certificate_unreadable`) and not watched; replication reports its own error about it.
  static CertificateMonitor create(const std::vector<tls::CertificateInfo>& served,
                                   const std::string& tls_path, const config::Peer& peer);

  // Logs every watched certificate's expiry: `certificate` (info) while more than
  // `warn_before` is left, `certificate_expiring` (warn) under it, `certificate_expired`
  // (error) after it. With `compare_files`, a file that now holds another certificate than the
  // one in use is logged as `certificate_changed` (warn: a restart puts it in use).
  void check(std::int64_t now_unix, std::chrono::seconds warn_before, bool compare_files) const;

  // (name, seconds until expiry, negative once expired) for the metrics.
  std::vector<std::pair<std::string, std::int64_t>> seconds_left(std::int64_t now_unix) const;

  const std::vector<Watched>& watched() const { return watched_; }

 private:
  std::vector<Watched> watched_;
};

// [tls] expiry_warning, in the unit the check takes.
inline std::chrono::seconds warn_before(const config::Config& config) {
  return std::chrono::duration_cast<std::chrono::seconds>(config.tls_expiry_warning);
}

}  // namespace tandem::server
