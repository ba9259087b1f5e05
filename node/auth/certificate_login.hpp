#pragma once
// Client certificates at login (docs/client-certificates.md): what a tunnel group asks for, and
// the decision made from what the certificate check found and what the client typed. Pure: the
// OpenSSL side (verifying the chain, reading the name) is node/tls/client_certificate.hpp.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tandem::auth {

// [tunnel_group.NAME] certificate: off = password only; required = the certificate alone (the
// username comes from it, no password is asked); with_password = both, and the typed username
// must be the certificate's.
enum class CertificateMode : std::uint8_t { off, required, with_password };
bool parse_certificate_mode(std::string_view text, CertificateMode& out);
const char* to_string(CertificateMode mode) noexcept;

// [tunnel_group.NAME] certificate_user: where the username is read from the certificate.
enum class CertificateUser : std::uint8_t {
  cn,         // subject commonName
  uid,        // subject userId (0.9.2342.19200300.100.1.1)
  san_email,  // subjectAltName rfc822Name
  san_upn,    // subjectAltName otherName, Microsoft UPN (1.3.6.1.4.1.311.20.2.3)
};
bool parse_certificate_user(std::string_view text, CertificateUser& out);
const char* to_string(CertificateUser field) noexcept;

// What verifying the client's certificate against [tls] client_ca / client_crl found.
enum class CertificateStatus : std::uint8_t {
  missing,    // the client sent none (or the node asks for none: no client_ca)
  valid,      // chains to the CA, not revoked, in its validity period, fit for client auth
  untrusted,  // does not chain to the configured CA (another CA, self-signed, bad signature)
  revoked,    // listed in the CRL
  expired,    // outside its validity period (expired or not yet valid)
  invalid,    // anything else: no usable CRL, wrong key usage, ... (the detail says what)
};

// Why a certificate login or resume is refused: the `reason` the log shows.
enum class CertificateRefusal : std::uint8_t {
  none,
  missing,        // client_cert_missing
  untrusted,      // client_cert_untrusted
  revoked,        // client_cert_revoked
  expired,        // client_cert_expired
  invalid,        // client_cert_invalid
  no_user,        // client_cert_no_user: the configured field is absent, repeated or unprintable
  user_mismatch,  // client_cert_user_mismatch: not the typed (or the session's) username
};
const char* to_string(CertificateRefusal refusal) noexcept;

// How a session was authenticated (tandemctl show sessions --detail).
// `radius`: the password was checked by the [radius] servers (docs/radius.md).
enum class AuthMethod : std::uint8_t { password, certificate, certificate_and_password, radius };
const char* to_string(AuthMethod method) noexcept;
AuthMethod auth_method_of(CertificateMode mode) noexcept;

struct CertificateDecision {
  CertificateRefusal refusal = CertificateRefusal::none;
  bool password_needed = true;  // false only for `required`: the certificate is the credential
  std::string user;             // who logs in (when not refused)
};

// The login decision for a group's mode. `certificate_user` is the username read from the
// certificate (nullopt when it has none usable); `typed_user` is what the client typed (empty
// for a `required` group, which asks for nothing). The certificate is judged before the
// password, so a refused certificate costs no hash.
CertificateDecision decide_certificate_login(CertificateMode mode, CertificateStatus status,
                                             const std::optional<std::string>& certificate_user,
                                             std::string_view typed_user);

// The same check when a session of a certificate group resumes (CONNECT with its token): the
// certificate presented now must still pass and name the session's user. `off`: none.
// `revoked` only for a revoked certificate that names the session's user (it ends the session).
CertificateRefusal check_certificate_resume(CertificateMode mode, CertificateStatus status,
                                            const std::optional<std::string>& certificate_user,
                                            std::string_view session_user);

}  // namespace tandem::auth
