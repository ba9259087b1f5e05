#include "node/tls/client_certificate.hpp"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <vector>

#include "base/text.hpp"

namespace tandem::tls {
namespace {

std::string last_openssl_error() {
  unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown error";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof buf);
  return buf;
}

struct InfoStackFree {
  void operator()(STACK_OF(X509_INFO) * s) const { sk_X509_INFO_pop_free(s, X509_INFO_free); }
};
using InfoStack = std::unique_ptr<STACK_OF(X509_INFO), InfoStackFree>;

// Every certificate and CRL of a PEM file.
Result<InfoStack> read_pem(const std::string& path) {
  BIO* bio = BIO_new_file(path.c_str(), "r");
  if (!bio) {
    ERR_clear_error();
    return fail("cannot read " + path);
  }
  InfoStack infos(PEM_X509_INFO_read_bio(bio, nullptr, nullptr, nullptr));
  BIO_free(bio);
  if (!infos) return fail(path + ": not PEM: " + last_openssl_error());
  return infos;
}

long long asn1_time_unix(const ASN1_TIME* t) {
  struct tm tm {};
  if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return static_cast<long long>(timegm(&tm));
}

std::string subject_line(X509* cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(n > 0 ? n : 0));
  BIO_free(bio);
  return text::sanitize(out);
}

std::string serial_hex(X509* cert) {
  BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr);
  if (!bn) return "";
  char* hex = BN_bn2hex(bn);
  std::string out = hex ? hex : "";
  OPENSSL_free(hex);
  BN_free(bn);
  return out;
}

auth::CertificateStatus classify(int error) {
  using S = auth::CertificateStatus;
  switch (error) {
    case X509_V_ERR_CERT_REVOKED:
      return S::revoked;
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return S::expired;
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
    case X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE:
    case X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY:
    case X509_V_ERR_CERT_UNTRUSTED:
    case X509_V_ERR_CERT_REJECTED:
    case X509_V_ERR_CERT_CHAIN_TOO_LONG:
      return S::untrusted;
    default:
      return S::invalid;
  }
}

// A username as the rest of the node handles one: printable UTF-8, bounded.
Result<std::string> usable(std::string value, const char* what) {
  if (value.empty()) return fail(std::string(what) + " is empty");
  if (!text::is_valid_utf8(value) || value.size() > text::kMaxUsername ||
      text::sanitize(value, text::kMaxUsername) != value)
    return fail(std::string(what) + " is not a usable username (not UTF-8, control characters" +
                " or longer than " + std::to_string(text::kMaxUsername) + " bytes)");
  return value;
}

std::string asn1_utf8(const ASN1_STRING* s) {
  unsigned char* out = nullptr;
  int n = ASN1_STRING_to_UTF8(&out, s);
  if (n < 0) {
    ERR_clear_error();
    return std::string("\x01", 1);  // fails `usable`
  }
  std::string v(reinterpret_cast<char*>(out), static_cast<std::size_t>(n));
  OPENSSL_free(out);
  return v;
}

Result<std::string> subject_field(X509* cert, int nid, const char* what) {
  X509_NAME* name = X509_get_subject_name(cert);
  int at = X509_NAME_get_index_by_NID(name, nid, -1);
  if (at < 0) return fail(std::string("no ") + what + " in the certificate's subject");
  if (X509_NAME_get_index_by_NID(name, nid, at) >= 0)
    return fail(std::string("more than one ") + what + " in the certificate's subject");
  return usable(asn1_utf8(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, at))), what);
}

Result<std::string> san_field(X509* cert, auth::CertificateUser field) {
  const bool email = field == auth::CertificateUser::san_email;
  const char* what = email ? "subjectAltName email" : "subjectAltName UPN";
  int crit = 0;
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, &crit, nullptr));
  if (!names) {
    ERR_clear_error();
    return fail(crit == -2 ? std::string("more than one subjectAltName extension")
                           : std::string("no ") + what + " in the certificate");
  }
  std::vector<std::string> found;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* g = sk_GENERAL_NAME_value(names, i);
    if (email && g->type == GEN_EMAIL) found.push_back(asn1_utf8(g->d.rfc822Name));
    if (!email && g->type == GEN_OTHERNAME && OBJ_obj2nid(g->d.otherName->type_id) == NID_ms_upn) {
      const ASN1_TYPE* v = g->d.otherName->value;
      found.push_back(v && v->type == V_ASN1_UTF8STRING ? asn1_utf8(v->value.utf8string)
                                                        : std::string("\x01", 1));
    }
  }
  GENERAL_NAMES_free(names);
  if (found.empty()) return fail(std::string("no ") + what + " in the certificate");
  // Several would make the login name the certificate holder's choice among them.
  if (found.size() > 1) return fail(std::string("more than one ") + what + " in the certificate");
  return usable(found.front(), what);
}

// The handshake accepts any chain: the login verifies it (see the header).
int accept_at_handshake(X509_STORE_CTX*, void*) { return 1; }

}  // namespace

ClientTrust::~ClientTrust() { X509_STORE_free(store_); }

Result<std::shared_ptr<const ClientTrust>> ClientTrust::load(const std::string& ca,
                                                             const std::string& crl) {
  std::shared_ptr<ClientTrust> t(new ClientTrust());
  t->ca_ = ca;
  t->crl_ = crl;
  t->store_ = X509_STORE_new();
  if (!t->store_) return fail("X509_STORE_new: " + last_openssl_error());
  auto cas = read_pem(ca);
  if (!cas) return fail("client_ca: " + cas.error());
  std::vector<X509*> ca_certs;
  for (int i = 0; i < sk_X509_INFO_num(cas->get()); ++i) {
    X509_INFO* info = sk_X509_INFO_value(cas->get(), i);
    if (!info->x509) continue;
    if (X509_STORE_add_cert(t->store_, info->x509) != 1)
      return fail("client_ca " + ca + ": " + last_openssl_error());
    ca_certs.push_back(info->x509);
    ++t->ca_count_;
  }
  if (t->ca_count_ == 0) return fail("client_ca " + ca + ": no certificate in the file");
  if (!crl.empty()) {
    auto crls = read_pem(crl);
    if (!crls) return fail("client_crl: " + crls.error());
    for (int i = 0; i < sk_X509_INFO_num(crls->get()); ++i) {
      X509_CRL* c = sk_X509_INFO_value(crls->get(), i)->crl;
      if (!c) continue;
      // A CRL no configured CA signed would never be consulted, and every certificate of the
      // CA it was meant for would be refused for want of a CRL: say so now.
      bool signed_by_ca = false;
      for (X509* cert : ca_certs) {
        if (X509_NAME_cmp(X509_get_subject_name(cert), X509_CRL_get_issuer(c)) == 0 &&
            X509_CRL_verify(c, X509_get0_pubkey(cert)) == 1)
          signed_by_ca = true;
      }
      ERR_clear_error();
      if (!signed_by_ca)
        return fail("client_crl " + crl + ": CRL " + std::to_string(t->crl_count_ + 1) +
                    " is not signed by a CA of client_ca");
      if (X509_STORE_add_crl(t->store_, c) != 1)
        return fail("client_crl " + crl + ": " + last_openssl_error());
      const long long next = asn1_time_unix(X509_CRL_get0_nextUpdate(c));
      if (next != 0 && (t->next_update_ == 0 || next < t->next_update_)) t->next_update_ = next;
      ++t->crl_count_;
    }
    if (t->crl_count_ == 0) return fail("client_crl " + crl + ": no CRL in the file");
    // The leaf's issuer must have a CRL (CRL_CHECK); intermediates are not checked (that
    // would need CRL_CHECK_ALL and a CRL from every CA up to the root).
    X509_STORE_set_flags(t->store_, X509_V_FLAG_CRL_CHECK);
  }
  return std::shared_ptr<const ClientTrust>(std::move(t));
}

void request_client_certificates(SSL_CTX* ctx, const ClientTrust* trust) {
  STACK_OF(X509_NAME)* names = sk_X509_NAME_new_null();
  if (!trust) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    SSL_CTX_set_client_CA_list(ctx, names);
    return;
  }
  STACK_OF(X509_OBJECT)* objects = X509_STORE_get0_objects(trust->store());
  for (int i = 0; i < sk_X509_OBJECT_num(objects); ++i) {
    X509* cert = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objects, i));
    if (!cert) continue;  // a CRL
    if (X509_NAME* name = X509_NAME_dup(X509_get_subject_name(cert)))
      sk_X509_NAME_push(names, name);
  }
  SSL_CTX_set_client_CA_list(ctx, names);  // takes ownership
  // PEER without FAIL_IF_NO_PEER_CERT: ask, never insist; the login decides per group.
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  SSL_CTX_set_cert_verify_callback(ctx, accept_at_handshake, nullptr);
}

CertificateCheck verify_client_certificate(const ClientTrust* trust, X509* leaf,
                                           STACK_OF(X509) * chain) {
  CertificateCheck out;
  if (!leaf) {
    out.detail = "no client certificate";
    return out;
  }
  out.subject = subject_line(leaf);
  out.serial = serial_hex(leaf);
  if (!trust) {
    out.status = auth::CertificateStatus::untrusted;
    out.detail = "no client_ca configured";
    return out;
  }
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  if (!ctx || X509_STORE_CTX_init(ctx, trust->store(), leaf, chain) != 1) {
    X509_STORE_CTX_free(ctx);
    out.status = auth::CertificateStatus::invalid;
    out.detail = "cannot verify: " + last_openssl_error();
    return out;
  }
  X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
  const int ok = X509_verify_cert(ctx);
  // The first error OpenSSL met: it builds the chain first (untrusted), then checks revocation,
  // then signatures and validity periods.
  const int error = X509_STORE_CTX_get_error(ctx);
  X509_STORE_CTX_free(ctx);
  ERR_clear_error();
  if (ok == 1) {
    out.status = auth::CertificateStatus::valid;
    return out;
  }
  out.status = classify(error == X509_V_OK ? X509_V_ERR_UNSPECIFIED : error);
  out.detail = X509_verify_cert_error_string(error);
  return out;
}

CertificateCheck check_peer_certificate(const ClientTrust* trust, SSL* ssl) {
  return verify_client_certificate(trust, SSL_get0_peer_certificate(ssl),
                                   SSL_get_peer_cert_chain(ssl));
}

Result<std::string> certificate_username(X509* cert, auth::CertificateUser field) {
  if (!cert) return fail("no certificate");
  switch (field) {
    case auth::CertificateUser::cn:
      return subject_field(cert, NID_commonName, "commonName");
    case auth::CertificateUser::uid:
      return subject_field(cert, NID_userId, "userId (UID)");
    case auth::CertificateUser::san_email:
    case auth::CertificateUser::san_upn:
      return san_field(cert, field);
  }
  return fail("unknown certificate_user");
}

std::optional<std::string> peer_certificate_username(SSL* ssl, auth::CertificateUser field,
                                                     std::string& why) {
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (!cert) return std::nullopt;
  auto user = certificate_username(cert, field);
  if (!user) {
    why = user.error();
    return std::nullopt;
  }
  return *user;
}

}  // namespace tandem::tls
