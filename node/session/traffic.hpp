#pragma once
// The data path's routing question: where an IP packet from the TUN device goes. How a packet
// counts is the session table's (data_from_client …); which packets a client may send inside is
// traffic_filter.hpp's. Pure: no I/O.
#include <cstdint>
#include <optional>
#include <span>

#include "base/address.hpp"

namespace tandem::session {

// Destination of an IPv4 packet, or nullopt for anything that is not one.
std::optional<std::uint32_t> ipv4_destination(std::span<const std::uint8_t> packet);
// Destination of an IPv6 packet (a whole fixed header), or nullopt for anything else.
std::optional<net::Ipv6Addr> ipv6_destination(std::span<const std::uint8_t> packet);

}  // namespace tandem::session
