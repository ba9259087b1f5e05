#pragma once
// DTLS datagrams from clients whose records a data worker opens (docs/data-plane.md, "Opening
// on the workers"). With two workers or more, the I/O thread no longer decrypts an association
// whose records are ours: it copies each of its datagrams into the batch of the association's
// worker, and at the end of the receive round each batch goes to its worker, which opens the
// records in place with the association's own opener (a copy of its keyed context). The batch
// comes back to the I/O thread, which alone judges replays (the association's window) and
// takes the plaintext on: the traffic policy, the session's counters, the TUN writes.
//
// The I/O thread never waits for a worker here: it is the one that takes the batches back, so
// when all of a worker's batches are out, to_open() says no and the caller opens the datagram
// itself.
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "node/dtls/record_protection.hpp"
#include "node/server/data_workers.hpp"
#include "node/server/runtime.hpp"

namespace tandem::server {

class DtlsTunnel;

class UpstreamOpens {
 public:
  UpstreamOpens(TunnelRuntime& rt, DataWorkers* workers);
  UpstreamOpens(const UpstreamOpens&) = delete;
  UpstreamOpens& operator=(const UpstreamOpens&) = delete;

  // With two workers or more, as for the sealing (downstream_sends.hpp).
  bool opens_on_workers() const { return workers_ != nullptr && workers_->size() >= 2; }
  // `datagram` (copied) goes to `tunnel`'s worker, to be opened with `opener`; the tunnel hears
  // of its records once the batch is back (DtlsTunnel::opened). False when that worker has all
  // its batches out: open it here.
  bool to_open(std::shared_ptr<DtlsTunnel> tunnel, std::shared_ptr<dtls::RecordOpener> opener,
               std::span<const std::uint8_t> datagram);
  // The end of a receive round: every batch with datagrams in it goes to its worker.
  void release();

 private:
  struct Datagram {
    std::shared_ptr<DtlsTunnel> tunnel;
    std::shared_ptr<dtls::RecordOpener> opener;
    std::size_t offset = 0;  // in Batch::bytes
    std::size_t size = 0;
    std::size_t first_record = 0;  // its records in Batch::records, once opened
    std::size_t records = 0;
    std::size_t failed = 0;  // records that did not authenticate
  };
  struct Batch {
    std::vector<std::uint8_t> bytes;
    std::vector<Datagram> datagrams;
    std::vector<dtls::OpenedRecord> records;
  };
  // One worker's batches: the one filling (null when all are out), and the spare ones. Shared
  // pointers: a batch whose way back never runs (the I/O thread stopped) still frees itself.
  struct Shard {
    std::shared_ptr<Batch> filling;
    std::vector<std::shared_ptr<Batch>> spare;
    std::size_t made = 0;
  };

  static void open(Batch& b);
  void send(std::size_t k);
  void finish(std::size_t k, std::shared_ptr<Batch> b);

  TunnelRuntime& rt_;
  DataWorkers* workers_;
  std::vector<Shard> shards_;
};

}  // namespace tandem::server
