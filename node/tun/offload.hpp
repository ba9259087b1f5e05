#pragma once
// What a TUN device opened with IFF_VNET_HDR and TCP offloads hands over, made into the plain
// MTU-sized IP packets a client expects (docs/data-plane.md, "TUN offloads"). Each read starts
// with a virtio-net header; behind it is either one ordinary packet (maybe with its checksum left
// for us to finish) or a TCP "super-packet" of up to 64 KiB that we cut into segments of
// gso_size payload bytes each, fixing lengths, IPv4 ids, sequence numbers, flags and checksums.
// Pure: bytes in, bytes out, no I/O.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace tandem::tun {

// struct virtio_net_hdr (linux/virtio_net.h): the legacy 10-byte form the kernel uses for a TUN
// by default, fields in the machine's byte order.
inline constexpr std::size_t kVnetHdrSize = 10;
inline constexpr std::uint8_t kVnetNeedsCsum = 1;  // VIRTIO_NET_HDR_F_NEEDS_CSUM
inline constexpr std::uint8_t kGsoNone = 0;        // VIRTIO_NET_HDR_GSO_NONE
inline constexpr std::uint8_t kGsoTcpV4 = 1;       // VIRTIO_NET_HDR_GSO_TCPV4
inline constexpr std::uint8_t kGsoTcpV6 = 4;       // VIRTIO_NET_HDR_GSO_TCPV6

struct VnetHeader {
  std::uint8_t flags = 0;
  std::uint8_t gso_type = kGsoNone;
  std::uint16_t hdr_len = 0;
  std::uint16_t gso_size = 0;
  std::uint16_t csum_start = 0;
  std::uint16_t csum_offset = 0;
};

VnetHeader parse_vnet_header(std::span<const std::uint8_t, kVnetHdrSize> bytes);
void write_vnet_header(const VnetHeader& h, std::span<std::uint8_t, kVnetHdrSize> out);

enum class OffloadDrop : std::uint8_t {
  none,
  short_read,       // fewer bytes than the virtio-net header
  unknown_gso,      // a gso_type we did not ask for (UDP, ECN …)
  bad_checksum_at,  // csum_start/csum_offset outside the packet
  malformed_ip,     // not the IP version the gso_type says, lengths that do not add up, fragment
  malformed_tcp,    // not TCP, header beyond the packet, no payload, gso_size 0
  no_room,          // the segments would not fit the space (or the count) given
};
std::string_view to_string(OffloadDrop d);

struct OffloadResult {
  OffloadDrop drop = OffloadDrop::none;
  std::size_t segments = 0;  // packets written (1 for an ordinary packet)
  std::size_t bytes = 0;     // bytes of `out` used, all segments back to back
};

// One TUN read (header included). An ordinary packet is finished in place (its checksum, when
// the kernel left it to us) and reported as one segment of `read` without the header, nothing
// written to `out`; check `in_place`. A super-packet is cut into `out`, segment after segment,
// each length stored in `lengths`; when they would not fit `out` or `lengths`, nothing is
// reported but no_room, so the caller may make room and try again.
struct Split {
  OffloadResult result;
  bool in_place = false;  // the one packet is `read` after the header
};
Split split_read(std::span<std::uint8_t> read, std::span<std::uint8_t> out,
                 std::span<std::uint16_t> lengths);

// The Internet checksum's ones-complement sum of `bytes` added to `sum` (not folded, not
// inverted); bytes are summed in memory order, so the folded result is stored with memcpy.
std::uint64_t checksum_add(std::uint64_t sum, std::span<const std::uint8_t> bytes);
std::uint16_t checksum_fold(std::uint64_t sum);
// The pseudo-header's sum for a TCP segment of `tcp_len` bytes behind the IP header at `ip`
// (RFC 9293 section 3.1, RFC 8200 section 8.1), as checksum_add leaves it.
std::uint64_t tcp_pseudo_sum(const std::uint8_t* ip, bool v4, std::size_t tcp_len);

}  // namespace tandem::tun
