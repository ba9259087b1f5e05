#pragma once
// CSTP framing: "STF\x01" + big-endian length + type + 0x00, then the payload.
// Pure functions; each frame is serialized into one contiguous buffer so that the caller can
// hand it to one SSL_write (openconnect requires exactly one frame per TLS record).
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tandem::cstp {

enum class Type : std::uint8_t {
  data = 0x00,
  dpd_request = 0x03,
  dpd_response = 0x04,
  disconnect = 0x05,
  keepalive = 0x07,
  compressed = 0x08,
  terminate = 0x09,
};

inline constexpr std::size_t kHeaderSize = 8;

struct Frame {
  Type type;
  std::span<const std::uint8_t> payload;  // points into the decoder's buffer
};

// Serialize one frame (header + payload) into `out` (cleared first).
void encode(Type type, std::span<const std::uint8_t> payload, std::vector<std::uint8_t>& out);
std::vector<std::uint8_t> encode(Type type, std::span<const std::uint8_t> payload = {});

// Stream decoder: append received bytes, then pull frames until need_more.
class Decoder {
 public:
  enum class Status { frame, need_more, error };

  explicit Decoder(std::size_t max_payload);

  void append(std::span<const std::uint8_t> bytes);
  void append(std::string_view bytes);
  // On `frame`, `out` is valid until the next call to next() or append().
  Status next(Frame& out);
  const std::string& error() const {
    return error_;
  }  // on `error`: bad magic, length over max, ...
  std::size_t buffered() const { return buffer_.size() - consumed_; }

 private:
  std::size_t max_payload_;
  std::vector<std::uint8_t> buffer_;
  std::size_t consumed_ = 0;
  std::string error_;
};

// A client DISCONNECT whose payload starts with 0xb0 is a deliberate logout (S15);
// any other DISCONNECT means "I will be back".
bool is_logout(const Frame& disconnect_frame);
// Reason text of a client DISCONNECT (after the code byte), printable ASCII only.
std::string disconnect_reason(const Frame& disconnect_frame);

}  // namespace tandem::cstp
