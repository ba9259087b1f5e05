// node/tun/coalesce: client packets of one TCP stream joined into the super-packets a TUN with
// a virtio-net header takes in one write. The test's main check is the round trip: cutting a
// joined write with the kernel's rules (split_read does the same) gives back exactly the packets
// that went in, byte for byte; what may not be joined is written as it came, in order.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "node/tun/coalesce.hpp"
#include "node/tun/offload.hpp"

namespace tandem::tun {
namespace {

using Bytes = std::vector<std::uint8_t>;

void put_be16(std::uint8_t* p, std::uint32_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}

// Reference ones-complement sum over 16-bit big-endian words, folded.
std::uint32_t ref_sum(const std::uint8_t* b, std::size_t n, std::uint32_t sum = 0) {
  for (std::size_t i = 0; i < n; i += 2)
    sum += static_cast<std::uint32_t>(b[i] << 8) | (i + 1 < n ? b[i + 1] : 0);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return sum;
}

struct Seg {
  bool v4 = true;
  std::uint16_t port = 51000;  // the client's port: the stream
  std::uint32_t seq = 0xfffff000;
  std::uint16_t id = 0xfffe;
  std::size_t payload = 1400;
  std::uint8_t flags = 0x10;  // ACK
  std::uint8_t tsval = 1;     // in the timestamp option
  std::uint8_t fill = 0;      // payload pattern
  bool bad_checksum = false;
  std::uint8_t protocol = 6;
};

constexpr std::size_t kTcpHeader = 32;  // 12 bytes of options (NOP NOP timestamps)

// A packet as a client sends it, checksums complete.
Bytes segment(const Seg& s) {
  const std::size_t ip = s.v4 ? 20 : 40;
  Bytes p(ip + kTcpHeader + s.payload);
  if (s.v4) {
    p[0] = 0x45;
    put_be16(&p[2], static_cast<std::uint32_t>(p.size()));
    put_be16(&p[4], s.id);
    p[6] = 0x40;  // DF
    p[8] = 64;
    p[9] = s.protocol;
    const std::uint8_t addrs[8] = {10, 0, 0, 2, 198, 51, 100, 7};
    std::memcpy(&p[12], addrs, 8);
    put_be16(&p[10], ~ref_sum(p.data(), 20) & 0xffff);
  } else {
    p[0] = 0x60;
    put_be16(&p[4], static_cast<std::uint32_t>(p.size() - 40));
    p[6] = s.protocol;
    p[7] = 64;
    for (int i = 0; i < 16; ++i) p[8 + i] = static_cast<std::uint8_t>(0xfd + i);
    for (int i = 0; i < 16; ++i) p[24 + i] = static_cast<std::uint8_t>(0x20 + i);
  }
  std::uint8_t* t = &p[ip];
  put_be16(t, s.port);
  put_be16(t + 2, 443);
  put_be16(t + 4, s.seq >> 16);
  put_be16(t + 6, s.seq & 0xffff);
  put_be16(t + 8, 0x1111);
  put_be16(t + 10, 0x2222);  // ack
  t[12] = static_cast<std::uint8_t>((kTcpHeader / 4) << 4);
  t[13] = s.flags;
  put_be16(t + 14, 501);
  t[20] = 1;
  t[21] = 1;
  t[22] = 8;
  t[23] = 10;
  t[27] = s.tsval;
  for (std::size_t i = 0; i < s.payload; ++i)
    p[ip + kTcpHeader + i] = static_cast<std::uint8_t>(s.fill + i * 7);
  // Pseudo-header, then the TCP header and data.
  Bytes pseudo;
  const std::size_t tcp_len = p.size() - ip;
  if (s.v4) {
    pseudo.assign(p.begin() + 12, p.begin() + 20);
    pseudo.insert(pseudo.end(), {0, s.protocol, static_cast<std::uint8_t>(tcp_len >> 8),
                                 static_cast<std::uint8_t>(tcp_len)});
  } else {
    pseudo.assign(p.begin() + 8, p.begin() + 40);
    pseudo.insert(pseudo.end(), {0, 0, static_cast<std::uint8_t>(tcp_len >> 8),
                                 static_cast<std::uint8_t>(tcp_len), 0, 0, 0, s.protocol});
  }
  const std::uint32_t sum = ref_sum(t, tcp_len, ref_sum(pseudo.data(), pseudo.size()));
  put_be16(t + 16, (~sum & 0xffff) ^ (s.bad_checksum ? 0x0101 : 0));
  return p;
}

// `n` consecutive segments of one stream, each `payload` bytes; the last one gets `last_flags`.
std::vector<Bytes> run(Seg s, std::size_t n, std::uint8_t last_flags = 0x10) {
  std::vector<Bytes> out;
  for (std::size_t i = 0; i < n; ++i) {
    Seg x = s;
    x.seq = s.seq + static_cast<std::uint32_t>(i * s.payload);
    x.id = static_cast<std::uint16_t>(s.id + i);
    x.fill = static_cast<std::uint8_t>(i);
    if (i + 1 == n) x.flags = last_flags;
    out.push_back(segment(x));
  }
  return out;
}

// What the kernel makes of one write: a joined one cut with split_read, else the bytes alone.
std::vector<Bytes> cut(const Coalescer::Write& w) {
  Bytes read(kVnetHdrSize);
  write_vnet_header(w.header, std::span<std::uint8_t, kVnetHdrSize>(read.data(), kVnetHdrSize));
  for (const iovec& v : w.pieces) {
    const auto* b = static_cast<const std::uint8_t*>(v.iov_base);
    read.insert(read.end(), b, b + v.iov_len);
  }
  EXPECT_EQ(read.size() - kVnetHdrSize, w.bytes);
  Bytes out(256 * 1024);
  std::vector<std::uint16_t> lengths(256);
  const Split s = split_read(read, out, lengths);
  EXPECT_EQ(s.result.drop, OffloadDrop::none);
  if (s.in_place) return {Bytes(read.begin() + kVnetHdrSize, read.end())};
  std::vector<Bytes> packets;
  std::size_t at = 0;
  for (std::size_t i = 0; i < s.result.segments; ++i) {
    packets.emplace_back(out.begin() + static_cast<std::ptrdiff_t>(at),
                         out.begin() + static_cast<std::ptrdiff_t>(at + lengths[i]));
    at += lengths[i];
  }
  return packets;
}

struct Result {
  std::vector<std::size_t> packets_per_write;
  std::vector<Bytes> packets;  // all writes cut, in write order
};

Result coalesce(const std::vector<Bytes>& in, Coalescer& c) {
  for (const auto& p : in) EXPECT_TRUE(c.add(p));
  Result r;
  for (const auto& w : c.writes()) {
    r.packets_per_write.push_back(w.packets);
    for (auto& p : cut(w)) r.packets.push_back(std::move(p));
  }
  c.clear();
  return r;
}

Result coalesce(const std::vector<Bytes>& in) {
  Coalescer c(256 * 1024, 256);
  return coalesce(in, c);
}

using Counts = std::vector<std::size_t>;

TEST(TunCoalesce, JoinsARunAndTheKernelCutsItBackExactly) {
  for (bool v4 : {true, false}) {
    Seg s;
    s.v4 = v4;
    auto in = run(s, 6, 0x18);  // the last with PSH
    // A shorter last segment, as a sender's tail.
    in.back() = [&] {
      Seg x = s;
      x.seq = s.seq + 5 * 1400;
      x.id = static_cast<std::uint16_t>(s.id + 5);
      x.payload = 600;
      x.flags = 0x18;
      return segment(x);
    }();
    Coalescer c(256 * 1024, 256);
    for (const auto& p : in) ASSERT_TRUE(c.add(p));
    auto writes = c.writes();
    ASSERT_EQ(writes.size(), 1u);
    const auto& h = writes[0].header;
    EXPECT_EQ(h.gso_type, v4 ? kGsoTcpV4 : kGsoTcpV6);
    EXPECT_EQ(h.flags, kVnetNeedsCsum);
    EXPECT_EQ(h.gso_size, 1400);
    EXPECT_EQ(h.hdr_len, (v4 ? 20 : 40) + kTcpHeader);
    EXPECT_EQ(h.csum_start, v4 ? 20 : 40);
    EXPECT_EQ(h.csum_offset, 16);
    EXPECT_EQ(writes[0].packets, 6u);
    EXPECT_EQ(cut(writes[0]), in) << (v4 ? "IPv4" : "IPv6");
  }
}

TEST(TunCoalesce, StreamsAreJoinedApartAndKeepTheirOrder) {
  Seg a, b;
  b.port = 52000;
  auto ra = run(a, 4), rb = run(b, 4);
  std::vector<Bytes> in;
  for (std::size_t i = 0; i < 4; ++i) {
    in.push_back(ra[i]);
    in.push_back(rb[i]);
  }
  const Result r = coalesce(in);
  EXPECT_EQ(r.packets_per_write, (Counts{4, 4}));
  std::vector<Bytes> expected = ra;
  expected.insert(expected.end(), rb.begin(), rb.end());
  EXPECT_EQ(r.packets, expected);
}

TEST(TunCoalesce, WhatMayNotBeJoinedIsWrittenAsItCame) {
  Seg s;
  auto in = run(s, 2);
  // A gap in the sequence numbers.
  Seg gap = s;
  gap.seq += 3 * 1400;
  gap.id = static_cast<std::uint16_t>(s.id + 2);
  in.push_back(segment(gap));
  EXPECT_EQ(coalesce(in).packets_per_write, (Counts{2, 1}));

  // An IPv4 id that is not the next one.
  in = run(s, 2);
  in[1] = [&] {
    Seg x = s;
    x.seq += 1400;
    x.id = static_cast<std::uint16_t>(s.id + 5);
    return segment(x);
  }();
  EXPECT_EQ(coalesce(in).packets_per_write, (Counts{1, 1}));

  // A new timestamp (options differ).
  in = run(s, 2);
  in[1] = [&] {
    Seg x = s;
    x.seq += 1400;
    x.id = static_cast<std::uint16_t>(s.id + 1);
    x.tsval = 2;
    return segment(x);
  }();
  EXPECT_EQ(coalesce(in).packets_per_write, (Counts{1, 1}));

  // A bad checksum: neither joined nor mended.
  in = run(s, 3);
  in[1] = [&] {
    Seg x = s;
    x.seq += 1400;
    x.id = static_cast<std::uint16_t>(s.id + 1);
    x.fill = 1;
    x.bad_checksum = true;
    return segment(x);
  }();
  Result r = coalesce(in);
  EXPECT_EQ(r.packets_per_write, (Counts{1, 1, 1}));
  EXPECT_EQ(r.packets, in);

  // FIN, and a segment after PSH, and a larger one after a shorter one.
  in = run(s, 2, 0x11);
  EXPECT_EQ(coalesce(in).packets_per_write, (Counts{1, 1}));
  in = run(s, 3, 0x10);
  in[1] = [&] {  // PSH on the middle one
    Seg x = s;
    x.seq += 1400;
    x.id = static_cast<std::uint16_t>(s.id + 1);
    x.fill = 1;
    x.flags = 0x18;
    return segment(x);
  }();
  r = coalesce(in);
  EXPECT_EQ(r.packets_per_write, (Counts{2, 1}));
  EXPECT_EQ(r.packets, in);
  Seg shorter = s;
  shorter.payload = 700;
  in = run(shorter, 2);
  Seg longer = s;
  longer.seq = s.seq + 1400;
  longer.id = static_cast<std::uint16_t>(s.id + 2);
  in.push_back(segment(longer));
  r = coalesce(in);
  EXPECT_EQ(r.packets_per_write, (Counts{2, 1}));
  EXPECT_EQ(r.packets, in);
}

TEST(TunCoalesce, APacketBetweenKeepsTheStreamInOrder) {
  Seg s;
  auto in = run(s, 3);
  // A pure ACK of the same stream between the first and the second: the rest may not join the
  // first write, or the ACK would arrive after them.
  Seg ack = s;
  ack.payload = 0;
  ack.seq = s.seq + 1400;
  ack.id = static_cast<std::uint16_t>(s.id + 1);
  in.insert(in.begin() + 1, segment(ack));
  Result r = coalesce(in);
  EXPECT_EQ(r.packets_per_write, (Counts{1, 1, 2}));
  EXPECT_EQ(r.packets.size(), 4u);
  EXPECT_EQ(r.packets[1], in[1]);
  // Not TCP at all: written as it came, nothing joined across it for its own (no) stream.
  Seg udp = s;
  udp.protocol = 17;
  const auto u = segment(udp);
  r = coalesce({u});
  EXPECT_EQ(r.packets, std::vector<Bytes>{u});
}

TEST(TunCoalesce, WritesStayWithinTheKernelsLimits) {
  // At most 64 packets per write.
  Seg small;
  small.payload = 100;
  Result r = coalesce(run(small, 70));
  EXPECT_EQ(r.packets_per_write, (Counts{64, 6}));
  // At most 65535 bytes of IPv4 packet: 52 bytes of headers and 46 x 1400 fit, 47 do not.
  Seg s;
  auto in = run(s, 50);
  r = coalesce(in);
  EXPECT_EQ(r.packets_per_write, (Counts{46, 4}));
  EXPECT_EQ(r.packets, in);
}

TEST(TunCoalesce, FullMeansWriteAndAddAgain) {
  Seg s;
  auto in = run(s, 3);
  Coalescer c(2 * 1500, 8);
  EXPECT_TRUE(c.add(in[0]));
  EXPECT_TRUE(c.add(in[1]));
  EXPECT_FALSE(c.add(in[2]));  // no room for its payload
  EXPECT_EQ(c.writes().size(), 1u);
  c.clear();
  EXPECT_TRUE(c.empty());
  EXPECT_TRUE(c.add(in[2]));
  // Too many writes held.
  Coalescer one(64 * 1024, 1);
  Seg b = s;
  b.port = 1;
  EXPECT_TRUE(one.add(in[0]));
  EXPECT_FALSE(one.add(segment(b)));
  // Larger than the whole space.
  Coalescer tiny(100, 4);
  EXPECT_FALSE(tiny.add(in[0]));
  // Nothing at all (the fuzz target's first finding: an empty span's null data was copied).
  Coalescer empty(1024, 4);
  EXPECT_TRUE(empty.add({}));
  ASSERT_EQ(empty.writes().size(), 1u);
  EXPECT_EQ(empty.writes()[0].bytes, 0u);
}

TEST(TunCoalesce, FlowHashNamesTheFlow) {
  Seg s;
  const auto a1 = segment(s);
  Seg later = s;
  later.seq += 5000;
  later.payload = 10;
  later.flags = 0x11;
  EXPECT_EQ(flow_hash(a1), flow_hash(segment(later))) << "same ports and addresses";
  Seg other = s;
  other.port = 51001;
  EXPECT_NE(flow_hash(a1), flow_hash(segment(other))) << "another port";
  Seg v6 = s;
  v6.v4 = false;
  Seg v6_later = v6;
  v6_later.seq += 1400;
  EXPECT_EQ(flow_hash(segment(v6)), flow_hash(segment(v6_later)));
  EXPECT_NE(flow_hash(segment(v6)), flow_hash(a1));
  // An IPv4 fragment hashes by its addresses alone, as every piece of its datagram does.
  auto frag = segment(s);
  frag[6] |= 0x20;  // MF
  auto frag2 = segment(other);
  frag2[7] = 0x10;  // an offset
  EXPECT_EQ(flow_hash(frag), flow_hash(frag2));
  // Whatever bytes: no crash, a value.
  const std::vector<std::uint8_t> junk = {0x45, 0, 0};
  (void)flow_hash(junk);
  (void)flow_hash({});
}

}  // namespace
}  // namespace tandem::tun
