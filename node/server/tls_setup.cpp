#include "node/server/tls_setup.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <memory>

#include "node/config/defaults.hpp"

namespace tandem::server {
namespace {

template <class T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;

struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};
using FilePtr = std::unique_ptr<FILE, FileCloser>;

Result<bool> write_self_signed(const std::string& cert_path, const std::string& key_path,
                               const std::string& common_name) {
  PkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return fail("generating key: " + openssl_error());
  X509Ptr cert(X509_new());
  X509_set_version(cert.get(), 2);
  unsigned char serial[16];
  RAND_bytes(serial, sizeof serial);
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 10L * 365 * 24 * 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                             0);
  X509_set_issuer_name(cert.get(), name);
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0)
    return fail("signing: " + openssl_error());

  // The key file must never be readable by others, even for a moment.
  auto old_mask = ::umask(077);
  FilePtr kf(std::fopen(key_path.c_str(), "w"));
  ::umask(old_mask);
  if (!kf) return fail("cannot write " + key_path);
  if (PEM_write_PrivateKey(kf.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return fail("writing " + key_path + ": " + openssl_error());
  FilePtr cf(std::fopen(cert_path.c_str(), "w"));
  if (!cf) return fail("cannot write " + cert_path);
  if (PEM_write_X509(cf.get(), cert.get()) != 1)
    return fail("writing " + cert_path + ": " + openssl_error());
  return true;
}

}  // namespace

Result<bool> apply_tls_policy(SSL_CTX* ctx) {
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1)
    return fail("cannot restrict to TLS 1.2 and 1.3: " + openssl_error());
  if (SSL_CTX_set_cipher_list(ctx, defaults::kTls12Ciphers) != 1)
    return fail("TLS 1.2 cipher list: " + openssl_error());
  if (SSL_CTX_set_ciphersuites(ctx, defaults::kTls13Ciphersuites) != 1)
    return fail("TLS 1.3 cipher suites: " + openssl_error());
  if (SSL_CTX_set1_groups_list(ctx, defaults::kTlsGroups) != 1)
    return fail("key exchange groups: " + openssl_error());
  // S10: no TLS session resumption, so a session is never rebuilt from anything but the token.
  // TLS 1.2: no tickets and no server-side cache (so no session IDs to resume); TLS 1.3: no
  // tickets at all (NO_TICKET alone would only make 1.3 tickets stateful).
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION |
                               SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
  SSL_CTX_clear_options(
      ctx, SSL_OP_ALLOW_CLIENT_RENEGOTIATION | SSL_OP_ALLOW_UNSAFE_LEGACY_RENEGOTIATION);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  if (SSL_CTX_set_num_tickets(ctx, 0) != 1)
    return fail("cannot turn TLS 1.3 tickets off: " + openssl_error());
  return true;
}

std::string openssl_error() {
  unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown error";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof buf);
  return buf;
}

Result<std::string> public_key_pin(X509* cert) {
  EVP_PKEY* pub = X509_get0_pubkey(cert);
  if (!pub) return fail("certificate has no public key");
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(pub, &der);
  if (len <= 0) return fail("encoding public key: " + openssl_error());
  unsigned char digest[32];
  EVP_Digest(der, static_cast<size_t>(len), digest, nullptr, EVP_sha256(), nullptr);
  OPENSSL_free(der);
  unsigned char b64[64];
  int n = EVP_EncodeBlock(b64, digest, sizeof digest);
  return "pin-sha256:" + std::string(reinterpret_cast<char*>(b64), static_cast<size_t>(n));
}

Result<TlsIdentity> make_server_tls(const std::string& certificate, const std::string& private_key,
                                    const std::string& state_dir, const std::string& common_name) {
  TlsIdentity id;
  std::string cert_path = certificate, key_path = private_key;
  if (cert_path.empty()) {
    id.self_signed = true;
    cert_path = state_dir + "/self-signed-cert.pem";
    key_path = state_dir + "/self-signed-key.pem";
    std::error_code ec;
    if (!std::filesystem::exists(cert_path, ec) || !std::filesystem::exists(key_path, ec)) {
      if (auto r = write_self_signed(cert_path, key_path, common_name); !r)
        return fail("self-signed certificate: " + r.error());
    }
  }
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) return fail("SSL_CTX_new: " + openssl_error());
  if (auto r = apply_tls_policy(ctx); !r) {
    SSL_CTX_free(ctx);
    return fail(r.error());
  }
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_path.c_str()) != 1) {
    SSL_CTX_free(ctx);
    return fail("certificate " + cert_path + ": " + openssl_error());
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, key_path.c_str(), SSL_FILETYPE_PEM) != 1) {
    SSL_CTX_free(ctx);
    return fail("private key " + key_path + ": " + openssl_error());
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    SSL_CTX_free(ctx);
    return fail("private key " + key_path + " does not match " + cert_path);
  }
  auto pin = public_key_pin(SSL_CTX_get0_certificate(ctx));
  if (!pin) {
    SSL_CTX_free(ctx);
    return fail(pin.error());
  }
  id.ctx = ctx;
  id.certificate = cert_path;
  id.pin = *pin;
  return id;
}

}  // namespace tandem::server
