#include "base/replication_port.hpp"

namespace tandem {

const char* to_string(Persisted p) noexcept {
  switch (p) {
    case Persisted::replicated:
      return "replicated";
    case Persisted::local_only:
      return "local_only";
    case Persisted::failed:
      return "failed";
  }
  return "?";
}

}  // namespace tandem
