#include "node/server/client_certificates.hpp"

#include <openssl/ssl.h>

#include "base/log.hpp"
#include "base/text.hpp"
#include "node/server/runtime.hpp"
#include "node/tls/certificate_expiry.hpp"

namespace tandem::server {

Result<std::shared_ptr<const tls::ClientTrust>> load_client_trust(const config::Config& config) {
  if (config.tls_client_ca.empty()) return std::shared_ptr<const tls::ClientTrust>();
  return tls::ClientTrust::load(config.tls_client_ca, config.tls_client_crl);
}

void install_client_trust(Runtime& rt, std::shared_ptr<const tls::ClientTrust> trust) {
  tls::request_client_certificates(rt.front.tls.native_handle(), trust.get());
  if (trust) {
    if (trust->crl_path().empty())
      log::info(
          "client_trust",
          {{"ca", trust->ca_path()}, {"cas", std::to_string(trust->ca_count())}, {"crl", "none"}});
    else
      log::info("client_trust",
                {{"ca", trust->ca_path()},
                 {"cas", std::to_string(trust->ca_count())},
                 {"crl", trust->crl_path()},
                 {"crls", std::to_string(trust->crl_count())},
                 {"crl_next_update", tls::format_utc(trust->crl_next_update_unix())}});
    // An expired CRL refuses every certificate of its CA (fail closed): say it now, not at the
    // first refused login.
    if (trust->crl_next_update_unix() != 0 && trust->crl_next_update_unix() < wall_seconds())
      log::warn("client_crl_expired",
                {{"crl", trust->crl_path()},
                 {"next_update", tls::format_utc(trust->crl_next_update_unix())},
                 {"detail", "certificate logins are refused until a current CRL is loaded"}});
  } else if (rt.front.client_trust) {
    log::info("client_trust", {{"ca", "none"}, {"detail", "client certificates no longer asked"}});
  }
  rt.front.client_trust = std::move(trust);
}

LoginCertificate judge_login_certificate(const Runtime& rt, SSL* ssl,
                                         const config::TunnelGroup& group,
                                         std::string_view typed_user) {
  LoginCertificate out;
  if (group.certificate == auth::CertificateMode::off) {
    out.decision = auth::decide_certificate_login(
        group.certificate, auth::CertificateStatus::missing, std::nullopt, typed_user);
    return out;
  }
  out.check = tls::check_peer_certificate(rt.front.client_trust.get(), ssl);
  const auto cert_user =
      tls::peer_certificate_username(ssl, group.certificate_user, out.user_problem);
  if (cert_user) out.certificate_user = text::sanitize(*cert_user, text::kMaxUsername);
  out.decision =
      auth::decide_certificate_login(group.certificate, out.check.status, cert_user, typed_user);
  return out;
}

namespace {

std::string refusal_detail(auth::CertificateRefusal refusal, const tls::CertificateCheck& check,
                           const std::string& user_problem,
                           const std::optional<std::string>& cert_user) {
  if (refusal == auth::CertificateRefusal::no_user) return user_problem;
  if (refusal == auth::CertificateRefusal::user_mismatch && cert_user)
    return "the certificate names " + text::sanitize(*cert_user, text::kMaxUsername);
  return check.detail;
}

}  // namespace

void log_certificate_login_failed(const LoginCertificate& cert, const std::string& who,
                                  const std::string& peer, const std::string& tunnel_group) {
  const auto refusal = cert.decision.refusal;
  const std::string detail = refusal_detail(
      refusal, cert.check, cert.user_problem,
      cert.certificate_user.empty() ? std::nullopt
                                    : std::optional<std::string>(cert.certificate_user));
  log::warn("login_failed", {{"user", who.empty() ? cert.certificate_user : who},
                             {"public", peer},
                             {"tunnel_group", tunnel_group},
                             {"reason", auth::to_string(refusal)},
                             {"detail", detail},
                             {"cert_subject", cert.check.subject},
                             {"cert_serial", cert.check.serial}});
}

auth::CertificateRefusal resume_certificate_refusal(const Runtime& rt, SSL* ssl,
                                                    const session::Session& s,
                                                    const std::string& peer) {
  const config::TunnelGroup& group = rt.tunnel_group_for(s.tunnel_group);
  if (group.certificate == auth::CertificateMode::off) return auth::CertificateRefusal::none;
  const tls::CertificateCheck check = tls::check_peer_certificate(rt.front.client_trust.get(), ssl);
  std::string problem;
  const auto cert_user = tls::peer_certificate_username(ssl, group.certificate_user, problem);
  const auto refusal =
      auth::check_certificate_resume(group.certificate, check.status, cert_user, s.user);
  if (refusal != auth::CertificateRefusal::none) {
    const std::string detail = refusal_detail(refusal, check, problem, cert_user);
    log::warn("resume_certificate_refused", {{"index", std::to_string(s.index)},
                                             {"user", text::sanitize(s.user, text::kMaxUsername)},
                                             {"public", peer},
                                             {"tunnel_group", s.tunnel_group},
                                             {"reason", auth::to_string(refusal)},
                                             {"detail", detail},
                                             {"cert_subject", check.subject}});
  }
  return refusal;
}

}  // namespace tandem::server
