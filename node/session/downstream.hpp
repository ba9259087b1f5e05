#pragma once
// Which of a session's tunnels carries the downstream (packets for the client): one pure rule,
// applied by the session table on each event that says where the client is listening
// (docs/roaming.md). The client tells us by what it does, never by a message: openconnect drops
// its DTLS socket the moment its network fails and carries on over CSTP, and comes back to DTLS
// with a new handshake, so the carrier follows the carrier of the client's own data.
#include <array>
#include <cstddef>
#include <cstdint>

namespace tandem::session {

// Which of a session's tunnels carried a frame, or carries the downstream.
enum class Carrier : std::uint8_t { ssl, dtls };
const char* to_string(Carrier c);

enum class CarrierEvent : std::uint8_t {
  dtls_attached,     // a DTLS handshake completed (the client may not use it yet)
  dtls_detached,     // the DTLS tunnel went away (failure, DPD, idle, replaced)
  data_over_ssl,     // a data packet from the client arrived over CSTP
  data_over_dtls,    // a data record from the client arrived over DTLS
  dtls_send_failed,  // the socket refused a DTLS datagram towards the client
};
inline constexpr std::size_t kCarrierEvents = 5;
const char* to_string(CarrierEvent e);

// The carrier after `e`. `dtls_attached` is whether the session has a DTLS tunnel once the
// event has happened; without one the answer is always CSTP.
//  - Data over CSTP while DTLS is attached: the client has given up its DTLS socket (its
//    network dropped, or its DTLS DPD fired), so DTLS datagrams would go nowhere: CSTP at once.
//  - Data over DTLS: the client is on DTLS (perhaps a new association that replaced the old).
//  - A completed handshake alone moves nothing: the client may still send a few packets over
//    CSTP right after it, and when our last flight is lost the client never uses this
//    association at all. Its first data record settles the downstream on DTLS.
//  - A DTLS send failure: CSTP until the client's next DTLS record.
constexpr Carrier next_downstream(Carrier now, CarrierEvent e, bool dtls_attached) {
  if (!dtls_attached) return Carrier::ssl;
  switch (e) {
    case CarrierEvent::dtls_attached:
      return now;
    case CarrierEvent::dtls_detached:  // a replacement may be attached: wait for its data
    case CarrierEvent::data_over_ssl:
    case CarrierEvent::dtls_send_failed:
      return Carrier::ssl;
    case CarrierEvent::data_over_dtls:
      return Carrier::dtls;
  }
  return now;
}

// Switches of the downstream carrier, counted by the event that caused them.
using CarrierSwitches = std::array<std::uint64_t, kCarrierEvents>;

}  // namespace tandem::session
