#pragma once
// Client packets on their way into the TUN device, after the traffic policy let them through.
// During a batch of client input (TunWriter::hold/release) they are gathered and joined per TCP
// stream (tun::Coalescer, docs/data-plane.md "Upstream: coalesced TUN writes"); at the batch's
// end the writes go out: from the I/O thread, or, with data workers, from the worker each flow
// is sharded to (docs/data-plane.md, "Every core"), so the kernel's forwarding work for them
// runs on that worker's core. One flow always goes to one worker, whose jobs run in order.
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "base/log_limiter.hpp"
#include "node/server/batch_pool.hpp"
#include "node/server/data_workers.hpp"
#include "node/server/runtime.hpp"
#include "node/tun/coalesce.hpp"

namespace tandem::server {

class UpstreamWrites {
 public:
  // `fd` stays the caller's. `vnet_header`: the device takes a virtio-net header (needed to
  // join packets). `workers` may be null: everything is written on the I/O thread.
  UpstreamWrites(TunnelRuntime& rt, int fd, bool vnet_header, DataWorkers* workers);
  UpstreamWrites(const UpstreamWrites&) = delete;
  UpstreamWrites& operator=(const UpstreamWrites&) = delete;

  void hold() { ++holds_; }
  void release();
  // False when the packet was refused at once (only when written at once).
  bool write(std::span<const std::uint8_t> packet);

 private:
  // What one batch's writes came to, added to the node's counters on the I/O thread.
  struct Tally {
    std::uint64_t joined_writes = 0;
    std::uint64_t joined_packets = 0;
    std::uint64_t failed_writes = 0;
    std::uint64_t failed_packets = 0;
    int last_error = 0;  // errno of the last refused write (0: a short write)
  };
  // One worker's coalescers (batch_pool.hpp): one filling on the I/O thread, the others being
  // written or spare.
  struct Shard {
    std::unique_ptr<tun::Coalescer> filling;
    BatchPool<tun::Coalescer> pool;
    Shard();
  };

  static Tally write_all(int fd, tun::Coalescer& c);
  bool write_one(std::span<const std::uint8_t> packet);
  // Writes (or hands to its worker) what shard `k` holds, and gives it an empty coalescer.
  void send(std::size_t k);
  void account(const Tally& t);

  TunnelRuntime& rt_;
  int fd_;
  bool vnet_header_;
  DataWorkers* workers_;
  std::vector<std::unique_ptr<Shard>> shards_;  // one per worker, or one; empty without vnet
  int holds_ = 0;
  log::LogLimiter write_fail_log_;
};

}  // namespace tandem::server
