#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "node/cstp/frame.hpp"

namespace tandem::cstp {
namespace {

using Bytes = std::vector<std::uint8_t>;
using Status = Decoder::Status;

Bytes bytes(std::string_view s) { return Bytes(s.begin(), s.end()); }

Bytes payload_of(const Frame& f) { return Bytes(f.payload.begin(), f.payload.end()); }

Bytes concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// An IPv4 echo request header, as a data payload would start.
const Bytes kIpPacket = {0x45, 0x00, 0x00, 0x54, 0x12, 0x34, 0x40, 0x00, 0x40, 0x01,
                         0x00, 0x00, 0x0a, 0x4e, 0x00, 0x0a, 0x0a, 0x4e, 0x00, 0x01};

TEST(CstpEncode, HeaderLayout) {
  EXPECT_EQ(encode(Type::dpd_request), (Bytes{'S', 'T', 'F', 1, 0, 0, 0x03, 0}));
  Bytes data = encode(Type::data, kIpPacket);
  ASSERT_EQ(data.size(), kHeaderSize + kIpPacket.size());
  EXPECT_EQ(Bytes(data.begin(), data.begin() + 8), (Bytes{'S', 'T', 'F', 1, 0, 20, 0x00, 0}));
  EXPECT_EQ(Bytes(data.begin() + 8, data.end()), kIpPacket);
  Bytes big(0x1234, 0xaa);
  Bytes framed = encode(Type::data, big);
  EXPECT_EQ(framed[4], 0x12);
  EXPECT_EQ(framed[5], 0x34);
}

TEST(CstpEncode, IntoExistingBufferClearsIt) {
  Bytes out = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
  encode(Type::keepalive, {}, out);
  EXPECT_EQ(out, (Bytes{'S', 'T', 'F', 1, 0, 0, 0x07, 0}));
}

TEST(CstpDecoder, RoundTripOfEveryType) {
  Decoder d(2048);
  for (Type t : {Type::data, Type::dpd_request, Type::dpd_response, Type::disconnect,
                 Type::keepalive, Type::compressed, Type::terminate}) {
    d.append(encode(t, kIpPacket));
    Frame f{};
    ASSERT_EQ(d.next(f), Status::frame);
    EXPECT_EQ(f.type, t);
    EXPECT_EQ(payload_of(f), kIpPacket);
    EXPECT_EQ(d.next(f), Status::need_more);
  }
}

TEST(CstpDecoder, ByteByByte) {
  Bytes stream = concat({encode(Type::data, kIpPacket), encode(Type::keepalive)});
  Decoder d(2048);
  std::vector<Type> types;
  std::vector<Bytes> payloads;
  for (std::uint8_t b : stream) {
    d.append(std::span<const std::uint8_t>(&b, 1));
    Frame f{};
    Status s;
    while ((s = d.next(f)) == Status::frame) {
      types.push_back(f.type);
      payloads.push_back(payload_of(f));
    }
    ASSERT_EQ(s, Status::need_more) << d.error();
  }
  ASSERT_EQ(types.size(), 2u);
  EXPECT_EQ(types[0], Type::data);
  EXPECT_EQ(payloads[0], kIpPacket);
  EXPECT_EQ(types[1], Type::keepalive);
  EXPECT_TRUE(payloads[1].empty());
  EXPECT_EQ(d.buffered(), 0u);
}

TEST(CstpDecoder, SeveralFramesInOneAppendAndATail) {
  Bytes dpd_payload = {0xde, 0xad};
  Bytes third = encode(Type::data, kIpPacket);
  Bytes stream = concat({encode(Type::dpd_request, dpd_payload), encode(Type::data, kIpPacket),
                         Bytes(third.begin(), third.begin() + 11)});
  Decoder d(2048);
  d.append(stream);
  Frame f{};
  ASSERT_EQ(d.next(f), Status::frame);
  EXPECT_EQ(f.type, Type::dpd_request);
  EXPECT_EQ(payload_of(f), dpd_payload);
  ASSERT_EQ(d.next(f), Status::frame);
  EXPECT_EQ(f.type, Type::data);
  EXPECT_EQ(payload_of(f), kIpPacket);
  EXPECT_EQ(d.next(f), Status::need_more);
  EXPECT_EQ(d.buffered(), 11u);
  d.append(std::span<const std::uint8_t>(third).subspan(11));
  ASSERT_EQ(d.next(f), Status::frame);
  EXPECT_EQ(payload_of(f), kIpPacket);
  EXPECT_EQ(d.buffered(), 0u);
}

TEST(CstpDecoder, DpdRequestPayloadIsPreservedForTheEcho) {
  // openconnect pads DPD probes; the answer must carry the same bytes with type 0x04.
  Bytes probe(1300);
  for (std::size_t i = 0; i < probe.size(); ++i) probe[i] = static_cast<std::uint8_t>(i * 7);
  Decoder d(16 * 1024);
  d.append(encode(Type::dpd_request, probe));
  Frame f{};
  ASSERT_EQ(d.next(f), Status::frame);
  ASSERT_EQ(f.type, Type::dpd_request);
  Bytes echo = encode(Type::dpd_response, f.payload);
  Bytes expected = encode(Type::dpd_request, probe);
  expected[6] = 0x04;  // "ocserv just flips the type byte"
  EXPECT_EQ(echo, expected);
}

TEST(CstpDecoder, EmptyPayloadAtTheLimitBoundary) {
  Decoder d(20);
  d.append(encode(Type::data, kIpPacket));  // exactly 20: allowed
  Frame f{};
  EXPECT_EQ(d.next(f), Status::frame);
  d.append(encode(Type::data, Bytes(21, 1)));
  EXPECT_EQ(d.next(f), Status::error);
}

TEST(CstpDecoder, LyingLengthIsRefusedFromTheHeaderAlone) {
  Decoder d(1500);
  d.append(Bytes{'S', 'T', 'F', 1, 0xff, 0xff});  // 65535 claimed, nothing else sent
  Frame f{};
  ASSERT_EQ(d.next(f), Status::error);
  EXPECT_NE(d.error().find("65535"), std::string::npos) << d.error();
  EXPECT_NE(d.error().find("1500"), std::string::npos) << d.error();
  // Sticky, and nothing more is buffered.
  std::size_t held = d.buffered();
  d.append(Bytes(4096, 0));
  EXPECT_EQ(d.buffered(), held);
  EXPECT_EQ(d.next(f), Status::error);
}

TEST(CstpDecoder, BadMagic) {
  Decoder d(1500);
  d.append(std::string_view("GET / HTTP/1.1\r\n"));
  Frame f{};
  ASSERT_EQ(d.next(f), Status::error);
  EXPECT_NE(d.error().find("magic"), std::string::npos);
  EXPECT_NE(d.error().find("47 45 54 20"), std::string::npos) << d.error();
}

TEST(CstpDecoder, BadMagicIsCaughtBeforeAFullHeader) {
  Decoder d(1500);
  d.append(Bytes{'S', 'T'});
  Frame f{};
  EXPECT_EQ(d.next(f), Status::need_more);
  d.append(Bytes{'X'});
  EXPECT_EQ(d.next(f), Status::error);
  Decoder v2(1500);
  v2.append(Bytes{'S', 'T', 'F', 0x02, 0, 0, 0, 0});
  EXPECT_EQ(v2.next(f), Status::error);
}

TEST(CstpDecoder, MagicAfterAMisframedPayload) {
  // The second header arrives mid-stream at the wrong place: the bytes there are payload.
  Bytes stream = encode(Type::data, kIpPacket);
  stream[5] = 10;  // sender claimed 10 bytes but wrote 20
  Decoder d(1500);
  d.append(stream);
  Frame f{};
  ASSERT_EQ(d.next(f), Status::frame);
  EXPECT_EQ(f.payload.size(), 10u);
  EXPECT_EQ(d.next(f), Status::error);
}

TEST(CstpDecoder, NonzeroByteSeven) {
  Bytes frame = encode(Type::keepalive);
  frame[7] = 0x01;
  Decoder d(1500);
  d.append(frame);
  Frame f{};
  ASSERT_EQ(d.next(f), Status::error);
  EXPECT_NE(d.error().find("byte 7"), std::string::npos) << d.error();
}

TEST(CstpDecoder, UnknownTypeIsReturnedAsAFrame) {
  Bytes frame = encode(Type::data, Bytes{1, 2, 3});
  frame[6] = 0x42;
  Decoder d(1500);
  d.append(frame);
  Frame f{};
  ASSERT_EQ(d.next(f), Status::frame);
  EXPECT_EQ(static_cast<int>(f.type), 0x42);
  EXPECT_EQ(payload_of(f), (Bytes{1, 2, 3}));
}

TEST(CstpDecoder, BufferStaysBoundedOverALongStream) {
  Decoder d(2048);
  Bytes frame = encode(Type::data, kIpPacket);
  Bytes half(frame.begin(), frame.begin() + 13);
  Bytes rest(frame.begin() + 13, frame.end());
  Frame f{};
  d.append(half);
  for (int i = 0; i < 10000; ++i) {
    d.append(concat({rest, frame, half}));  // completes one frame, one whole, one started
    int frames = 0;
    while (d.next(f) == Status::frame) ++frames;
    ASSERT_EQ(frames, 2) << "round " << i << ": " << d.error();
    ASSERT_EQ(d.buffered(), half.size());
  }
}

TEST(CstpDisconnect, LogoutAndReason) {
  // Observed client BYE on Ctrl-C: 0xb0 + "Aborted by caller".
  Bytes bye = {0xb0, 'A', 'b', 'o', 'r', 't', 'e', 'd', ' ',
               'b',  'y', ' ', 'c', 'a', 'l', 'l', 'e', 'r'};
  Frame f{Type::disconnect, bye};
  EXPECT_TRUE(is_logout(f));
  EXPECT_EQ(disconnect_reason(f), "Aborted by caller");
}

TEST(CstpDisconnect, OtherDisconnectsAreNotLogouts) {
  Bytes other = {0x01, 'b', 'r', 'b'};
  EXPECT_FALSE(is_logout(Frame{Type::disconnect, other}));
  EXPECT_EQ(disconnect_reason(Frame{Type::disconnect, other}), "brb");
  EXPECT_FALSE(is_logout(Frame{Type::disconnect, {}}));
  EXPECT_EQ(disconnect_reason(Frame{Type::disconnect, {}}), "");
  Bytes code_only = {0xb0};
  EXPECT_TRUE(is_logout(Frame{Type::disconnect, code_only}));
  EXPECT_EQ(disconnect_reason(Frame{Type::disconnect, code_only}), "");
  EXPECT_FALSE(is_logout(Frame{Type::terminate, code_only}));
  EXPECT_FALSE(is_logout(Frame{Type::data, code_only}));
}

TEST(CstpDisconnect, ReasonIsSanitised) {
  Bytes evil = {0xb0, 'a', '\n', 'b', 0x1b, '[', 0xff, 'c', 0x00, 'h', 'i', 'd'};
  EXPECT_EQ(disconnect_reason(Frame{Type::disconnect, evil}), "a?b?[?c");
}

TEST(CstpDisconnect, DecodedServerRequestBye) {
  Bytes payload = bytes("\xb0Server request");
  Decoder d(1500);
  d.append(encode(Type::disconnect, payload));
  Frame f{};
  ASSERT_EQ(d.next(f), Status::frame);
  EXPECT_TRUE(is_logout(f));
  EXPECT_EQ(disconnect_reason(f), "Server request");
}

}  // namespace
}  // namespace tandem::cstp
