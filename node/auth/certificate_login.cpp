#include "node/auth/certificate_login.hpp"

namespace tandem::auth {

bool parse_certificate_mode(std::string_view text, CertificateMode& out) {
  if (text == "off")
    out = CertificateMode::off;
  else if (text == "required")
    out = CertificateMode::required;
  else if (text == "with_password")
    out = CertificateMode::with_password;
  else
    return false;
  return true;
}

const char* to_string(CertificateMode mode) noexcept {
  switch (mode) {
    case CertificateMode::off:
      return "off";
    case CertificateMode::required:
      return "required";
    case CertificateMode::with_password:
      return "with_password";
  }
  return "?";
}

bool parse_certificate_user(std::string_view text, CertificateUser& out) {
  if (text == "cn")
    out = CertificateUser::cn;
  else if (text == "uid")
    out = CertificateUser::uid;
  else if (text == "san_email")
    out = CertificateUser::san_email;
  else if (text == "san_upn")
    out = CertificateUser::san_upn;
  else
    return false;
  return true;
}

const char* to_string(CertificateUser field) noexcept {
  switch (field) {
    case CertificateUser::cn:
      return "cn";
    case CertificateUser::uid:
      return "uid";
    case CertificateUser::san_email:
      return "san_email";
    case CertificateUser::san_upn:
      return "san_upn";
  }
  return "?";
}

const char* to_string(CertificateRefusal refusal) noexcept {
  switch (refusal) {
    case CertificateRefusal::none:
      return "none";
    case CertificateRefusal::missing:
      return "client_cert_missing";
    case CertificateRefusal::untrusted:
      return "client_cert_untrusted";
    case CertificateRefusal::revoked:
      return "client_cert_revoked";
    case CertificateRefusal::expired:
      return "client_cert_expired";
    case CertificateRefusal::invalid:
      return "client_cert_invalid";
    case CertificateRefusal::no_user:
      return "client_cert_no_user";
    case CertificateRefusal::user_mismatch:
      return "client_cert_user_mismatch";
  }
  return "?";
}

const char* to_string(AuthMethod method) noexcept {
  switch (method) {
    case AuthMethod::password:
      return "password";
    case AuthMethod::certificate:
      return "certificate";
    case AuthMethod::certificate_and_password:
      return "certificate+password";
    case AuthMethod::radius:
      return "radius";
  }
  return "?";
}

AuthMethod auth_method_of(CertificateMode mode) noexcept {
  switch (mode) {
    case CertificateMode::required:
      return AuthMethod::certificate;
    case CertificateMode::with_password:
      return AuthMethod::certificate_and_password;
    case CertificateMode::off:
      break;
  }
  return AuthMethod::password;
}

namespace {

CertificateRefusal refusal_of(CertificateStatus status) {
  switch (status) {
    case CertificateStatus::valid:
      return CertificateRefusal::none;
    case CertificateStatus::missing:
      return CertificateRefusal::missing;
    case CertificateStatus::untrusted:
      return CertificateRefusal::untrusted;
    case CertificateStatus::revoked:
      return CertificateRefusal::revoked;
    case CertificateStatus::expired:
      return CertificateRefusal::expired;
    case CertificateStatus::invalid:
      break;
  }
  return CertificateRefusal::invalid;
}

// The certificate must pass and name `expected_user` (exactly: a username is an identifier,
// and the users file and the group's `users` compare it byte for byte too).
CertificateRefusal judge(CertificateStatus status, const std::optional<std::string>& cert_user,
                         std::string_view expected_user) {
  if (const auto r = refusal_of(status); r != CertificateRefusal::none) return r;
  if (!cert_user || cert_user->empty()) return CertificateRefusal::no_user;
  if (*cert_user != expected_user) return CertificateRefusal::user_mismatch;
  return CertificateRefusal::none;
}

}  // namespace

CertificateDecision decide_certificate_login(CertificateMode mode, CertificateStatus status,
                                             const std::optional<std::string>& certificate_user,
                                             std::string_view typed_user) {
  CertificateDecision d;
  switch (mode) {
    case CertificateMode::off:
      // A certificate the client sent anyway is ignored, whatever its state.
      d.user = std::string(typed_user);
      return d;
    case CertificateMode::required:
      d.password_needed = false;
      d.refusal = refusal_of(status);
      if (d.refusal == CertificateRefusal::none && (!certificate_user || certificate_user->empty()))
        d.refusal = CertificateRefusal::no_user;
      if (d.refusal == CertificateRefusal::none) d.user = *certificate_user;
      return d;
    case CertificateMode::with_password:
      d.refusal = judge(status, certificate_user, typed_user);
      if (d.refusal == CertificateRefusal::none) d.user = std::string(typed_user);
      return d;
  }
  d.refusal = CertificateRefusal::invalid;
  return d;
}

CertificateRefusal check_certificate_resume(CertificateMode mode, CertificateStatus status,
                                            const std::optional<std::string>& certificate_user,
                                            std::string_view session_user) {
  if (mode == CertificateMode::off) return CertificateRefusal::none;
  // "revoked" ends the session (tunnel_connect.cpp): only for the user's own certificate, so
  // that someone holding a stolen token and some other revoked certificate cannot end it.
  if (status == CertificateStatus::revoked) {
    if (!certificate_user || certificate_user->empty()) return CertificateRefusal::no_user;
    if (*certificate_user != session_user) return CertificateRefusal::user_mismatch;
    return CertificateRefusal::revoked;
  }
  return judge(status, certificate_user, session_user);
}

}  // namespace tandem::auth
