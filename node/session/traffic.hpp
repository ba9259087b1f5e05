#pragma once
// The data path's bookkeeping, shared by the SSL and DTLS tunnels: how a packet counts on the
// session and on the tunnel that carried it (S2). Which packets a client may send inside is
// traffic_filter.hpp's. Pure: no I/O.
#include <cstdint>
#include <optional>
#include <span>

#include "node/common/clock.hpp"
#include "node/session/session.hpp"

namespace tandem::session {

// Destination of an IPv4 packet, or nullopt for anything that is not one.
std::optional<std::uint32_t> ipv4_destination(std::span<const std::uint8_t> packet);

// A packet from the client went inside / one went out to the client, over tunnel `t`.
void count_from_client(Session& s, TunnelInfo& t, std::size_t bytes, TimePoint now);
void count_to_client(Session& s, TunnelInfo& t, std::size_t bytes, TimePoint now);

}  // namespace tandem::session
