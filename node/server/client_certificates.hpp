#pragma once
// Client certificates at the I/O edge (docs/client-certificates.md): the trust loaded from
// [tls] client_ca / client_crl and put in force, and the per-group judgement of the certificate
// a connection presented, at login and when a session resumes. The decisions themselves are
// pure (node/auth/certificate_login.hpp).
#include <openssl/types.h>

#include <memory>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "node/auth/certificate_login.hpp"
#include "node/config/config.hpp"
#include "node/session/session.hpp"
#include "node/tls/client_certificate.hpp"

namespace tandem::server {

struct Runtime;

// The trust `config` names; nullptr when it names no client_ca. Errors name the file.
Result<std::shared_ptr<const tls::ClientTrust>> load_client_trust(const config::Config& config);

// Puts `trust` in force: new handshakes ask for a certificate (or stop asking, when null), and
// logins and resumes verify against it. Logs what is in force (client_trust).
void install_client_trust(Runtime& rt, std::shared_ptr<const tls::ClientTrust> trust);

// The certificate a login presented, judged for its tunnel group.
struct LoginCertificate {
  auth::CertificateDecision decision;
  tls::CertificateCheck check;
  std::string certificate_user;  // the username in the certificate (sanitised), if any
  std::string user_problem;      // why the certificate gave no username, when it gave none
};
LoginCertificate judge_login_certificate(const Runtime& rt, SSL* ssl,
                                         const config::TunnelGroup& group,
                                         std::string_view typed_user);

// login_failed for a refused certificate: the reason code, OpenSSL's detail, the subject.
void log_certificate_login_failed(const LoginCertificate& cert, const std::string& who,
                                  const std::string& peer, const std::string& tunnel_group);

// A session of a certificate group resuming (CONNECT): none, or why the certificate presented
// now is refused. Logs the refusal (connect_refused has the reason code; this adds the detail).
auth::CertificateRefusal resume_certificate_refusal(const Runtime& rt, SSL* ssl,
                                                    const session::Session& s,
                                                    const std::string& peer);

}  // namespace tandem::server
