#include "node/server/tls_channel.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cstring>

namespace tandem::server {

TlsChannel::TlsChannel(SSL* ssl)
    : ssl_(ssl), in_(BIO_new(BIO_s_mem())), out_(BIO_new(BIO_s_mem())) {
  // An empty input BIO means "nothing yet", not end of stream.
  BIO_set_mem_eof_return(in_, -1);
  SSL_set_bio(ssl_, in_, out_);  // the SSL owns both now (and drops its old ones)
  // The record buffers (about 17 KiB each way) are freed while there is nothing in them: most
  // tunnels are idle most of the time, and a node holds tens of thousands.
  SSL_set_mode(ssl_, SSL_MODE_RELEASE_BUFFERS);
}

TlsChannel::Status TlsChannel::read_all(std::vector<std::uint8_t>& plain) {
  std::uint8_t buf[16 * 1024];
  for (;;) {
    ERR_clear_error();
    int n = SSL_read(ssl_, buf, sizeof buf);
    if (n > 0) {
      const std::size_t at = plain.size();
      plain.resize(at + static_cast<std::size_t>(n));
      std::memcpy(plain.data() + at, buf, static_cast<std::size_t>(n));
      continue;
    }
    int err = SSL_get_error(ssl_, n);
    if (err == SSL_ERROR_WANT_READ) return Status::ok;
    if (err == SSL_ERROR_ZERO_RETURN) return Status::closed;
    unsigned long code = ERR_get_error();
    char text[256] = "TLS error";
    if (code != 0) ERR_error_string_n(code, text, sizeof text);
    error_ = text;
    return Status::error;
  }
}

TlsChannel::Status TlsChannel::feed(std::span<const std::uint8_t> network,
                                    std::vector<std::uint8_t>& plain) {
  if (!network.empty()) BIO_write(in_, network.data(), static_cast<int>(network.size()));
  return read_all(plain);
}

TlsChannel::Status TlsChannel::drain(std::vector<std::uint8_t>& plain) { return read_all(plain); }

bool TlsChannel::write_record(std::span<const std::uint8_t> plaintext) {
  ERR_clear_error();
  // A memory BIO never pushes back, so the whole payload is written as one record.
  return SSL_write(ssl_, plaintext.data(), static_cast<int>(plaintext.size())) ==
         static_cast<int>(plaintext.size());
}

std::size_t TlsChannel::pending_output() const { return BIO_ctrl_pending(out_); }

void TlsChannel::take_output(std::vector<std::uint8_t>& out) {
  char* data = nullptr;
  long n = BIO_get_mem_data(out_, &data);
  if (n <= 0) return;
  // One memcpy: inserting char data into a vector of bytes would copy element by element.
  const std::size_t at = out.size();
  out.resize(at + static_cast<std::size_t>(n));
  std::memcpy(out.data() + at, data, static_cast<std::size_t>(n));
  (void)BIO_reset(out_);
}

}  // namespace tandem::server
