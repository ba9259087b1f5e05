// TUN reads with a virtio-net header (node/tun/offload): what the kernel hands over is trusted
// less than it deserves, so any bytes must be refused or split cleanly.
//
// The first input byte chooses whether the target repairs the IP length field to match the read
// (so that the splitting itself is reached often); the rest is the read, header first.
// Invariants:
//  - nothing is read or written out of bounds (the sanitizers' part);
//  - a refusal reports no segments; an accepted read reports segments that fill exactly the
//    bytes it says, each at most the space given;
//  - a split super-packet's segments each carry valid IPv4 header and TCP checksums, lengths
//    that match their size, and between them exactly the super-packet's payload, in order.
#include <cstdint>
#include <cstring>
#include <vector>

#include "node/tun/offload.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using namespace tandem::tun;

std::uint16_t be16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] << 8 | p[1]); }

// An independent checksum: 16-bit big-endian words.
std::uint32_t sum_be(const std::uint8_t* p, std::size_t n, std::uint32_t sum = 0) {
  for (std::size_t i = 0; i < n; i += 2)
    sum += static_cast<std::uint32_t>(p[i] << 8) | (i + 1 < n ? p[i + 1] : 0);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return sum;
}

bool tcp_checksum_ok(const std::uint8_t* s, std::size_t size, bool v4, std::size_t ip) {
  std::uint8_t pseudo[40] = {};
  std::size_t n;
  const std::size_t tcp_len = size - ip;
  if (v4) {
    std::memcpy(pseudo, s + 12, 8);
    pseudo[9] = 6;
    pseudo[10] = static_cast<std::uint8_t>(tcp_len >> 8);
    pseudo[11] = static_cast<std::uint8_t>(tcp_len);
    n = 12;
  } else {
    std::memcpy(pseudo, s + 8, 32);
    pseudo[34] = static_cast<std::uint8_t>(tcp_len >> 8);
    pseudo[35] = static_cast<std::uint8_t>(tcp_len);
    pseudo[39] = 6;
    n = 40;
  }
  return sum_be(s + ip, tcp_len, sum_be(pseudo, n)) == 0xffff;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  std::vector<std::uint8_t> read(data + 1, data + size);
  if ((data[0] & 1) && read.size() >= kVnetHdrSize + 40) {
    std::uint8_t* p = read.data() + kVnetHdrSize;
    const std::size_t len = read.size() - kVnetHdrSize;
    if (p[0] >> 4 == 4) {
      p[2] = static_cast<std::uint8_t>(len >> 8);
      p[3] = static_cast<std::uint8_t>(len);
    } else {
      p[4] = static_cast<std::uint8_t>((len - 40) >> 8);
      p[5] = static_cast<std::uint8_t>(len - 40);
    }
  }
  const std::vector<std::uint8_t> original = read;
  // Room for a few segments only, sometimes: no_room must be clean too.
  std::vector<std::uint8_t> out((data[0] & 2) ? 4096 : 256 * 1024);
  std::vector<std::uint16_t> lengths((data[0] & 4) ? 3 : 4096);
  const Split s = split_read(read, out, lengths);
  if (s.result.drop != OffloadDrop::none) {
    FUZZ_CHECK(s.result.segments == 0 && s.result.bytes == 0);
    return 0;
  }
  FUZZ_CHECK(s.result.segments >= 1);
  if (s.in_place) {
    FUZZ_CHECK(s.result.segments == 1 && s.result.bytes == read.size() - kVnetHdrSize);
    return 0;
  }
  const VnetHeader h =
      parse_vnet_header(std::span<const std::uint8_t, kVnetHdrSize>(original.data(), kVnetHdrSize));
  const bool v4 = h.gso_type == kGsoTcpV4;
  const std::uint8_t* in = original.data() + kVnetHdrSize;
  const std::size_t ip = v4 ? std::size_t{in[0]} % 16 * 4 : 40;
  const std::size_t headers = ip + std::size_t{in[ip + 12]} / 16 * 4;
  std::size_t at = 0;
  std::vector<std::uint8_t> payload;
  for (std::size_t i = 0; i < s.result.segments; ++i) {
    const std::size_t len = lengths[i];
    FUZZ_CHECK(len > headers && at + len <= out.size());
    const std::uint8_t* seg = out.data() + at;
    FUZZ_CHECK(len - headers <= h.gso_size);
    if (v4) {
      FUZZ_CHECK(be16(seg + 2) == len);
      FUZZ_CHECK(sum_be(seg, ip) == 0xffff, "IPv4 header checksum");
    } else {
      FUZZ_CHECK(be16(seg + 4) + 40u == len);
    }
    FUZZ_CHECK(tcp_checksum_ok(seg, len, v4, ip), "TCP checksum");
    payload.insert(payload.end(), seg + headers, seg + len);
    at += len;
  }
  FUZZ_CHECK(at == s.result.bytes);
  FUZZ_CHECK(payload == std::vector<std::uint8_t>(in + headers, original.data() + original.size()),
             "the segments' payload is not the super-packet's");
  return 0;
}
