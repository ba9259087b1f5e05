#include "node/session/downstream.hpp"

namespace tandem::session {

const char* to_string(Carrier c) { return c == Carrier::ssl ? "ssl" : "dtls"; }

const char* to_string(CarrierEvent e) {
  switch (e) {
    case CarrierEvent::dtls_attached:
      return "dtls_attached";
    case CarrierEvent::dtls_detached:
      return "dtls_detached";
    case CarrierEvent::data_over_ssl:
      return "data_over_ssl";
    case CarrierEvent::data_over_dtls:
      return "data_over_dtls";
    case CarrierEvent::dtls_send_failed:
      return "dtls_send_failed";
  }
  return "unknown";
}

}  // namespace tandem::session
