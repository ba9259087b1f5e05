#include "node/server/udp_batch.hpp"

#include <cerrno>

namespace tandem::server {

void plan_runs(std::span<const OutDatagram> datagrams, bool gso, std::vector<SendRun>& out,
               std::size_t max_segments, std::size_t max_bytes) {
  out.clear();
  std::size_t i = 0;
  while (i < datagrams.size()) {
    SendRun run{i, 1, datagrams[i].size};
    std::size_t bytes = datagrams[i].size;
    // A run of one, or a first datagram of size 0, cannot be cut into segments.
    if (gso && run.segment > 0) {
      while (i + run.count < datagrams.size() && run.count < max_segments) {
        const OutDatagram& next = datagrams[i + run.count];
        if (next.flow != datagrams[i].flow || next.size > run.segment || next.size == 0 ||
            bytes + next.size > max_bytes)
          break;
        bytes += next.size;
        ++run.count;
        if (next.size < run.segment) break;  // only the last segment may be shorter
      }
    }
    out.push_back(run);
    i += run.count;
  }
}

SendOutcome classify_send_error(int err, std::size_t count) {
  if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS || err == EINTR)
    return SendOutcome::dropped;
  // The GSO form has its own refusals: EIO (the route's device cannot compute the checksums,
  // or IPsec), EINVAL (a segment larger than the path MTU allows), EMSGSIZE, and ENOPROTOOPT or
  // EOPNOTSUPP from a kernel without it. The same datagrams sent singly may still go.
  if (count > 1 &&
      (err == EIO || err == EINVAL || err == EMSGSIZE || err == ENOPROTOOPT || err == EOPNOTSUPP))
    return SendOutcome::retry_singly;
  return SendOutcome::failed;
}

}  // namespace tandem::server
