#include "node/server/downstream_sends.hpp"

#include <boost/asio/post.hpp>
#include <cstring>

#include "base/log.hpp"
#include "node/server/dtls_tunnel.hpp"

namespace tandem::server {

namespace {

// Batches per worker, the one filling included: how far a worker may fall behind.
constexpr std::size_t kMaxInFlight = 8;

}  // namespace

DownstreamSends::Shard::Shard()
    : pool(kMaxInFlight - 1, [] { return std::make_unique<Batch>(); }) {}

DownstreamSends::DownstreamSends(TunnelRuntime& rt, int fd, std::uint64_t& dropped,
                                 DataWorkers* workers)
    : rt_(rt),
      fd_(fd),
      dropped_(dropped),
      workers_(workers),
      gso_(DatagramBatch::kernel_has_gso(fd)) {
  const std::size_t n = workers_ ? workers_->size() : 1;
  for (std::size_t i = 0; i < n; ++i) shards_.push_back(std::make_unique<Shard>());
  // Per worker, so that a share that always goes to one of them shows. Never shrunk: a counter
  // outlives the DTLS server that counts it.
  auto& sealed = rt_.counters.dtls_worker_sealed;
  if (seals_on_workers() && sealed.size() < n) sealed.resize(n);
}

// One association, one shard, for as long as it lives: its datagrams keep their order. By its
// session's index, which grows by one per login, so sessions take the workers in turn. (The
// association's address, as first used here, sent every association to the first of two
// workers: the allocator hands out 16-byte-aligned blocks.)
std::size_t DownstreamSends::shard_of(const DtlsTunnel& tunnel) const {
  return shards_.size() == 1 ? 0 : tunnel.index() % shards_.size();
}

dtls::DatagramList& DownstreamSends::list_for(const DtlsTunnel& tunnel) {
  current_ = shard_of(tunnel);
  return shards_[current_]->filling->datagrams.list();
}

void DownstreamSends::to_seal(std::shared_ptr<DtlsTunnel> tunnel,
                              std::shared_ptr<dtls::RecordSealer> sealer,
                              std::span<const std::uint8_t> packet) {
  const std::size_t k = shard_of(*tunnel);
  Batch& b = *shards_[k]->filling;
  ++rt_.counters.dtls_worker_sealed[k];
  b.to_seal.push_back(ToSeal{std::move(sealer), tunnel->peer(), b.held.size()});
  b.held.push_back(Held{std::move(tunnel), packet, false});
}

void DownstreamSends::batched(std::shared_ptr<DtlsTunnel> tunnel,
                              std::span<const std::uint8_t> packet) {
  Batch& b = *shards_[current_]->filling;
  b.datagrams.assign(tunnel->peer(), b.held.size());
  b.held.push_back(Held{std::move(tunnel), packet, false});
}

void DownstreamSends::release() {
  holding_ = false;
  for (std::size_t k = 0; k < shards_.size(); ++k) {
    if (shards_[k]->filling->held.empty())
      shards_[k]->filling->datagrams.clear();
    else
      send(k);
  }
}

// On the worker: each packet handed over by to_seal() becomes one data record (the CSTP data
// type, then the packet), appended after the datagrams sealed on the I/O thread. One the sealer
// refuses (its sequence spent, a cipher failure) is marked unsealed: its packet goes over CSTP
// and the association ends, as when the I/O thread's sealer refuses one.
void DownstreamSends::seal(Batch& b) {
  static constexpr std::uint8_t kDataHead[1] = {0x00};
  auto& list = b.datagrams.list();
  for (ToSeal& t : b.to_seal) {
    Held& h = b.held[t.held];
    const std::size_t before = list.bytes.size();
    if (!t.sealer->seal(dtls::kContentApplicationData, kDataHead, h.packet, list.bytes)) {
      h.failed = h.unsealed = true;
      continue;
    }
    list.sizes.push_back(list.bytes.size() - before);
    b.datagrams.assign(t.peer, t.held);
  }
  b.to_seal.clear();  // the sealers' last references may go here: they are the worker's to free
}

void DownstreamSends::mark(Batch& b, Outcome& o) {
  for (std::size_t i = 0; i < b.datagrams.size(); ++i) {
    const SendOutcome outcome = b.datagrams.outcome(i);
    if (outcome == SendOutcome::sent) continue;
    ++o.dropped;  // as DtlsServer::send_to counts them
    if (outcome == SendOutcome::failed) b.held[b.datagrams.owner(i)].failed = true;
  }
  b.datagrams.clear();
  o.held.swap(b.held);
  o.copies.swap(b.copies);
}

void DownstreamSends::send(std::size_t k) {
  Shard& shard = *shards_[k];
  if (!workers_) {
    Batch& b = *shard.filling;
    bool gso = gso_;
    b.datagrams.send(fd_, gso);
    Outcome o;
    o.gso_refused = gso_ && !gso;
    mark(b, o);
    finish(o);
    b.held.swap(o.held);  // keep the storage
    b.held.clear();
    return;
  }
  // The drain's buffer is reused as soon as we return: copy the packets the tunnels may need.
  Batch* full = shard.filling.release();
  std::size_t total = 0;
  for (const Held& h : full->held) total += h.packet.size();
  full->copies.resize(total);
  std::size_t at = 0;
  for (Held& h : full->held) {
    if (h.packet.empty()) continue;
    std::memcpy(full->copies.data() + at, h.packet.data(), h.packet.size());
    h.packet = {full->copies.data() + at, h.packet.size()};
    at += h.packet.size();
  }
  shard.filling = shard.pool.take();
  const bool gso = gso_;
  workers_->post(static_cast<unsigned>(k), [this, &shard, full, gso] {
    seal(*full);
    bool still_gso = gso;
    full->datagrams.send(fd_, still_gso);
    auto o = std::make_shared<Outcome>();
    o->gso_refused = gso && !still_gso;
    // The tunnels' references move to the I/O thread with the outcome: none is dropped here.
    mark(*full, *o);
    shard.pool.give_back(std::unique_ptr<Batch>(full));
    asio::post(rt_.io, [this, o = std::move(o)] { finish(*o); });
  });
}

void DownstreamSends::finish(Outcome& o) {
  if (o.gso_refused && gso_) {
    gso_ = false;
    log::warn("dtls_gso_off", {{"reason", "the kernel refused UDP GSO sends; sending singly"}});
  }
  dropped_ += o.dropped;
  // The tunnels' answers may reach the session table and CSTP, never this batch.
  for (Held& h : o.held) h.tunnel->batch_done(h.packet, !h.failed, h.unsealed);
  o.held.clear();
}

}  // namespace tandem::server
