#pragma once
// The upstream half of the TUN offloads (docs/data-plane.md, "Upstream: coalesced writes"):
// the packets that clients send during one batch (one recvmmsg drain, one TLS read) are gathered
// here, and consecutive segments of one TCP stream are joined into a super-packet that the kernel
// takes in a single TUN write, as its own GRO would have built it. The kernel cuts it again only
// if it must (a forwarded packet leaving through a device without TSO).
//
// Joining changes no byte a receiver sees: a packet joins only the newest write of its own TCP
// stream, only if the kernel's segmentation of the result gives back exactly the packets that
// went in (same headers but for length, IPv4 id and checksums, contiguous sequence numbers, equal
// sizes but the last, PSH only on the last, valid checksums). Anything else is written as it came.
// Pure: bytes in, header and byte ranges out, no I/O.
#include <sys/uio.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "node/tun/offload.hpp"

namespace tandem::tun {

// A hash that is the same for every packet of one flow: both addresses, and for TCP and UDP
// (not fragmented) both ports. Packets of one flow sharded by it stay in one queue, in order.
std::uint32_t flow_hash(std::span<const std::uint8_t> packet);

class Coalescer {
 public:
  // `arena`: bytes to hold the packets of one batch (copied in); `max_writes`: writes held.
  Coalescer(std::size_t arena, std::size_t max_writes);

  // Copies `packet` in, joined to an earlier one of its stream where it can be. False when the
  // coalescer is full: the caller writes what is held (writes(), clear()) and adds again. A
  // packet larger than the arena is refused as well; the caller writes it alone.
  bool add(std::span<const std::uint8_t> packet);

  struct Write {
    VnetHeader header;               // zeroed for a packet written as it came
    std::span<const iovec> pieces;   // the bytes, in order: first packet, then joined payloads
    std::size_t packets = 0;         // how many packets went into it
    std::size_t bytes = 0;           // the pieces' total
  };
  // Finishes the headers of the joined writes; the writes in the order of their first packet
  // (packets of one stream keep their order). Valid until clear() or the next add().
  std::span<const Write> writes();
  bool empty() const { return held_ == 0; }
  void clear();

 private:
  struct Parsed;  // what add() learns of a packet (coalesce.cpp)
  static Parsed parse(std::span<const std::uint8_t> packet);
  struct Stream {
    std::array<std::uint8_t, 36> key{};  // addresses and ports
    std::uint8_t key_len = 0;
  };
  struct Held {
    Stream stream;
    bool joinable = false;  // a TCP segment more may join it
    bool v4 = true;
    std::size_t headers = 0;      // IP + TCP header bytes of the first packet
    std::size_t segment = 0;      // the first packet's payload: every one but the last has it
    std::size_t payload = 0;      // all payload joined so far
    std::size_t packets = 0;
    std::uint32_t next_seq = 0;
    std::uint8_t* first = nullptr;  // the first packet, in the arena; its headers become the write's
    std::size_t first_len = 0;
    bool last_psh = false;
    std::vector<iovec> pieces;
  };

  std::uint8_t* copy_in(std::span<const std::uint8_t> bytes);
  bool joins(const Held& h, std::span<const std::uint8_t> packet, const Parsed& parsed) const;
  void finish(Held& h, Write& w);

  std::unique_ptr<std::uint8_t[]> arena_;
  std::size_t arena_size_;
  std::size_t used_ = 0;
  std::vector<Held> held_list_;  // held_ of them in use; the rest keep their vectors' capacity
  std::size_t held_ = 0;
  std::vector<Write> writes_;
};

}  // namespace tandem::tun
