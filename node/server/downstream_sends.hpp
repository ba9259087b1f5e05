#pragma once
// DTLS datagrams towards clients for one TUN drain (docs/data-plane.md, "Downstream DTLS: one
// send per TUN drain"): tunnels seal into a batch while the drain holds, and at its end the batch
// goes out with one sendmmsg (UDP GSO runs), after which each tunnel hears what became of each of
// its packets (a refused one goes over CSTP).
//
// With data workers (docs/data-plane.md, "Every core") there is one batch per worker, and an
// association's datagrams always go to the same one. The worker makes the sendmmsg, so the
// kernel's UDP and IP work runs on its core; the outcomes come back to the I/O thread, which
// alone touches tunnels and sessions. The drain's buffer is reused at once, so the packets are
// copied into the batch first: a refused one must still go over CSTP. An association whose
// records are ours (not OpenSSL's) is also sealed by its worker, with a sealer of its own that
// shares the association's sequence (docs/data-plane.md, "Sealing on the workers"): the I/O
// thread then only copies the packet.
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "node/server/batch_pool.hpp"
#include "node/server/data_workers.hpp"
#include "node/server/datagram_batch.hpp"
#include "node/server/runtime.hpp"

namespace tandem::server {

class DtlsTunnel;

class DownstreamSends {
 public:
  // `fd`: the DTLS socket (stays the caller's). `dropped`: the DTLS server's count of dropped
  // datagrams, which a batch's drops add to. `workers` may be null.
  DownstreamSends(TunnelRuntime& rt, int fd, std::uint64_t& dropped, DataWorkers* workers);
  DownstreamSends(const DownstreamSends&) = delete;
  DownstreamSends& operator=(const DownstreamSends&) = delete;

  void hold() { holding_ = true; }
  bool holding() const { return holding_; }
  // While holding: `tunnel` seals into this list, then calls batched() with the packet (an empty
  // span when the datagrams carry no packet of ours, such as an alert).
  dtls::DatagramList& list_for(const DtlsTunnel& tunnel);
  void batched(std::shared_ptr<DtlsTunnel> tunnel, std::span<const std::uint8_t> packet);
  // Whether to_seal() is used: with two workers or more. With one, sealing there only moved the
  // busiest thread from the I/O thread to the worker (docs/data-plane.md, "Sealing on the
  // workers").
  bool seals_on_workers() const { return workers_ != nullptr && workers_->size() >= 2; }
  // While holding, instead of sealing into list_for(): `packet` goes to `tunnel`'s worker, which
  // seals it as one data record with `sealer`, to the tunnel's peer as it is now. The tunnel has
  // checked that it fits (DtlsEndpoint::can_send).
  void to_seal(std::shared_ptr<DtlsTunnel> tunnel, std::shared_ptr<dtls::RecordSealer> sealer,
               std::span<const std::uint8_t> packet);
  // Sends every batch and stops holding.
  void release();

 private:
  struct Held {
    std::shared_ptr<DtlsTunnel> tunnel;
    std::span<const std::uint8_t> packet;  // the drain's, or (with workers) the batch's copy
    bool failed = false;
    bool unsealed = false;  // its worker's sealer refused it (the association cannot go on)
  };
  // A packet its worker seals before sending: held[held] is the packet, and whose.
  struct ToSeal {
    std::shared_ptr<dtls::RecordSealer> sealer;
    boost::asio::ip::udp::endpoint peer;
    std::size_t held;
  };
  // One batch and whose datagrams they are. With workers, it travels to the worker and back.
  struct Batch {
    DatagramBatch datagrams;
    std::vector<Held> held;
    std::vector<ToSeal> to_seal;
    std::vector<std::uint8_t> copies;  // the held packets, when sent by a worker
  };
  // One worker's batches (batch_pool.hpp): one filling on the I/O thread, the others being sent
  // or spare.
  struct Shard {
    std::unique_ptr<Batch> filling = std::make_unique<Batch>();
    BatchPool<Batch> pool;
    Shard();
  };
  // What the sending found, for the I/O thread to act on.
  struct Outcome {
    std::vector<Held> held;
    std::vector<std::uint8_t> copies;  // the memory `held` points into
    std::uint64_t dropped = 0;
    bool gso_refused = false;
  };

  static void seal(Batch& b);
  static void mark(Batch& b, Outcome& o);
  std::size_t shard_of(const DtlsTunnel& tunnel) const;
  void send(std::size_t k);
  void finish(Outcome& o);

  TunnelRuntime& rt_;
  int fd_;
  std::uint64_t& dropped_;
  DataWorkers* workers_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::size_t current_ = 0;  // the shard of the last list_for
  bool holding_ = false;
  bool gso_;  // the kernel takes UDP_SEGMENT and has not refused it for good
};

}  // namespace tandem::server
