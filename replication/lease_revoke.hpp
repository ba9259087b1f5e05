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
// Whether etcd's answer says the lease is gone: 200 (revoked now), or the gateway's error for a
// lease that no longer exists (it expired, or the daemon revoked it as it stopped).
bool revoke_answered(std::string_view response);

// Asks each endpoint in turn until one answers; the endpoint that did, or why none did.
Result<std::string> revoke_lease(const LeaseRevoker& where, std::int64_t lease,
                                 Duration per_endpoint);

}  // namespace tandem::replication
