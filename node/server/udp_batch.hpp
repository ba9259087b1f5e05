#pragma once
// Pure decisions for sending many UDP datagrams with one system call (docs/data-plane.md):
// which consecutive datagrams travel together as one UDP GSO send, and what a refused send means
// for the datagrams it carried. No sockets here; DatagramBatch does the sending.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace tandem::server {

// Linux's limits for one UDP_SEGMENT send: at most 64 segments (UDP_MAX_SEGMENTS on every kernel
// that has the option), and the whole payload must fit one IP datagram (65535 minus the IPv4
// and UDP headers; IPv6 allows a little more, so the IPv4 bound serves both).
inline constexpr std::size_t kMaxGsoSegments = 64;
inline constexpr std::size_t kMaxGsoBytes = 65535 - 20 - 8;

struct OutDatagram {
  std::uint32_t flow = 0;  // equal values: the same destination
  std::size_t size = 0;
};

// Datagrams [first, first + count) sent as one message: with count > 1, the kernel cuts its
// payload into `segment`-byte datagrams (the last one may be shorter).
struct SendRun {
  std::size_t first = 0;
  std::size_t count = 0;
  std::size_t segment = 0;
};

// Groups consecutive datagrams to one flow whose sizes all equal the first one's, except a last
// one that is shorter (it closes the run), within the segment and byte limits. Without `gso`,
// every datagram is its own run. Order is kept; `out` is cleared first (its storage reused).
void plan_runs(std::span<const OutDatagram> datagrams, bool gso, std::vector<SendRun>& out,
               std::size_t max_segments = kMaxGsoSegments, std::size_t max_bytes = kMaxGsoBytes);

enum class SendOutcome {
  sent,
  dropped,       // a full queue (EAGAIN, ENOBUFS): lost as UDP may lose it; not a failure
  failed,        // the client cannot be reached over UDP from here (no route, a firewall)
  retry_singly,  // the kernel refused the GSO form (no checksum offload, a path MTU below the
                 // segment size): send the run's datagrams one by one
};

// What errno `err` from sending a run of `count` datagrams means.
SendOutcome classify_send_error(int err, std::size_t count);

}  // namespace tandem::server
