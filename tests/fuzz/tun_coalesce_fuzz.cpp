// Client packets joined for TUN writes (node/tun/coalesce): whatever a client sends, the kernel
// must get exactly those packets back when it cuts the writes up.
//
// The input is a script of 4-byte steps. A step either takes raw bytes from the input as a
// packet (anything at all), or builds a TCP segment of one of three streams, mostly the next one
// in sequence (so that joins happen), sometimes with a gap, another id, other flags or options,
// a bad checksum. When the coalescer is full its writes are taken and it is cleared, as the TUN
// router does. Invariants:
//  - nothing is read or written out of bounds (the sanitizers' part);
//  - every write, cut with the kernel's rules (split_read), gives packets byte-identical to
//    packets that went in; all of them, none twice;
//  - the packets of one TCP stream come out in the order they went in.
#include <sys/uio.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <map>
#include <vector>

#include "node/tun/coalesce.hpp"
#include "node/tun/offload.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using namespace tandem::tun;
using Bytes = std::vector<std::uint8_t>;

void put16(std::uint8_t* p, std::uint32_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}

// The stream a packet belongs to, by the coalescer's own reading (a consistent IPv4 header
// without options or IPv6 fixed header, TCP): empty when it has none.
Bytes stream_of(const Bytes& p) {
  if (p.size() >= 40 && p[0] == 0x45 && p[9] == 6 && (p[2] << 8 | p[3]) == int(p.size()) &&
      ((p[6] << 8 | p[7]) & 0x3fff) == 0) {
    Bytes k(p.begin() + 12, p.begin() + 20);
    k.insert(k.end(), p.begin() + 20, p.begin() + 24);
    return k;
  }
  if (p.size() >= 60 && p[0] >> 4 == 6 && p[6] == 6 && (p[4] << 8 | p[5]) + 40 == int(p.size())) {
    Bytes k(p.begin() + 8, p.begin() + 40);
    k.insert(k.end(), p.begin() + 40, p.begin() + 44);
    return k;
  }
  return {};
}

struct Stream {
  bool v4 = true;
  std::uint16_t port = 0;
  std::uint32_t seq = 0;
  std::uint16_t id = 0;
};

Bytes build(Stream& s, std::uint8_t a, std::uint8_t b, std::uint8_t c) {
  static constexpr std::size_t kPayloads[8] = {1400, 1400, 1400, 1400, 0, 1, 600, 1448};
  const std::size_t payload = (b & 0x20) ? std::size_t{a} * 5 : kPayloads[a & 7];
  const std::size_t ip = s.v4 ? 20 : 40, tcp = (c & 0x40) ? 32 : 20;
  Bytes p(ip + tcp + payload);
  if (b & 0x10) s.seq += 1 + (a >> 4);  // a gap
  if (b & 0x08) s.id += 3;              // an id out of order
  if (s.v4) {
    p[0] = 0x45;
    p[1] = b & 0x03;  // ECN bits
    put16(&p[2], static_cast<std::uint32_t>(p.size()));
    put16(&p[4], s.id);
    p[6] = 0x40;
    p[8] = 64;
    p[9] = 6;
    const std::uint8_t addrs[8] = {10, 0, 0, 2, 10, 9, 0, 1};
    std::memcpy(&p[12], addrs, 8);
    const auto folded = static_cast<std::uint16_t>(~checksum_fold(checksum_add(0, {&p[0], 20})));
    std::memcpy(&p[10], &folded, 2);
  } else {
    p[0] = 0x60;
    put16(&p[4], static_cast<std::uint32_t>(p.size() - 40));
    p[6] = 6;
    p[7] = 64;
    p[23] = 2;
    p[39] = 1;
  }
  std::uint8_t* t = &p[ip];
  put16(t, s.port);
  put16(t + 2, 443);
  put16(t + 4, s.seq >> 16);
  put16(t + 6, s.seq & 0xffff);
  put16(t + 8, 7);
  t[12] = static_cast<std::uint8_t>((tcp / 4) << 4);
  static constexpr std::uint8_t kFlags[8] = {0x10, 0x10, 0x10, 0x18, 0x18, 0x11, 0x12, 0x14};
  t[13] = kFlags[c & 7];
  put16(t + 14, (c & 0x08) ? 100 : 200);
  if (tcp == 32) t[31] = b >> 6;  // a timestamp that changes now and then
  for (std::size_t i = 0; i < payload; ++i) p[ip + tcp + i] = static_cast<std::uint8_t>(a + i);
  const std::uint16_t sum = checksum_fold(
      checksum_add(tcp_pseudo_sum(p.data(), s.v4, p.size() - ip), {t, p.size() - ip}));
  auto check = static_cast<std::uint16_t>(~sum);
  if (c & 0x80) check ^= 0x0101;  // a bad checksum
  std::memcpy(t + 16, &check, 2);
  s.seq += static_cast<std::uint32_t>(payload);
  s.id += 1;
  return p;
}

// What the kernel makes of one write.
void cut(const Coalescer::Write& w, std::vector<Bytes>& out) {
  Bytes read(kVnetHdrSize);
  write_vnet_header(w.header, std::span<std::uint8_t, kVnetHdrSize>(read.data(), kVnetHdrSize));
  for (const iovec& v : w.pieces) {
    const auto* p = static_cast<const std::uint8_t*>(v.iov_base);
    read.insert(read.end(), p, p + v.iov_len);
  }
  FUZZ_CHECK(read.size() == kVnetHdrSize + w.bytes);
  if (w.header.gso_type == kGsoNone) {
    FUZZ_CHECK(w.packets == 1 && w.header.flags == 0);
    out.emplace_back(read.begin() + kVnetHdrSize, read.end());
    return;
  }
  FUZZ_CHECK(w.packets >= 2 && w.packets <= 64 && w.pieces.size() == w.packets);
  Bytes segments(128 * 1024);
  std::vector<std::uint16_t> lengths(128);
  const Split s = split_read(read, segments, lengths);
  FUZZ_CHECK(s.result.drop == OffloadDrop::none && !s.in_place, "a joined write is refused");
  FUZZ_CHECK(s.result.segments == w.packets, "cut into another number of packets");
  std::size_t at = 0;
  for (std::size_t i = 0; i < s.result.segments; ++i) {
    out.emplace_back(segments.begin() + static_cast<std::ptrdiff_t>(at),
                     segments.begin() + static_cast<std::ptrdiff_t>(at + lengths[i]));
    at += lengths[i];
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  Coalescer c((data[0] & 1) ? 4096 : 256 * 1024, (data[0] & 2) ? 3 : 256);
  std::array<Stream, 3> streams;
  for (std::size_t i = 0; i < streams.size(); ++i) {
    streams[i].v4 = !((data[0] >> 2) & (1u << i));
    streams[i].port = static_cast<std::uint16_t>(50000 + i);
    streams[i].seq = 0xffffff00u * static_cast<std::uint32_t>(i & 1);
    streams[i].id = static_cast<std::uint16_t>(0xfff0 * (i & 1));
  }
  std::vector<Bytes> in, out;
  auto take = [&] {
    for (const auto& w : c.writes()) cut(w, out);
    c.clear();
  };
  std::size_t at = 1;
  while (at + 4 <= size && in.size() < 400) {
    const std::uint8_t kind = data[at], a = data[at + 1], b = data[at + 2], cc = data[at + 3];
    at += 4;
    Bytes p;
    if (kind % 4 == 0) {
      const std::size_t n = std::min<std::size_t>(a, size - at);
      p.assign(data + at, data + at + n);
      at += n;
    } else {
      p = build(streams[(kind >> 2) % 3], a, b, cc);
    }
    in.push_back(p);
    if (c.add(p)) continue;
    take();
    if (!c.add(p)) out.push_back(p);  // larger than the whole space: written alone
  }
  take();

  // The same packets, per stream in the same order; those of no stream in any order.
  std::map<Bytes, std::vector<Bytes>> in_by, out_by;
  for (const auto& p : in) in_by[stream_of(p)].push_back(p);
  for (const auto& p : out) out_by[stream_of(p)].push_back(p);
  FUZZ_CHECK(in.size() == out.size(), "packets lost or made up");
  auto& none_in = in_by[Bytes{}];
  auto& none_out = out_by[Bytes{}];
  std::sort(none_in.begin(), none_in.end());
  std::sort(none_out.begin(), none_out.end());
  FUZZ_CHECK(in_by == out_by, "a packet changed, or a stream's order did");
  return 0;
}
