#include "node/session/traffic.hpp"

#include <algorithm>

namespace tandem::session {
namespace {

std::uint32_t read_be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         p[3];
}

bool is_ipv4(std::span<const std::uint8_t> packet) {
  return packet.size() >= 20 && (packet[0] >> 4) == 4;
}

}  // namespace

std::optional<std::uint32_t> ipv4_destination(std::span<const std::uint8_t> packet) {
  if (!is_ipv4(packet)) return std::nullopt;
  return read_be32(packet.data() + 16);
}

std::optional<net::Ipv6Addr> ipv6_destination(std::span<const std::uint8_t> packet) {
  if (packet.size() < 40 || (packet[0] >> 4) != 6) return std::nullopt;
  net::Ipv6Addr dst;
  std::copy_n(packet.data() + 24, 16, dst.begin());
  return dst;
}

}  // namespace tandem::session
