#pragma once
// Session <-> SessionRecord, the form in which sessions are persisted and replicated (S16).
// Only the token's hash crosses; transports and key material have no field to go into.
#include "node/session/session.hpp"
#include "proto/session.pb.h"

namespace tandem::session {

proto::SessionRecord to_record(const Session& s);
// The parent and counters come back; transports never do (they are rebuilt on resume, S17).
Session from_record(const proto::SessionRecord& r);

}  // namespace tandem::session
