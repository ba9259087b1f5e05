#pragma once
// Revoking this node's etcd lease from the keeper once the daemon is gone (docs/arbiter.md,
// "A process crash"): the member's key and record go with the lease, so the standby wins the key
// at once instead of after the lease's TTL. The keeper is a small forked process without gRPC,
// so it speaks to etcd's JSON gateway (POST /v3/lease/revoke) over plain HTTP, or HTTPS with the
// arbiter's CA, certificate and key. Blocking, with a deadline per endpoint; endpoints in turn.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.hpp"
#include "base/result.hpp"

namespace tandem::replication {

struct LeaseRevoker {
  std::vector<std::string> endpoints;        // "http://host:port" / "https://host:port"
  std::string ca, certificate, private_key;  // files, for https endpoints
};

// The request, bytes on the wire: `authority` is the endpoint's "host:port".
std::string revoke_request(std::string_view authority, std::int64_t lease);
// What etcd's answer says: revoked now (200), already gone (the gateway's error for a lease that
// no longer exists: it expired, or the daemon revoked it as it stopped), or neither.
enum class RevokeAnswer { revoked, already_gone, other };
RevokeAnswer read_revoke_answer(std::string_view response);

struct Revoked {
  std::string endpoint;  // the one that answered
  bool already_gone = false;
};

// Asks each endpoint in turn (each of its addresses in turn) until one answers; each step
// (connect, TLS handshake, send, receive) is bounded by `step_timeout`. Why none did, otherwise.
Result<Revoked> revoke_lease(const LeaseRevoker& where, std::int64_t lease, Duration step_timeout);

}  // namespace tandem::replication
