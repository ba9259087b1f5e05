#include "node/tun/coalesce.hpp"

#include <algorithm>
#include <cstring>

#include "node/tun/ip_fields.hpp"

namespace tandem::tun {

// Packets per write: the kernel's GRO stops at 64 too, and it bounds the iovecs of one writev.
constexpr std::size_t kMaxJoined = 64;

// What a packet is, as far as joining goes.
struct Coalescer::Parsed {
  bool tcp = false;       // IPv4 without options or IPv6 without extension headers, carrying TCP
  bool segment = false;   // ...and a data segment that may be joined: checks below all passed
  bool v4 = true;
  std::size_t ip_len = 0;
  std::size_t headers = 0;
  std::size_t payload = 0;
  std::uint32_t seq = 0;
  bool psh = false;
};

namespace {

// The checksum field at `field` holds exactly what a sender computes over `bytes` (with the
// field taken as zero) plus `sum`: what the kernel would write again when it cuts a write up.
bool checksum_exact(std::uint64_t sum, std::span<const std::uint8_t> bytes, std::size_t field) {
  sum = checksum_add(sum, bytes.first(field));
  sum = checksum_add(sum, bytes.subspan(field + 2));
  const auto expected = static_cast<std::uint16_t>(~checksum_fold(sum));
  std::uint16_t stored;
  std::memcpy(&stored, bytes.data() + field, 2);
  return stored == expected;
}

// Bytes [from, to) of both packets' headers are equal.
bool same(const std::uint8_t* a, const std::uint8_t* b, std::size_t from, std::size_t to) {
  return std::memcmp(a + from, b + from, to - from) == 0;
}

}  // namespace

Coalescer::Parsed Coalescer::parse(std::span<const std::uint8_t> p) {
  Parsed r;
  if (p.size() >= 20 && p[0] == 0x45) {
    if (p[9] != kTcp || get16(&p[2]) != p.size()) return r;
    if ((get16(&p[6]) & 0x3fff) != 0) return r;  // a fragment: MF or an offset
    r.v4 = true;
    r.ip_len = 20;
  } else if (p.size() >= kIpv6Header && p[0] >> 4 == 6) {
    if (p[6] != kTcp || get16(&p[4]) + kIpv6Header != p.size()) return r;
    r.v4 = false;
    r.ip_len = kIpv6Header;
  } else {
    return r;
  }
  if (p.size() < r.ip_len + 20) return r;
  r.tcp = true;
  const std::uint8_t* t = p.data() + r.ip_len;
  const std::size_t tcp_len = std::size_t{t[12]} / 16 * 4;
  if (tcp_len < 20 || r.ip_len + tcp_len >= p.size()) return r;  // no payload: not joined
  if ((t[13] & ~kTcpPsh) != kTcpAck) return r;  // SYN, FIN, RST, URG, ECE, CWR end a run
  if (r.v4 && !checksum_exact(0, p.first(20), 10)) return r;
  const std::span<const std::uint8_t> tcp = p.subspan(r.ip_len);
  if (!checksum_exact(tcp_pseudo_sum(p.data(), r.v4, tcp.size()), tcp, 16)) return r;
  r.headers = r.ip_len + tcp_len;
  r.payload = p.size() - r.headers;
  r.seq = get32(t + 4);
  r.psh = (t[13] & kTcpPsh) != 0;
  r.segment = true;
  return r;
}

std::uint32_t flow_hash(std::span<const std::uint8_t> p) {
  // FNV-1a over the fields that name the flow.
  std::uint32_t h = 2166136261u;
  auto mix = [&h](const std::uint8_t* b, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 16777619u;
  };
  std::size_t ports_at = 0;
  std::uint8_t protocol = 0;
  if (p.size() >= 20 && p[0] >> 4 == 4) {
    mix(&p[12], 8);
    const std::size_t ip_len = std::size_t{p[0]} % 16 * 4;
    if ((get16(&p[6]) & 0x3fff) == 0) {  // a fragment's ports are not in every piece
      protocol = p[9];
      ports_at = ip_len;
    }
  } else if (p.size() >= kIpv6Header && p[0] >> 4 == 6) {
    mix(&p[8], 32);
    protocol = p[6];
    ports_at = kIpv6Header;
  }
  if ((protocol == kTcp || protocol == kUdp) && ports_at >= 20 && p.size() >= ports_at + 4) {
    mix(&p[ports_at], 4);
  }
  return h;
}

Coalescer::Coalescer(std::size_t arena, std::size_t max_writes)
    : arena_(new std::uint8_t[arena]), arena_size_(arena), held_list_(max_writes) {
  writes_.reserve(max_writes);
}

std::uint8_t* Coalescer::copy_in(std::span<const std::uint8_t> bytes) {
  if (bytes.size() > arena_size_ - used_) return nullptr;
  std::uint8_t* at = arena_.get() + used_;
  if (!bytes.empty()) std::memcpy(at, bytes.data(), bytes.size());  // an empty span may be null
  used_ += bytes.size();
  return at;
}

bool Coalescer::joins(const Held& h, std::span<const std::uint8_t> p, const Parsed& s) const {
  if (!s.segment || s.v4 != h.v4 || s.headers != h.headers) return false;
  if (s.payload > h.segment || s.seq != h.next_seq || h.packets >= kMaxJoined) return false;
  const std::size_t ip_limit = h.v4 ? 0xffff : 0xffff + kIpv6Header;  // the IP length field
  if (h.headers + h.payload + s.payload > ip_limit) return false;
  const std::uint8_t* a = h.first;
  const std::uint8_t* b = p.data();
  const std::size_t ip = s.ip_len;
  if (h.v4) {
    // Everything but total length, id and checksum; the id must be the next one, as the
    // kernel numbers the segments it cuts.
    if (!same(a, b, 0, 2) || !same(a, b, 6, 10) || !same(a, b, 12, 20)) return false;
    if (get16(b + 4) != static_cast<std::uint16_t>(get16(a + 4) + h.packets)) return false;
  } else if (!same(a, b, 0, 4) || !same(a, b, 6, kIpv6Header)) {
    return false;
  }
  // TCP: everything but sequence number, PSH and checksum (ports, ack, offset, window, options).
  if (!same(a, b, ip, ip + 4) || !same(a, b, ip + 8, ip + 13) || !same(a, b, ip + 14, ip + 16) ||
      !same(a, b, ip + 18, h.headers))
    return false;
  return true;
}

bool Coalescer::add(std::span<const std::uint8_t> packet) {
  Stream stream;
  const Parsed parsed = parse(packet);
  if (parsed.tcp) {
    // The stream: both addresses and both ports.
    const std::size_t addrs = parsed.v4 ? 8 : 32;
    const std::size_t at = parsed.v4 ? 12 : 8;
    std::memcpy(stream.key.data(), packet.data() + at, addrs);
    std::memcpy(stream.key.data() + addrs, packet.data() + parsed.ip_len, 4);
    stream.key_len = static_cast<std::uint8_t>(addrs + 4);
  }
  // Only the stream's newest write may take it: joining an older one would reorder the stream.
  if (stream.key_len != 0) {
    for (std::size_t i = held_; i-- > 0;) {
      Held& h = held_list_[i];
      if (h.stream.key_len != stream.key_len ||
          std::memcmp(h.stream.key.data(), stream.key.data(), stream.key_len) != 0)
        continue;
      if (!h.joinable || !joins(h, packet, parsed)) break;
      const auto payload = packet.subspan(h.headers);
      std::uint8_t* at = copy_in(payload);
      if (!at) return false;
      h.pieces.push_back(iovec{at, payload.size()});
      h.payload += payload.size();
      h.next_seq += static_cast<std::uint32_t>(payload.size());
      ++h.packets;
      h.last_psh = parsed.psh;
      // A shorter segment or a push ends the run, as it ends the kernel's.
      if (payload.size() < h.segment || parsed.psh) h.joinable = false;
      return true;
    }
  }
  if (held_ == held_list_.size()) return false;
  std::uint8_t* at = copy_in(packet);
  if (!at) return false;
  Held& h = held_list_[held_++];
  h.stream = stream;
  h.joinable = parsed.segment && !parsed.psh;
  h.v4 = parsed.v4;
  h.headers = parsed.headers;
  h.segment = parsed.payload;
  h.payload = parsed.payload;
  h.packets = 1;
  h.next_seq = parsed.seq + static_cast<std::uint32_t>(parsed.payload);
  h.first = at;
  h.first_len = packet.size();
  h.last_psh = parsed.psh;
  h.pieces.clear();
  h.pieces.push_back(iovec{at, packet.size()});
  return true;
}

void Coalescer::finish(Held& h, Write& w) {
  w.pieces = h.pieces;
  w.packets = h.packets;
  w.bytes = h.headers + h.payload;
  if (h.packets == 1) {
    w.header = VnetHeader{};
    w.bytes = h.first_len;
    return;
  }
  std::uint8_t* p = h.first;
  const std::size_t ip = h.v4 ? 20 : kIpv6Header;
  if (h.v4) {
    put16(p + 2, static_cast<std::uint16_t>(w.bytes));
    put16(p + 10, 0);
    const auto folded = static_cast<std::uint16_t>(~checksum_fold(checksum_add(0, {p, 20})));
    std::memcpy(p + 10, &folded, 2);
  } else {
    put16(p + 4, static_cast<std::uint16_t>(w.bytes - kIpv6Header));
  }
  std::uint8_t* t = p + ip;
  t[13] = static_cast<std::uint8_t>(h.last_psh ? t[13] | kTcpPsh : t[13] & ~kTcpPsh);
  // A partial checksum, as the kernel's own GSO packets carry: the pseudo-header's sum over the
  // whole length, not inverted; the kernel finishes it per segment (csum_start/csum_offset).
  const std::uint16_t partial = checksum_fold(tcp_pseudo_sum(p, h.v4, w.bytes - ip));
  std::memcpy(t + 16, &partial, 2);
  w.header.flags = kVnetNeedsCsum;
  w.header.gso_type = h.v4 ? kGsoTcpV4 : kGsoTcpV6;
  w.header.hdr_len = static_cast<std::uint16_t>(h.headers);
  w.header.gso_size = static_cast<std::uint16_t>(h.segment);
  w.header.csum_start = static_cast<std::uint16_t>(ip);
  w.header.csum_offset = 16;
}

std::span<const Coalescer::Write> Coalescer::writes() {
  writes_.resize(held_);
  for (std::size_t i = 0; i < held_; ++i) finish(held_list_[i], writes_[i]);
  return writes_;
}

void Coalescer::clear() {
  held_ = 0;
  used_ = 0;
  writes_.clear();
}

}  // namespace tandem::tun
