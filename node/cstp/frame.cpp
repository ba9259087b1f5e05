#include "node/cstp/frame.hpp"

#include <algorithm>
#include <cassert>
#include <cstdio>
#include <iterator>

namespace tandem::cstp {
namespace {

constexpr std::uint8_t kMagic[4] = {'S', 'T', 'F', 0x01};

std::string hex_bytes(std::span<const std::uint8_t> bytes) {
  std::string out;
  for (std::uint8_t b : bytes) {
    char buf[4];
    std::snprintf(buf, sizeof buf, "%02x", b);
    if (!out.empty()) out += ' ';
    out += buf;
  }
  return out;
}

}  // namespace

void encode(Type type, std::span<const std::uint8_t> payload, std::vector<std::uint8_t>& out) {
  assert(payload.size() <= 0xffff && "CSTP payload length is 16 bits");
  out.clear();
  out.reserve(kHeaderSize + payload.size());
  out.insert(out.end(), std::begin(kMagic), std::end(kMagic));
  out.push_back(static_cast<std::uint8_t>(payload.size() >> 8));
  out.push_back(static_cast<std::uint8_t>(payload.size() & 0xff));
  out.push_back(static_cast<std::uint8_t>(type));
  out.push_back(0);
  out.insert(out.end(), payload.begin(), payload.end());
}

std::vector<std::uint8_t> encode(Type type, std::span<const std::uint8_t> payload) {
  std::vector<std::uint8_t> out;
  encode(type, payload, out);
  return out;
}

Decoder::Decoder(std::size_t max_payload) : max_payload_(max_payload) {}

void Decoder::append(std::span<const std::uint8_t> bytes) {
  // Once the stream is out of sync there is no way back into it; don't hold what follows.
  if (!error_.empty()) return;
  // Dropping consumed bytes here (not in next()) moves the unread tail once per append rather
  // than once per frame, and keeps the buffer at most one frame plus one append in size.
  if (consumed_ > 0) {
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(consumed_));
    consumed_ = 0;
  }
  buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
}

void Decoder::append(std::string_view bytes) {
  const auto* data = reinterpret_cast<const std::uint8_t*>(bytes.data());
  append(std::span<const std::uint8_t>(data, bytes.size()));
}

Decoder::Status Decoder::next(Frame& out) {
  if (!error_.empty()) return Status::error;
  if (consumed_ == buffer_.size()) {  // everything handed out: the previous frame is released
    buffer_.clear();
    consumed_ = 0;
  }
  std::span<const std::uint8_t> avail(buffer_.data() + consumed_, buffer_.size() - consumed_);
  // Header fields are checked as soon as their bytes arrive, so a peer that is not speaking CSTP
  // (or lies about a length) is caught before we wait for, or buffer, a payload.
  std::size_t magic_seen = std::min(avail.size(), std::size(kMagic));
  if (!std::ranges::equal(avail.first(magic_seen), std::span(kMagic).first(magic_seen))) {
    error_ = "bad magic " + hex_bytes(avail.first(magic_seen)) + " (expected 53 54 46 01)";
    return Status::error;
  }
  if (avail.size() >= 6) {
    std::size_t length = (std::size_t{avail[4]} << 8) | avail[5];
    if (length > max_payload_) {
      error_ = "frame length " + std::to_string(length) + " over the " +
               std::to_string(max_payload_) + "-byte limit";
      return Status::error;
    }
  }
  if (avail.size() >= kHeaderSize && avail[7] != 0) {
    error_ = "nonzero reserved header byte 7 (" + hex_bytes(avail.subspan(7, 1)) + ")";
    return Status::error;
  }
  if (avail.size() < kHeaderSize) return Status::need_more;
  std::size_t length = (std::size_t{avail[4]} << 8) | avail[5];
  if (avail.size() < kHeaderSize + length) return Status::need_more;
  out.type = static_cast<Type>(avail[6]);  // unknown types too: the caller decides
  out.payload = avail.subspan(kHeaderSize, length);
  consumed_ += kHeaderSize + length;
  return Status::frame;
}

bool is_logout(const Frame& disconnect_frame) {
  return disconnect_frame.type == Type::disconnect && !disconnect_frame.payload.empty() &&
         disconnect_frame.payload[0] == 0xb0;
}

std::string disconnect_reason(const Frame& disconnect_frame) {
  if (disconnect_frame.payload.size() < 2) return {};
  std::string out;
  for (std::uint8_t b : disconnect_frame.payload.subspan(1)) {
    if (b == 0) break;  // some clients NUL-terminate the text
    // The reason goes into logs: nothing that could forge a line or a terminal sequence.
    out += (b >= 0x20 && b < 0x7f) ? static_cast<char>(b) : '?';
  }
  return out;
}

}  // namespace tandem::cstp
