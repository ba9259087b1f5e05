#include "node/server/upstream_opens.hpp"

#include <boost/asio/post.hpp>
#include <cstring>

#include "node/server/dtls_tunnel.hpp"

namespace tandem::server {
namespace {

// Per worker: one batch filling, the others with the worker, on their way back or spare. With
// all out, datagrams are opened on the I/O thread until one comes back.
constexpr std::size_t kMaxBatches = 8;
// A batch keeps its buffer for the next round, unless a round of unusually large datagrams
// made it bigger than this.
constexpr std::size_t kKeptBytes = 256 * 1024;

}  // namespace

UpstreamOpens::UpstreamOpens(TunnelRuntime& rt, DataWorkers* workers) : rt_(rt), workers_(workers) {
  if (!opens_on_workers()) return;
  shards_.resize(workers_->size());
  // Never shrunk: a counter outlives the DTLS server that counts it.
  auto& opened = rt_.counters.dtls_worker_opened;
  if (opened.size() < shards_.size()) opened.resize(shards_.size());
}

bool UpstreamOpens::to_open(std::shared_ptr<DtlsTunnel> tunnel,
                            std::shared_ptr<dtls::RecordOpener> opener,
                            std::span<const std::uint8_t> datagram) {
  if (shards_.empty()) return false;
  // The association's worker, as for its downstream (DownstreamSends::shard_of), so one worker
  // only ever uses its opener.
  const std::size_t k = tunnel->index() % shards_.size();
  Shard& shard = shards_[k];
  if (!shard.filling) {
    if (!shard.spare.empty()) {
      shard.filling = std::move(shard.spare.back());
      shard.spare.pop_back();
    } else if (shard.made < kMaxBatches) {
      shard.filling = std::make_shared<Batch>();
      ++shard.made;
    } else {
      return false;
    }
  }
  Batch& b = *shard.filling;
  const std::size_t at = b.bytes.size();
  b.bytes.resize(at + datagram.size());
  std::memcpy(b.bytes.data() + at, datagram.data(), datagram.size());
  b.datagrams.push_back(Datagram{std::move(tunnel), std::move(opener), at, datagram.size()});
  ++rt_.counters.dtls_worker_opened[k];
  return true;
}

void UpstreamOpens::release() {
  for (std::size_t k = 0; k < shards_.size(); ++k)
    if (shards_[k].filling && !shards_[k].filling->datagrams.empty()) send(k);
}

// On the worker: each datagram's records, opened in place by its association's opener.
void UpstreamOpens::open(Batch& b) {
  for (Datagram& d : b.datagrams) {
    d.first_record = b.records.size();
    d.failed =
        d.opener->open_in_place(std::span(b.bytes.data() + d.offset, d.size), d.offset, b.records);
    d.records = b.records.size() - d.first_record;
  }
}

void UpstreamOpens::send(std::size_t k) {
  auto batch = std::move(shards_[k].filling);
  workers_->post(static_cast<unsigned>(k), [this, k, batch = std::move(batch)]() mutable {
    open(*batch);
    // The tunnels' and openers' references go back with the batch: none is dropped here.
    asio::post(rt_.io,
               [this, k, batch = std::move(batch)]() mutable { finish(k, std::move(batch)); });
  });
}

void UpstreamOpens::finish(std::size_t k, std::shared_ptr<Batch> b) {
  {
    // The packets of the whole batch may be joined into TUN writes, as in a receive round.
    TunBatch joined(rt_.tun);
    for (const Datagram& d : b->datagrams)
      d.tunnel->opened(std::span(b->records).subspan(d.first_record, d.records), b->bytes,
                       d.failed);
  }
  b->datagrams.clear();
  b->records.clear();
  b->bytes.clear();
  if (b->bytes.capacity() > kKeptBytes) b->bytes.shrink_to_fit();
  shards_[k].spare.push_back(std::move(b));
}

}  // namespace tandem::server
