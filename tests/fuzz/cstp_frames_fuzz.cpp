// The CSTP frame stream (node/cstp): what a logged-in client sends inside its TLS tunnel, as TLS
// hands it over, cut at any byte.
//
// The input is the stream. It is decoded whole and again appended in chunks (sizes drawn from
// the input, down to single bytes) with frames pulled after every append, as cstp_tunnel.cpp
// does, with the node's payload limit and with a small one. Invariants:
//  - the frames, and whether the stream ends in an error, do not depend on the chunking;
//  - every frame is exactly the bytes it came from (encode() of it gives them back), and its
//    payload is within the limit;
//  - the decoder never holds a whole frame it could have returned: what stays buffered is
//    shorter than a header plus the limit;
//  - after an error it keeps answering error and holds nothing more;
//  - the DISCONNECT helpers give printable ASCII and never read past the payload.
#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "node/config/defaults.hpp"
#include "node/cstp/frame.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using tandem::cstp::Decoder;
using tandem::cstp::Frame;

struct Decoded {
  std::vector<std::pair<std::uint8_t, std::vector<std::uint8_t>>> frames;
  bool error = false;
  std::size_t buffered = 0;
};

void check_frame(const Frame& f, std::span<const std::uint8_t> input, std::size_t& offset,
                 std::size_t max_payload) {
  FUZZ_CHECK(f.payload.size() <= max_payload, "payload of " + std::to_string(f.payload.size()));
  const auto bytes = tandem::cstp::encode(f.type, f.payload);
  FUZZ_CHECK(offset + bytes.size() <= input.size(), "a frame longer than the stream");
  FUZZ_CHECK(
      std::equal(bytes.begin(), bytes.end(), input.begin() + static_cast<std::ptrdiff_t>(offset)),
      "frame at offset " + std::to_string(offset) + " is not the bytes it came from");
  offset += bytes.size();
  if (f.type == tandem::cstp::Type::disconnect) {
    const std::string reason = tandem::cstp::disconnect_reason(f);
    FUZZ_CHECK(reason.size() + 1 <= std::max<std::size_t>(f.payload.size(), 1));
    FUZZ_CHECK(
        std::all_of(reason.begin(), reason.end(), [](char c) { return c >= 0x20 && c < 0x7f; }),
        "unprintable DISCONNECT reason");
    FUZZ_CHECK(tandem::cstp::is_logout(f) == (!f.payload.empty() && f.payload[0] == 0xb0));
  } else {
    FUZZ_CHECK(!tandem::cstp::is_logout(f), "a logout that is not a DISCONNECT");
  }
}

Decoded decode(std::span<const std::uint8_t> input, const std::vector<std::size_t>& chunks,
               std::size_t max_payload) {
  Decoder decoder(max_payload);
  Decoded out;
  std::size_t at = 0;
  std::size_t offset = 0;  // of the next frame in the input
  for (std::size_t n : chunks) {
    const std::size_t before = decoder.buffered();
    decoder.append(input.subspan(at, n));
    at += n;
    if (out.error) {
      FUZZ_CHECK(decoder.buffered() == before, "the decoder kept bytes after an error");
      continue;
    }
    Frame f{};
    Decoder::Status s;
    while ((s = decoder.next(f)) == Decoder::Status::frame) {
      check_frame(f, input, offset, max_payload);
      out.frames.emplace_back(static_cast<std::uint8_t>(f.type),
                              std::vector<std::uint8_t>(f.payload.begin(), f.payload.end()));
    }
    if (s == Decoder::Status::error) {
      out.error = true;
      FUZZ_CHECK(!decoder.error().empty(), "an error without a reason");
      FUZZ_CHECK(decoder.next(f) == Decoder::Status::error, "the decoder recovered from an error");
    } else {
      FUZZ_CHECK(decoder.buffered() == at - offset, "buffered bytes are not the unread tail");
      FUZZ_CHECK(decoder.buffered() < tandem::cstp::kHeaderSize + max_payload,
                 "a whole frame stays buffered: " + std::to_string(decoder.buffered()));
    }
  }
  out.buffered = decoder.buffered();
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  tandem::fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> input(data, size);
  tandem::fuzz::Rng rng(tandem::fuzz::as_chars(data, size));
  const std::vector<std::size_t> whole =
      size ? std::vector<std::size_t>{size} : std::vector<std::size_t>{};
  const std::vector<std::size_t> cut = tandem::fuzz::chunk_sizes(size, rng);
  for (std::size_t max_payload : {tandem::defaults::kMaxCstpPayload, rng.below(300)}) {
    const Decoded a = decode(input, whole, max_payload);
    const Decoded b = decode(input, cut, max_payload);
    FUZZ_CHECK(a.frames == b.frames,
               "frames depend on the chunking: " + std::to_string(a.frames.size()) + " vs " +
                   std::to_string(b.frames.size()));
    FUZZ_CHECK(a.error == b.error, "an error depends on the chunking");
    if (!a.error) FUZZ_CHECK(a.buffered == b.buffered);
  }
  return 0;
}
