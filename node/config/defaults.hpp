#pragma once
// Every protocol and product default of the node in one place (the wireguard-go habit); those
// replication shares are in base/defaults.hpp, included here.
#include <chrono>
#include <cstddef>

#include "base/defaults.hpp"

namespace tandem::defaults {

using namespace std::chrono_literals;

inline constexpr const char* kListen = "0.0.0.0:443";
inline constexpr const char* kStateDir = "/var/lib/tandem";
inline constexpr const char* kAdminSocket = "/run/tandem/admin.sock";
inline constexpr const char* kUsersFile = "/etc/tandem/users";
inline constexpr const char* kPoolIpv4 = "10.77.0.0/24";
inline constexpr const char* kTunName = "tandem0";
inline constexpr const char* kPolicyName = "default";
inline constexpr const char* kTunnelGroupName = "default";

// Group policy (S3-S8). openconnect retries a lost session for ~360 s, so a disconnected
// timeout under ~6 minutes would strand default clients still retrying (S8).
inline constexpr auto kIdleTimeout = std::chrono::milliseconds(30min);
inline constexpr auto kSessionTimeout = std::chrono::milliseconds(0);  // 0 = unlimited
inline constexpr auto kDpdInterval = std::chrono::milliseconds(30s);
inline constexpr auto kKeepalive = std::chrono::milliseconds(20s);
inline constexpr int kMtu = 1400;
inline constexpr int kSimultaneousLogins = 3;
// Traffic policy (docs/traffic-policy.md): clients do not reach each other unless a policy
// says so.
inline constexpr bool kClientToClient = false;
// Cisco Secure Client settings sent on CONNECT (docs/cisco-clients.md): off, as an ASA's
// group policy defaults them.
inline constexpr bool kClientBypassProtocol = false;
inline constexpr bool kDisableAlwaysOnVpn = false;

// Front door limits: what a client may send before it has authenticated.
inline constexpr std::size_t kMaxHeaderBytes = 16 * 1024;
inline constexpr std::size_t kMaxHeaderCount = 64;
inline constexpr std::size_t kMaxBodyBytes = 64 * 1024;
inline constexpr auto kTlsHandshakeTimeout = std::chrono::milliseconds(10s);
inline constexpr auto kRequestTimeout = std::chrono::milliseconds(10s);  // whole request, head+body
inline constexpr auto kKeepAliveIdleTimeout = std::chrono::milliseconds(30s);
inline constexpr auto kAuthTimeout = std::chrono::milliseconds(120s);  // whole login exchange
inline constexpr std::size_t kMaxPendingLogins = 256;  // password checks in flight, in total
// accept() failing other than for want of a descriptor (kernel memory): wait this long before
// accepting again, instead of retrying at once in a loop (docs/limits.md, descriptors).
inline constexpr auto kAcceptRetryPause = std::chrono::milliseconds(100);

// CSTP: the largest frame payload accepted from a client (openconnect reads up to 16 KiB).
inline constexpr std::size_t kMaxCstpPayload = 16 * 1024;
// Frames queued towards one client before new data packets are dropped (counted as tx drops).
inline constexpr std::size_t kMaxTunnelWriteQueue = 512;
// Control frames (DPD requests and replies) queued towards one client; beyond, they are dropped:
// a client that asks without reading gets no more answers, and DPD treats it as dead.
inline constexpr std::size_t kMaxTunnelControlQueue = 16;
// Encrypted bytes waiting for a slow client before its tunnel stops reading from it (the client's
// own input then waits in TCP, not in our memory).
inline constexpr std::size_t kMaxTunnelTlsBacklog = 1024 * 1024;

}  // namespace tandem::defaults

namespace tandem::defaults {
// TLS connections that have not (yet) become tunnels; beyond this new ones are refused.
inline constexpr std::size_t kMaxFrontConnections = 4096;
}  // namespace tandem::defaults

namespace tandem::defaults {
// [limits]: a node facing the internet (docs/limits.md). Per-address caps count connections that
// have not become tunnels: users behind one NAT share an address, and their tunnels are not
// capped. 0 disables a per-address, per-user or per-session cap in the config.
inline constexpr std::size_t kConnectionsPerAddress = 16;
inline constexpr std::size_t kTlsHandshakes = 512;  // TLS handshakes in progress, in total
inline constexpr std::size_t kTlsHandshakesPerAddress = 8;
inline constexpr auto kLoginDeadline = kAuthTimeout;  // accept -> login or CONNECT with a token
inline constexpr std::size_t kLoginsInFlightPerAddress = 4;

// Login throttling: failures allowed per key before exponential back-off starts. With these, a
// guesser gets 5 tries, then about 5 more in the next minute, then one every 5 minutes.
inline constexpr std::size_t kLoginFailuresPerUserAddress = 5;
inline constexpr std::size_t kLoginFailuresPerAddress = 20;  // any user: password spraying
inline constexpr std::size_t kLoginFailuresPerUser = 50;     // all addresses, at most 5 each
inline constexpr auto kLoginBackoffInitial = std::chrono::milliseconds(2s);
inline constexpr auto kLoginBackoffMax = std::chrono::milliseconds(5min);
inline constexpr auto kLoginForgetAfter = std::chrono::milliseconds(1h);  // quiet: state dropped
inline constexpr std::size_t kLoginThrottleEntries = 20000;  // per table (failures, trusted)

// RADIUS challenges (docs/radius.md): how many may wait for their answer at once, and for how
// long (the user reads a code off a token and types it).
inline constexpr std::size_t kRadiusChallenges = 4096;
inline constexpr auto kRadiusChallengeTtl = std::chrono::milliseconds(2min);
// RADIUS client threads (each blocks on one request while it waits for a server).
inline constexpr std::size_t kRadiusWorkers = 4;

// DTLS handshakes in progress (after the cookie exchange), in total and per session.
inline constexpr std::size_t kDtlsHandshakes = 256;
inline constexpr std::size_t kDtlsHandshakesPerSession = 2;
// [limits] max_sessions when not set: derived from the node's memory (server/session_limit.hpp).
inline constexpr int kMaxSessionsFromMemory = -1;

// Log lines per kind of refusal: a burst, then one per interval; the rest are counted and the
// count is logged with the next line (metrics count every one).
inline constexpr std::size_t kRefusalLogBurst = 20;
inline constexpr auto kRefusalLogInterval = std::chrono::milliseconds(1s);

// Client-facing TLS (docs/tls.md). TLS 1.2: ECDHE key exchange with an AEAD cipher only (no
// static RSA, no finite-field DHE, no CBC, no SHA-1 MAC), for ECDSA and RSA certificates; the
// server's order wins. TLS 1.3: the three AEAD suites every client has (no CCM).
inline constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256";
inline constexpr const char* kTls13Ciphersuites =
    "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256";
inline constexpr const char* kTlsGroups = "X25519:P-256:X448:P-384:P-521";
// DTLS 1.2 in PSK-NEGOTIATE mode: AEAD suites only. openconnect 9.01 (GnuTLS) offers plain PSK
// only and takes PSK-AES256-GCM-SHA384 (anyconnect-protocol.md section 5.2); the ECDHE-PSK suite
// serves clients that offer it (forward secrecy per DTLS association).
inline constexpr const char* kDtlsCiphers =
    "ECDHE-PSK-CHACHA20-POLY1305:PSK-AES256-GCM-SHA384:PSK-CHACHA20-POLY1305:"
    "PSK-AES128-GCM-SHA256";
// Legacy DTLS 1.2 resumption (docs/dtls-modes.md): the suites dtls/dtls_mode.cpp may announce.
inline constexpr const char* kDtlsLegacyCiphers =
    "ECDHE-RSA-AES256-GCM-SHA384:AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:"
    "AES128-GCM-SHA256";
// A certificate closer than this to its notAfter is logged as a warning ([tls] expiry_warning).
inline constexpr auto kCertificateExpiryWarning = std::chrono::milliseconds(std::chrono::days(30));
// How often a running node checks its certificates' expiry again (besides start and reload).
inline constexpr auto kCertificateCheckInterval = std::chrono::milliseconds(std::chrono::hours(24));
// RADIUS accounting (docs/radius-accounting.md): records the durable queue holds at most (a
// record is a few hundred bytes); beyond it new records are dropped, logged and counted.
// Resending backoff and the Interim-Update minimum are in radius/accounting_record.hpp.
inline constexpr std::size_t kAccountingQueueRecords = 100000;
}  // namespace tandem::defaults
