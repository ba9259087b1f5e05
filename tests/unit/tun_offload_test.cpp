// node/tun/offload: TCP super-packets from a TUN with offloads cut into the packets a client
// expects, checksums finished, malformed reads refused. The checksums are verified here with a
// plain 16-bit big-endian sum, independent of the code under test.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "node/tun/offload.hpp"

namespace tandem::tun {
namespace {

std::uint16_t be16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] << 8 | p[1]); }
std::uint32_t be32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3];
}
void put_be16(std::uint8_t* p, std::uint32_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}

// Reference ones-complement sum over 16-bit big-endian words.
std::uint32_t ref_sum(const std::vector<std::uint8_t>& b, std::uint32_t sum = 0) {
  for (std::size_t i = 0; i < b.size(); i += 2)
    sum += static_cast<std::uint32_t>(b[i] << 8) | (i + 1 < b.size() ? b[i + 1] : 0);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return sum;
}

// The pseudo-header's bytes, then the transport header and data.
std::vector<std::uint8_t> pseudo_and_l4(const std::vector<std::uint8_t>& pkt, bool v4,
                                        std::size_t l4_at, std::uint8_t proto) {
  std::vector<std::uint8_t> b;
  const std::size_t l4_len = pkt.size() - l4_at;
  if (v4) {
    b.insert(b.end(), pkt.begin() + 12, pkt.begin() + 20);
    b.insert(b.end(),
             {0, proto, static_cast<std::uint8_t>(l4_len >> 8), static_cast<std::uint8_t>(l4_len)});
  } else {
    b.insert(b.end(), pkt.begin() + 8, pkt.begin() + 40);
    b.insert(b.end(), {0, 0, static_cast<std::uint8_t>(l4_len >> 8),
                       static_cast<std::uint8_t>(l4_len), 0, 0, 0, proto});
  }
  b.insert(b.end(), pkt.begin() + static_cast<std::ptrdiff_t>(l4_at), pkt.end());
  return b;
}

constexpr std::uint32_t kSeq = 0xfffff000;  // wraps within the packet
constexpr std::uint16_t kId = 0xfffe;       // wraps too
constexpr std::size_t kTcpHeader = 32;      // with 12 bytes of options (timestamps)
constexpr std::uint8_t kDefaultGso = 0xff;  // TCPV4 or TCPV6 by family

// A super-packet as the kernel hands it over: virtio-net header, IP header whose length covers
// everything, TCP header with ACK|PSH|FIN, `payload` patterned bytes, checksum left partial.
std::vector<std::uint8_t> super_packet(bool v4, std::size_t payload, std::uint16_t gso_size,
                                       std::uint8_t gso_type = kDefaultGso) {
  const std::size_t ip = v4 ? 20 : 40;
  std::vector<std::uint8_t> p(ip + kTcpHeader + payload);
  if (v4) {
    p[0] = 0x45;
    put_be16(&p[2], static_cast<std::uint32_t>(p.size()));
    put_be16(&p[4], kId);
    p[6] = 0x40;  // DF
    p[8] = 64;
    p[9] = 6;
    const std::uint8_t addrs[8] = {198, 51, 100, 7, 10, 0, 0, 2};
    std::copy(addrs, addrs + 8, &p[12]);
  } else {
    p[0] = 0x60;
    put_be16(&p[4], static_cast<std::uint32_t>(p.size() - 40));
    p[6] = 6;
    p[7] = 64;
    for (int i = 0; i < 16; ++i) p[8 + i] = static_cast<std::uint8_t>(0x20 + i);
    for (int i = 0; i < 16; ++i) p[24 + i] = static_cast<std::uint8_t>(0xfd + i);
  }
  std::uint8_t* t = &p[ip];
  put_be16(t, 443);
  put_be16(t + 2, 51000);
  t[4] = static_cast<std::uint8_t>(kSeq >> 24);
  t[5] = static_cast<std::uint8_t>(kSeq >> 16);
  t[6] = static_cast<std::uint8_t>(kSeq >> 8);
  t[7] = static_cast<std::uint8_t>(kSeq);
  t[12] = static_cast<std::uint8_t>((kTcpHeader / 4) << 4);
  t[13] = 0x10 | 0x08 | 0x01;  // ACK PSH FIN
  put_be16(t + 14, 501);
  put_be16(t + 16, 0x1234);  // the kernel's partial sum: must be replaced
  for (std::size_t i = 20; i < kTcpHeader; ++i) t[i] = static_cast<std::uint8_t>(i);
  for (std::size_t i = 0; i < payload; ++i)
    p[ip + kTcpHeader + i] = static_cast<std::uint8_t>(i * 7 + i / 251);
  VnetHeader h;
  h.flags = kVnetNeedsCsum;
  h.gso_type = gso_type != kDefaultGso ? gso_type : (v4 ? kGsoTcpV4 : kGsoTcpV6);
  h.hdr_len = static_cast<std::uint16_t>(ip + kTcpHeader);
  h.gso_size = gso_size;
  h.csum_start = static_cast<std::uint16_t>(ip);
  h.csum_offset = 16;
  std::vector<std::uint8_t> read(kVnetHdrSize);
  write_vnet_header(h, std::span<std::uint8_t, kVnetHdrSize>(read.data(), kVnetHdrSize));
  read.insert(read.end(), p.begin(), p.end());
  return read;
}

struct Out {
  std::vector<std::uint8_t> bytes = std::vector<std::uint8_t>(256 * 1024);
  std::vector<std::uint16_t> lengths = std::vector<std::uint16_t>(512);
};

void check_split(bool v4) {
  const std::size_t ip = v4 ? 20 : 40;
  const std::size_t payload = 5000;
  const std::uint16_t mss = 1400;
  auto read = super_packet(v4, payload, mss);
  const std::vector<std::uint8_t> original(read.begin() + kVnetHdrSize, read.end());
  Out out;
  const Split s = split_read(read, out.bytes, out.lengths);
  ASSERT_EQ(s.result.drop, OffloadDrop::none);
  ASSERT_FALSE(s.in_place);
  ASSERT_EQ(s.result.segments, 4u);
  std::vector<std::uint8_t> joined;
  std::size_t at = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    const std::size_t chunk = i < 3 ? mss : payload - 3 * mss;
    const std::size_t len = ip + kTcpHeader + chunk;
    ASSERT_EQ(out.lengths[i], len) << i;
    std::vector<std::uint8_t> seg(out.bytes.begin() + static_cast<std::ptrdiff_t>(at),
                                  out.bytes.begin() + static_cast<std::ptrdiff_t>(at + len));
    at += len;
    if (v4) {
      EXPECT_EQ(be16(&seg[2]), len);
      EXPECT_EQ(be16(&seg[4]), static_cast<std::uint16_t>(kId + i));
      EXPECT_EQ(seg[6], 0x40);  // DF kept
      EXPECT_EQ(ref_sum({seg.begin(), seg.begin() + 20}), 0xffffu) << "IPv4 checksum " << i;
    } else {
      EXPECT_EQ(be16(&seg[4]), len - 40);
    }
    // Everything else in the headers is the super-packet's.
    for (std::size_t b : {std::size_t{0}, std::size_t{8}, std::size_t{12}, ip, ip + 2, ip + 14})
      EXPECT_EQ(seg[b], original[b]) << "segment " << i << " byte " << b;
    const std::uint8_t* t = &seg[ip];
    EXPECT_EQ(be32(t + 4), static_cast<std::uint32_t>(kSeq + i * mss));
    EXPECT_EQ(t[13], i < 3 ? 0x10 : 0x19) << "flags of segment " << i;
    EXPECT_EQ(ref_sum(pseudo_and_l4(seg, v4, ip, 6)), 0xffffu) << "TCP checksum " << i;
    joined.insert(joined.end(), seg.begin() + static_cast<std::ptrdiff_t>(ip + kTcpHeader),
                  seg.end());
  }
  EXPECT_EQ(s.result.bytes, at);
  EXPECT_EQ(joined,
            std::vector<std::uint8_t>(
                original.begin() + static_cast<std::ptrdiff_t>(ip + kTcpHeader), original.end()));
}

TEST(TunOffload, SplitsIpv4SuperPacket) { check_split(true); }
TEST(TunOffload, SplitsIpv6SuperPacket) { check_split(false); }

TEST(TunOffload, LargestSuperPacketAndOddSizes) {
  for (std::uint16_t mss : {std::uint16_t{1}, std::uint16_t{536}, std::uint16_t{1337},
                            std::uint16_t{1448}, std::uint16_t{9000}}) {
    auto read = super_packet(true, 65535 - 20 - kTcpHeader, mss);
    Out out;
    out.bytes.resize(8 * 1024 * 1024);
    out.lengths.resize(70000);
    const Split s = split_read(read, out.bytes, out.lengths);
    ASSERT_EQ(s.result.drop, OffloadDrop::none) << mss;
    EXPECT_EQ(s.result.segments, (65535 - 20 - kTcpHeader + mss - 1) / mss);
  }
}

TEST(TunOffload, PayloadWithinOneSegment) {
  auto read = super_packet(true, 700, 1400);
  Out out;
  const Split s = split_read(read, out.bytes, out.lengths);
  ASSERT_EQ(s.result.drop, OffloadDrop::none);
  ASSERT_EQ(s.result.segments, 1u);
  std::vector<std::uint8_t> seg(out.bytes.begin(), out.bytes.begin() + out.lengths[0]);
  EXPECT_EQ(seg[20 + 13], 0x19);  // the last segment keeps PSH and FIN
  EXPECT_EQ(ref_sum(pseudo_and_l4(seg, true, 20, 6)), 0xffffu);
}

TEST(TunOffload, OrdinaryPacketPassesUnchanged) {
  std::vector<std::uint8_t> read(kVnetHdrSize, 0);
  const std::vector<std::uint8_t> packet = {0x45, 0, 0, 24, 1,  2, 0, 0, 64, 1, 0xab, 0xcd,
                                            10,   0, 0, 1,  10, 0, 0, 2, 8,  0, 0xf7, 0xff};
  read.insert(read.end(), packet.begin(), packet.end());
  Out out;
  const Split s = split_read(read, out.bytes, out.lengths);
  ASSERT_EQ(s.result.drop, OffloadDrop::none);
  EXPECT_TRUE(s.in_place);
  EXPECT_EQ(s.result.segments, 1u);
  EXPECT_EQ(s.result.bytes, packet.size());
  EXPECT_EQ(std::vector<std::uint8_t>(read.begin() + kVnetHdrSize, read.end()), packet);
}

TEST(TunOffload, FinishesPartialChecksum) {
  // A UDP datagram (odd length) whose checksum field holds the pseudo-header's sum only.
  for (bool v4 : {true, false}) {
    const std::size_t ip = v4 ? 20 : 40;
    auto read = super_packet(v4, 0, 0);
    std::vector<std::uint8_t> p(read.begin() + kVnetHdrSize,
                                read.begin() + kVnetHdrSize + static_cast<std::ptrdiff_t>(ip));
    p.resize(ip + 8 + 13);
    if (v4) {
      p[9] = 17;
      put_be16(&p[2], static_cast<std::uint32_t>(p.size()));
    } else {
      p[6] = 17;
      put_be16(&p[4], static_cast<std::uint32_t>(p.size() - 40));
    }
    put_be16(&p[ip], 5353);
    put_be16(&p[ip + 2], 53);
    put_be16(&p[ip + 4], 8 + 13);
    for (std::size_t i = 0; i < 13; ++i) p[ip + 8 + i] = static_cast<std::uint8_t>(0xa0 + i);
    std::vector<std::uint8_t> pseudo = pseudo_and_l4(p, v4, ip, 17);
    pseudo.resize(pseudo.size() - (p.size() - ip));  // the pseudo-header alone
    put_be16(&p[ip + 6], ref_sum(pseudo));
    VnetHeader h;
    h.flags = kVnetNeedsCsum;
    h.csum_start = static_cast<std::uint16_t>(ip);
    h.csum_offset = 6;
    std::vector<std::uint8_t> r(kVnetHdrSize);
    write_vnet_header(h, std::span<std::uint8_t, kVnetHdrSize>(r.data(), kVnetHdrSize));
    r.insert(r.end(), p.begin(), p.end());
    Out out;
    const Split s = split_read(r, out.bytes, out.lengths);
    ASSERT_EQ(s.result.drop, OffloadDrop::none);
    ASSERT_TRUE(s.in_place);
    const std::vector<std::uint8_t> done(r.begin() + kVnetHdrSize, r.end());
    EXPECT_NE(be16(&done[ip + 6]), 0);
    EXPECT_EQ(ref_sum(pseudo_and_l4(done, v4, ip, 17)), 0xffffu) << (v4 ? "v4" : "v6");
  }
}

Split split(std::vector<std::uint8_t>& read, std::size_t room = 256 * 1024) {
  Out out;
  out.bytes.resize(room);
  return split_read(read, out.bytes, out.lengths);
}

void set_vnet(std::vector<std::uint8_t>& read, auto change) {
  VnetHeader h =
      parse_vnet_header(std::span<const std::uint8_t, kVnetHdrSize>(read.data(), kVnetHdrSize));
  change(h);
  write_vnet_header(h, std::span<std::uint8_t, kVnetHdrSize>(read.data(), kVnetHdrSize));
}

TEST(TunOffload, RefusesMalformedReads) {
  std::vector<std::uint8_t> tiny(5, 0);
  EXPECT_EQ(split(tiny).result.drop, OffloadDrop::short_read);
  std::vector<std::uint8_t> empty(kVnetHdrSize, 0);
  EXPECT_EQ(split(empty).result.drop, OffloadDrop::malformed_ip);

  for (std::uint8_t gso : {std::uint8_t{3}, std::uint8_t{5}, std::uint8_t{0x81}}) {
    auto r = super_packet(true, 3000, 1400, gso);
    EXPECT_EQ(split(r).result.drop, OffloadDrop::unknown_gso) << int{gso};
  }
  auto wrong_family = super_packet(true, 3000, 1400, kGsoTcpV6);
  EXPECT_EQ(split(wrong_family).result.drop, OffloadDrop::malformed_ip);
  auto wrong_family6 = super_packet(false, 3000, 1400, kGsoTcpV4);
  EXPECT_EQ(split(wrong_family6).result.drop, OffloadDrop::malformed_ip);

  auto long_total = super_packet(true, 3000, 1400);
  put_be16(&long_total[kVnetHdrSize + 2], 3000 + 20 + kTcpHeader + 1);
  EXPECT_EQ(split(long_total).result.drop, OffloadDrop::malformed_ip);
  auto short_payload6 = super_packet(false, 3000, 1400);
  put_be16(&short_payload6[kVnetHdrSize + 4], 100);
  EXPECT_EQ(split(short_payload6).result.drop, OffloadDrop::malformed_ip);
  auto fragment = super_packet(true, 3000, 1400);
  fragment[kVnetHdrSize + 6] = 0x20;  // MF
  EXPECT_EQ(split(fragment).result.drop, OffloadDrop::malformed_ip);
  auto ihl = super_packet(true, 3000, 1400);
  ihl[kVnetHdrSize] = 0x44;
  EXPECT_EQ(split(ihl).result.drop, OffloadDrop::malformed_ip);

  auto udp = super_packet(true, 3000, 1400);
  udp[kVnetHdrSize + 9] = 17;
  EXPECT_EQ(split(udp).result.drop, OffloadDrop::malformed_tcp);
  auto no_mss = super_packet(true, 3000, 0);
  EXPECT_EQ(split(no_mss).result.drop, OffloadDrop::malformed_tcp);
  auto no_payload = super_packet(false, 0, 1400);
  EXPECT_EQ(split(no_payload).result.drop, OffloadDrop::malformed_tcp);
  auto long_tcp = super_packet(true, 20, 1400);  // data offset 60 > 32 + 20
  long_tcp[kVnetHdrSize + 20 + 12] = 0xf0;
  EXPECT_EQ(split(long_tcp).result.drop, OffloadDrop::malformed_tcp);
  auto short_tcp = super_packet(true, 20, 1400);
  short_tcp[kVnetHdrSize + 20 + 12] = 0x40;  // 16 bytes
  EXPECT_EQ(split(short_tcp).result.drop, OffloadDrop::malformed_tcp);

  auto csum = super_packet(true, 100, 0, kGsoNone);
  set_vnet(csum, [](VnetHeader& h) { h.csum_start = 200; });
  EXPECT_EQ(split(csum).result.drop, OffloadDrop::bad_checksum_at);
  auto csum_field = super_packet(true, 100, 0, kGsoNone);
  set_vnet(csum_field, [](VnetHeader& h) { h.csum_offset = 150; });
  EXPECT_EQ(split(csum_field).result.drop, OffloadDrop::bad_checksum_at);
}

TEST(TunOffload, NoRoomIsReportedNotWritten) {
  auto r = super_packet(true, 5000, 1400);
  Out out;
  out.bytes.assign(4 * 52 + 5000 - 1, 0xee);
  const Split s = split_read(r, out.bytes, out.lengths);
  EXPECT_EQ(s.result.drop, OffloadDrop::no_room);
  EXPECT_EQ(s.result.segments, 0u);
  EXPECT_EQ(out.bytes[0], 0xee);
  out.bytes.resize(4 * 52 + 5000);
  EXPECT_EQ(split_read(r, out.bytes, out.lengths).result.drop, OffloadDrop::none);
  out.lengths.resize(3);
  EXPECT_EQ(split_read(r, out.bytes, out.lengths).result.drop, OffloadDrop::no_room);
}

}  // namespace
}  // namespace tandem::tun
