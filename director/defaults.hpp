#pragma once
// The director's timing and size constants, in one place (docs/director.md says why each is
// what it is).
#include <chrono>
#include <cstddef>

namespace tandem::director::defaults {

using namespace std::chrono_literals;

// etcd: every request has this deadline (the client's own).
inline constexpr auto kEtcdRequestTimeout = std::chrono::milliseconds(2s);
// While watching, a full read this often: it proves etcd still answers (a watch that hangs on a
// dead network says nothing) and repairs the view if an event was ever missed.
inline constexpr auto kProbeInterval = std::chrono::milliseconds(3s);
// After a watch ends or a read fails: retry after this, doubling up to the maximum.
inline constexpr auto kRetryInitial = std::chrono::milliseconds(250ms);
inline constexpr auto kRetryMax = std::chrono::milliseconds(5s);

// A client connection: TLS handshake, one request, one answer, within this. The director has
// nothing to wait for (no password, no disk), so this only bounds slow or silent clients.
inline constexpr auto kConnectionDeadline = std::chrono::milliseconds(10s);
// Closing: how long the TLS close_notify may take before the socket is just closed.
inline constexpr auto kShutdownDeadline = std::chrono::milliseconds(1s);

// After a failed accept (out of descriptors, the client still queued): wait this long before
// the next, so that the loop does not spin.
inline constexpr auto kAcceptRetryPause = std::chrono::milliseconds(100ms);

// Front door limits (node/server/front_door_limits.hpp): connections and TLS handshakes, in
// total and per source address.
inline constexpr std::size_t kConnections = 4096;
inline constexpr std::size_t kConnectionsPerAddress = 16;
inline constexpr std::size_t kHandshakes = 512;
inline constexpr std::size_t kHandshakesPerAddress = 8;

// Request limits: an init POST is under 1 KiB; node's limits are generous for it.
inline constexpr std::size_t kMaxHeaderBytes = 16 * 1024;
inline constexpr std::size_t kMaxHeaderCount = 64;
inline constexpr std::size_t kMaxBodyBytes = 64 * 1024;

}  // namespace tandem::director::defaults
