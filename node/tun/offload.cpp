#include "node/tun/offload.hpp"

#include <algorithm>
#include <cstring>

#include "node/tun/ip_fields.hpp"

namespace tandem::tun {
namespace {

// A folded checksum goes back in the byte order it was summed in (memory order).
void store_checksum(std::uint8_t* p, std::uint16_t folded) {
  const auto v = static_cast<std::uint16_t>(~folded);
  std::memcpy(p, &v, 2);
}

OffloadResult dropped(OffloadDrop d) { return {d, 0, 0}; }

// The fields of a TCP super-packet that every segment repeats or derives from.
struct Layout {
  bool v4 = true;
  std::size_t ip_len = 0;   // IP header (IPv4 with options; IPv6 fixed header only)
  std::size_t headers = 0;  // IP + TCP headers
};

OffloadDrop check_tcp(std::span<const std::uint8_t> p, Layout& l) {
  if (p.size() < l.ip_len + 20) return OffloadDrop::malformed_tcp;
  const std::size_t tcp_len = std::size_t{p[l.ip_len + 12]} / 16 * 4;
  if (tcp_len < 20 || l.ip_len + tcp_len >= p.size()) return OffloadDrop::malformed_tcp;
  l.headers = l.ip_len + tcp_len;
  return OffloadDrop::none;
}

OffloadDrop parse_layout(std::span<const std::uint8_t> p, std::uint8_t gso_type, Layout& l) {
  if (p.empty()) return OffloadDrop::malformed_ip;
  if (gso_type == kGsoTcpV4) {
    l.v4 = true;
    if (p.size() < 20 || p[0] >> 4 != 4) return OffloadDrop::malformed_ip;
    l.ip_len = std::size_t{p[0]} % 16 * 4;
    if (l.ip_len < 20 || l.ip_len > p.size() || get16(&p[2]) != p.size())
      return OffloadDrop::malformed_ip;
    if ((get16(&p[6]) & 0x3fff) != 0) return OffloadDrop::malformed_ip;  // MF or an offset
    if (p[9] != kTcp) return OffloadDrop::malformed_tcp;
  } else {
    l.v4 = false;
    if (p.size() < kIpv6Header || p[0] >> 4 != 6) return OffloadDrop::malformed_ip;
    l.ip_len = kIpv6Header;
    if (get16(&p[4]) + kIpv6Header != p.size()) return OffloadDrop::malformed_ip;
    // Extension headers are not walked: the kernel puts TCP right behind the fixed header.
    if (p[6] != kTcp) return OffloadDrop::malformed_tcp;
  }
  return check_tcp(p, l);
}

OffloadResult split_tcp(std::span<const std::uint8_t> p, const VnetHeader& h,
                        std::span<std::uint8_t> out, std::span<std::uint16_t> lengths) {
  Layout l;
  if (auto d = parse_layout(p, h.gso_type, l); d != OffloadDrop::none) return dropped(d);
  if (h.gso_size == 0) return dropped(OffloadDrop::malformed_tcp);
  const std::size_t payload = p.size() - l.headers;
  const std::size_t count = (payload + h.gso_size - 1) / h.gso_size;
  // A segment must be an IP packet: at most 65535 bytes.
  if (l.headers + std::min<std::size_t>(h.gso_size, payload) > 0xffff)
    return dropped(OffloadDrop::malformed_tcp);
  if (count > lengths.size() || count * l.headers + payload > out.size())
    return dropped(OffloadDrop::no_room);

  const std::uint32_t seq = get32(&p[l.ip_len + 4]);
  const std::uint16_t id = l.v4 ? get16(&p[4]) : 0;
  const std::size_t tcp_header = l.headers - l.ip_len;
  std::size_t at = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t from = l.headers + i * h.gso_size;
    const std::size_t chunk = std::min<std::size_t>(h.gso_size, p.size() - from);
    const std::size_t size = l.headers + chunk;
    std::uint8_t* s = out.data() + at;
    std::memcpy(s, p.data(), l.headers);
    std::memcpy(s + l.headers, p.data() + from, chunk);
    if (l.v4) {
      put16(s + 2, static_cast<std::uint16_t>(size));
      put16(s + 4, static_cast<std::uint16_t>(id + i));
      put16(s + 10, 0);
      store_checksum(s + 10, checksum_fold(checksum_add(0, {s, l.ip_len})));
    } else {
      put16(s + 4, static_cast<std::uint16_t>(size - kIpv6Header));
    }
    std::uint8_t* tcp = s + l.ip_len;
    put32(tcp + 4, static_cast<std::uint32_t>(seq + i * h.gso_size));
    if (i + 1 < count) tcp[13] = static_cast<std::uint8_t>(tcp[13] & ~(kTcpFin | kTcpPsh));
    put16(tcp + 16, 0);
    std::uint64_t sum = tcp_pseudo_sum(s, l.v4, tcp_header + chunk);
    sum = checksum_add(sum, {tcp, tcp_header + chunk});
    store_checksum(tcp + 16, checksum_fold(sum));
    lengths[i] = static_cast<std::uint16_t>(size);
    at += size;
  }
  return {OffloadDrop::none, count, at};
}

}  // namespace

VnetHeader parse_vnet_header(std::span<const std::uint8_t, kVnetHdrSize> b) {
  VnetHeader h;
  h.flags = b[0];
  h.gso_type = b[1];
  std::memcpy(&h.hdr_len, &b[2], 2);
  std::memcpy(&h.gso_size, &b[4], 2);
  std::memcpy(&h.csum_start, &b[6], 2);
  std::memcpy(&h.csum_offset, &b[8], 2);
  return h;
}

void write_vnet_header(const VnetHeader& h, std::span<std::uint8_t, kVnetHdrSize> out) {
  out[0] = h.flags;
  out[1] = h.gso_type;
  std::memcpy(&out[2], &h.hdr_len, 2);
  std::memcpy(&out[4], &h.gso_size, 2);
  std::memcpy(&out[6], &h.csum_start, 2);
  std::memcpy(&out[8], &h.csum_offset, 2);
}

std::string_view to_string(OffloadDrop d) {
  switch (d) {
    case OffloadDrop::none:
      return "none";
    case OffloadDrop::short_read:
      return "short_read";
    case OffloadDrop::unknown_gso:
      return "unknown_gso";
    case OffloadDrop::bad_checksum_at:
      return "bad_checksum_at";
    case OffloadDrop::malformed_ip:
      return "malformed_ip";
    case OffloadDrop::malformed_tcp:
      return "malformed_tcp";
    case OffloadDrop::no_room:
      return "no_room";
  }
  return "unknown";
}

std::uint64_t tcp_pseudo_sum(const std::uint8_t* ip, bool v4, std::size_t tcp_len) {
  std::uint8_t tail[8] = {};
  if (v4) {
    std::uint64_t s = checksum_add(0, {ip + 12, 8});
    tail[1] = kTcp;
    put16(&tail[2], static_cast<std::uint16_t>(tcp_len));
    return checksum_add(s, {tail, 4});
  }
  std::uint64_t s = checksum_add(0, {ip + 8, 32});
  put32(&tail[0], static_cast<std::uint32_t>(tcp_len));
  tail[7] = kTcp;
  return checksum_add(s, {tail, 8});
}

std::uint64_t checksum_add(std::uint64_t sum, std::span<const std::uint8_t> bytes) {
  const std::uint8_t* p = bytes.data();
  std::size_t n = bytes.size();
  // 32-bit words into a 64-bit sum: the carries wait in the top half until the fold.
  while (n >= 4) {
    std::uint32_t w;
    std::memcpy(&w, p, 4);
    sum += w;
    p += 4;
    n -= 4;
  }
  if (n >= 2) {
    std::uint16_t w;
    std::memcpy(&w, p, 2);
    sum += w;
    p += 2;
    n -= 2;
  }
  if (n == 1) {
    const std::uint8_t last[2] = {*p, 0};
    std::uint16_t w;
    std::memcpy(&w, last, 2);
    sum += w;
  }
  return sum;
}

std::uint16_t checksum_fold(std::uint64_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(sum);
}

Split split_read(std::span<std::uint8_t> read, std::span<std::uint8_t> out,
                 std::span<std::uint16_t> lengths) {
  if (read.size() < kVnetHdrSize) return {dropped(OffloadDrop::short_read), false};
  const VnetHeader h = parse_vnet_header(read.first<kVnetHdrSize>());
  const std::span<std::uint8_t> p = read.subspan(kVnetHdrSize);
  if (h.gso_type == kGsoTcpV4 || h.gso_type == kGsoTcpV6)
    return {split_tcp(p, h, out, lengths), false};
  if (h.gso_type != kGsoNone) return {dropped(OffloadDrop::unknown_gso), false};
  if (p.empty()) return {dropped(OffloadDrop::malformed_ip), false};
  if (h.flags & kVnetNeedsCsum) {
    // The kernel left the sum from csum_start to the end for us; the field already holds the
    // pseudo-header's part. As the kernel does, a result of 0 is sent as 0xffff.
    const std::size_t start = h.csum_start;
    const std::size_t field = start + h.csum_offset;
    if (start >= p.size() || field + 2 > p.size())
      return {dropped(OffloadDrop::bad_checksum_at), false};
    std::uint16_t folded = checksum_fold(checksum_add(0, p.subspan(start)));
    if (folded == 0xffff) folded = 0;  // stored inverted: 0 becomes 0xffff
    store_checksum(&p[field], folded);
  }
  return {{OffloadDrop::none, 1, p.size()}, true};
}

}  // namespace tandem::tun
