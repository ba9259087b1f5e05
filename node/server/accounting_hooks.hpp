#pragma once
// Where RADIUS accounting meets the session table (docs/radius-accounting.md): the Start after
// a login is recorded, the Stop when a session ends, the Interim-Updates from the timer sweep.
// Only the serving node accounts; a standby's mirror never makes a record.
#include "node/server/runtime.hpp"

namespace tandem::server {

// After the session's creation is recorded (and replicated): queues its Start.
void account_start(Runtime& rt, session::SessionRef s);

// Installs the Stop on every session end of this node (SessionTable's end observer).
void watch_session_ends(Runtime& rt);

// From the timer sweep, on the serving node: queues the Interim-Updates that are due. The
// counters an Interim reports are first written into the session record and replicated; the
// record is queued once that write is acknowledged, so a standby that takes over never holds
// less than what a server was told.
void account_interims(Runtime& rt);

}  // namespace tandem::server
