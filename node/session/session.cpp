#include "node/session/session.hpp"

namespace tandem::session {

const char* to_string(EndReason r) {
  switch (r) {
    case EndReason::client_logout:
      return "logout";
    case EndReason::client_closed:
      return "client_closed";
    case EndReason::transport_error:
      return "transport_error";
    case EndReason::replaced:
      return "replaced_by_resume";
    case EndReason::dpd:
      return "dpd";
    case EndReason::idle_timeout:
      return "idle_timeout";
    case EndReason::disconnected_timeout:
      return "disconnected_timeout";
    case EndReason::session_timeout:
      return "session_timeout";
    case EndReason::simultaneous_login:
      return "simultaneous_login";
    case EndReason::admin_logoff:
      return "admin_logoff";
    case EndReason::shutdown:
      return "shutdown";
    case EndReason::handover:
      return "handover";
    case EndReason::user_removed:
      return "user_removed";
    case EndReason::user_disabled:
      return "user_disabled";
    case EndReason::group_not_allowed:
      return "group_not_allowed";
    case EndReason::certificate_revoked:
      return "certificate_revoked";
    case EndReason::not_recorded:
      return "not_recorded";
  }
  return "unknown";
}

}  // namespace tandem::session
