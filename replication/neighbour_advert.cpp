#include "replication/neighbour_advert.hpp"

namespace tandem::replication {
namespace {

constexpr std::uint8_t kNeighbourAdvertType = 136;
constexpr std::uint8_t kIcmpv6NextHeader = 58;
constexpr std::uint8_t kRouterFlag = 0x80;
constexpr std::uint8_t kOverrideFlag = 0x20;
constexpr std::uint8_t kTargetLinkLayerOption = 2;

std::uint32_t add_words(std::uint32_t sum, std::span<const std::uint8_t> bytes) {
  for (std::size_t i = 0; i + 1 < bytes.size(); i += 2)
    sum += (std::uint32_t{bytes[i]} << 8) | bytes[i + 1];
  if (bytes.size() & 1) sum += std::uint32_t{bytes.back()} << 8;
  return sum;
}

}  // namespace

net::Ipv6Addr all_nodes_address() {
  net::Ipv6Addr a{};
  a[0] = 0xff;
  a[1] = 0x02;
  a[15] = 0x01;
  return a;
}

std::uint16_t icmpv6_checksum(const net::Ipv6Addr& source, const net::Ipv6Addr& destination,
                              std::span<const std::uint8_t> message) {
  const auto length = static_cast<std::uint32_t>(message.size());
  // The pseudo-header's tail: the upper-layer length (32 bits), three zero bytes, next header.
  std::array<std::uint8_t, 8> tail{};
  for (int i = 0; i < 4; ++i) tail[i] = static_cast<std::uint8_t>(length >> (24 - 8 * i));
  tail[7] = kIcmpv6NextHeader;
  std::uint32_t sum = add_words(0, source);
  sum = add_words(sum, destination);
  sum = add_words(sum, tail);
  sum = add_words(sum, message);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

std::array<std::uint8_t, kNeighbourAdvertSize> unsolicited_neighbour_advert(
    const net::Ipv6Addr& target, const MacAddr& mac, bool router) {
  std::array<std::uint8_t, kNeighbourAdvertSize> m{};
  m[0] = kNeighbourAdvertType;
  m[1] = 0;  // code
  // m[2..3]: checksum, below.
  m[4] = static_cast<std::uint8_t>(kOverrideFlag | (router ? kRouterFlag : 0));
  // m[5..7]: reserved, zero.
  for (std::size_t i = 0; i < target.size(); ++i) m[8 + i] = target[i];
  m[24] = kTargetLinkLayerOption;
  m[25] = 1;  // the option's length in units of 8 bytes
  for (std::size_t i = 0; i < mac.size(); ++i) m[26 + i] = mac[i];
  const std::uint16_t sum = icmpv6_checksum(target, all_nodes_address(), m);
  m[2] = static_cast<std::uint8_t>(sum >> 8);
  m[3] = static_cast<std::uint8_t>(sum);
  return m;
}

}  // namespace tandem::replication
