#pragma once
// The unsolicited Neighbour Advertisement that announces a moved IPv6 address (docs/ipv6.md,
// "Pairs"): the IPv6 counterpart of the gratuitous ARP in service_address.cpp. Sent to all nodes
// (ff02::1) with the Override flag and our link-layer address, it makes every neighbour that has
// the address cached point it at us at once, instead of probing the old owner for seconds first.
// Pure: the bytes only; service_address.cpp sends them.
#include <array>
#include <cstdint>
#include <span>

#include "base/address.hpp"

namespace tandem::replication {

using MacAddr = std::array<std::uint8_t, 6>;

// The ICMPv6 message (type 136, code 0): header, flags (Router when `router`, Override; never
// Solicited, which a multicast advertisement must not carry), the target address, and one
// Target Link-Layer Address option (type 2, 8 bytes) with `mac`. The checksum is computed for
// an IPv6 header from `target` to ff02::1 (the kernel fills it in on a raw ICMPv6 socket as
// well, to the same value).
constexpr std::size_t kNeighbourAdvertSize = 32;
std::array<std::uint8_t, kNeighbourAdvertSize> unsolicited_neighbour_advert(
    const net::Ipv6Addr& target, const MacAddr& mac, bool router);

// ff02::1, the all-nodes link-local multicast group.
net::Ipv6Addr all_nodes_address();

// The ICMPv6 checksum (RFC 4443 2.3): the one's complement of the one's complement sum over the
// pseudo-header (source, destination, length, next header 58) and the message, whose own
// checksum field is taken as it stands (0 when computing, the sent value when verifying: a
// correct message then sums to 0).
std::uint16_t icmpv6_checksum(const net::Ipv6Addr& source, const net::Ipv6Addr& destination,
                              std::span<const std::uint8_t> message);

}  // namespace tandem::replication
