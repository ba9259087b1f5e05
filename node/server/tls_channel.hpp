#pragma once
// TLS over memory: the established SSL of a tunnel, fed with bytes from the socket and drained
// into buffers for it. No I/O here. It lets a tunnel encrypt many CSTP frames - still one TLS
// record each, as openconnect requires - and send them with one system call, instead of one
// write per frame as a socket-bound stream would.
#include <openssl/types.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace tandem::server {

class TlsChannel {
 public:
  enum class Status { ok, closed, error };

  // Takes over `ssl` (already handshaken; owned elsewhere) by giving it memory BIOs.
  explicit TlsChannel(SSL* ssl);

  // Bytes received from the network; decrypted application data is appended to `plain`.
  Status feed(std::span<const std::uint8_t> network, std::vector<std::uint8_t>& plain);
  // Application data OpenSSL already holds (decrypted before we took over).
  Status drain(std::vector<std::uint8_t>& plain);

  // One SSL_write: exactly one TLS record for a payload up to 16 KiB.
  bool write_record(std::span<const std::uint8_t> plaintext);
  // Encrypted bytes waiting for the network.
  std::size_t pending_output() const;
  // Appends them to `out` and forgets them.
  void take_output(std::vector<std::uint8_t>& out);

  const std::string& error() const { return error_; }

 private:
  Status read_all(std::vector<std::uint8_t>& plain);

  SSL* ssl_;
  BIO* in_;   // owned by ssl_
  BIO* out_;  // owned by ssl_
  std::string error_;
};

}  // namespace tandem::server
