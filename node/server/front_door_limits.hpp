#pragma once
// What one source address may hold at the front door, and what all of them together may: the
// connections that are not tunnels yet (TLS handshake, login exchange, CONNECT), and among them
// the TLS handshakes in progress. Pure bookkeeping, no I/O: the front door asks admit() for
// every accepted connection and tells when its handshake ends and when it closes or becomes a
// tunnel. Established tunnels are not counted: users behind one NAT share an address.
// Memory: one entry per address with a connection open, so at most `connections` entries.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "node/config/config.hpp"

namespace tandem::server {

struct FrontDoorSettings {
  std::size_t connections = 4096;            // in total
  std::size_t connections_per_address = 16;  // 0: no per-address cap
  std::size_t handshakes = 512;              // TLS handshakes in progress, in total
  std::size_t handshakes_per_address = 8;    // 0: no per-address cap
};

FrontDoorSettings front_door_settings(const config::Limits& limits, std::size_t connections);

class FrontDoorLimits {
 public:
  enum class Refusal {
    none = -1,
    connections = 0,
    connections_per_address,
    handshakes,
    handshakes_per_address,
    descriptors  // accept() failed for want of a descriptor (see Headend's accept loop)
  };
  static constexpr std::size_t kRefusalKinds = 5;

  explicit FrontDoorLimits(FrontDoorSettings settings) : settings_(settings) {}
  FrontDoorLimits(const FrontDoorLimits&) = delete;
  FrontDoorLimits& operator=(const FrontDoorLimits&) = delete;

  void configure(FrontDoorSettings settings) { settings_ = settings; }

  // A new connection from `address`. Admitted: it counts as open and handshaking until
  // handshake_over() and release(). Refused: nothing is counted but the refusal.
  Refusal admit(const std::string& address);
  // Counts a connection refused before admit() could see it (Refusal::descriptors).
  void count_refusal(Refusal why) { ++refused_[static_cast<std::size_t>(why)]; }
  // Once per admitted connection, when its TLS handshake ended (done, failed or timed out).
  void handshake_over(const std::string& address);
  // Once per admitted connection, after handshake_over(), when it closed or became a tunnel.
  void release(const std::string& address);

  std::size_t open() const { return open_; }
  std::size_t handshaking() const { return handshaking_; }
  std::size_t addresses() const { return by_address_.size(); }
  std::size_t open_from(const std::string& address) const;
  std::uint64_t refused(Refusal why) const { return refused_[static_cast<std::size_t>(why)]; }

 private:
  struct Counts {
    std::size_t open = 0;
    std::size_t handshaking = 0;
  };
  FrontDoorSettings settings_;
  std::unordered_map<std::string, Counts> by_address_;
  std::size_t open_ = 0;
  std::size_t handshaking_ = 0;
  std::array<std::uint64_t, kRefusalKinds> refused_{};
};

std::string_view to_string(FrontDoorLimits::Refusal why);

}  // namespace tandem::server
