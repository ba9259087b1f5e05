#include "node/server/certificate_monitor.hpp"

#include "base/log.hpp"

namespace tandem::server {
namespace {

std::vector<std::string> digests_of(const std::vector<tls::CertificateInfo>& chain) {
  std::vector<std::string> out;
  out.reserve(chain.size());
  for (const auto& c : chain) out.push_back(c.sha256);
  return out;
}

}  // namespace

CertificateMonitor CertificateMonitor::create(const std::vector<tls::CertificateInfo>& served,
                                              const std::string& tls_path,
                                              const config::Peer& peer) {
  CertificateMonitor m;
  if (!served.empty())
    m.watched_.push_back({"tls", tls_path, tls::soonest(served), digests_of(served)});
  if (!peer.enabled) return m;
  const std::pair<const char*, std::string> files[] = {{"peer", peer.certificate},
                                                       {"peer_ca", peer.ca}};
  for (const auto& [name, path] : files) {
    auto chain = tls::read_pem_certificates(path);
    if (!chain) {
      log::warn("certificate_unreadable",
                {{"certificate", name}, {"path", path}, {"reason", chain.error()}});
      continue;
    }
    m.watched_.push_back({name, path, tls::soonest(*chain), digests_of(*chain)});
  }
  return m;
}

void CertificateMonitor::check(std::int64_t now_unix, std::chrono::seconds warn_before,
                               bool compare_files) const {
  for (const Watched& w : watched_) {
    const std::int64_t left = tls::seconds_until_expiry(w.in_use.not_after_unix, now_unix);
    const std::initializer_list<log::Field> fields = {
        {"certificate", w.name},
        {"path", w.path},
        {"subject", w.in_use.subject},
        {"not_after", tls::format_utc(w.in_use.not_after_unix)},
        {"days_left", std::to_string(tls::whole_days(left))},
        {"warn_days", std::to_string(tls::whole_days(warn_before.count()))}};
    switch (tls::expiry_state(left, warn_before)) {
      case tls::ExpiryState::ok:
        log::info("certificate", fields);
        break;
      case tls::ExpiryState::expiring:
        log::warn("certificate_expiring", fields);
        break;
      case tls::ExpiryState::expired:
        log::error("certificate_expired", fields);
        break;
    }
    if (!compare_files) continue;
    auto on_disk = tls::read_pem_certificates(w.path);
    if (!on_disk) {
      log::warn("certificate_unreadable", {{"certificate", w.name},
                                           {"path", w.path},
                                           {"reason", on_disk.error()},
                                           {"detail", "the certificate in use stays"}});
    } else if (digests_of(*on_disk) != w.digests) {
      log::warn("certificate_changed",
                {{"certificate", w.name},
                 {"path", w.path},
                 {"not_after", tls::format_utc(tls::soonest(*on_disk).not_after_unix)},
                 {"in_use_not_after", tls::format_utc(w.in_use.not_after_unix)},
                 {"detail", "the file holds another certificate; restart tandemd to use it"}});
    }
  }
}

std::vector<std::pair<std::string, std::int64_t>> CertificateMonitor::seconds_left(
    std::int64_t now_unix) const {
  std::vector<std::pair<std::string, std::int64_t>> out;
  out.reserve(watched_.size());
  for (const Watched& w : watched_)
    out.emplace_back(w.name, tls::seconds_until_expiry(w.in_use.not_after_unix, now_unix));
  return out;
}

}  // namespace tandem::server
