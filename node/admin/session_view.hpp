#pragma once
// What operators see of a session (S2, S20): the Session turned into the admin API's view,
// and the filters of `show` and `logoff`. Pure: data in, proto messages out.
#include "base/clock.hpp"
#include "node/config/config.hpp"
#include "node/session/session.hpp"
#include "proto/admin.pb.h"

namespace tandem::admin {

proto::SessionView make_session_view(const session::Session& s, const config::Policy& policy,
                                     TimePoint now, long long now_unix);

bool matches(const proto::SessionFilter& filter, const session::Session& s);

}  // namespace tandem::admin
