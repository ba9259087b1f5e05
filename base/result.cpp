#include "base/result.hpp"

namespace tandem {

const char* to_string(Errc code) noexcept {
  switch (code) {
    case Errc::failed:
      return "failed";
    case Errc::invalid:
      return "invalid";
    case Errc::not_found:
      return "not_found";
    case Errc::io:
      return "io";
    case Errc::corrupt:
      return "corrupt";
    case Errc::gap:
      return "gap";
    case Errc::duplicate:
      return "duplicate";
    case Errc::stale_epoch:
      return "stale_epoch";
    case Errc::fenced:
      return "fenced";
    case Errc::wrong_role:
      return "wrong_role";
    case Errc::busy:
      return "busy";
    case Errc::unavailable:
      return "unavailable";
    case Errc::timeout:
      return "timeout";
  }
  return "?";
}

}  // namespace tandem
