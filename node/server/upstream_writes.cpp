#include "node/server/upstream_writes.hpp"

#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <cstring>

#include "base/log.hpp"
#include "node/config/defaults.hpp"
#include "node/tun/offload.hpp"

namespace tandem::server {

namespace {

// Client packets held for joining: a DTLS drain (64 datagrams) or one TLS read (64 KiB) fits
// with room to spare; when full, what is held is written and holding starts again.
constexpr std::size_t kHeldBytes = 256 * 1024;
constexpr std::size_t kHeldWrites = 256;
// Coalescers per worker, the one filling included: how far a worker may fall behind.
constexpr std::size_t kMaxInFlight = 8;

std::unique_ptr<tun::Coalescer> new_coalescer() {
  return std::make_unique<tun::Coalescer>(kHeldBytes, kHeldWrites);
}

}  // namespace

UpstreamWrites::Shard::Shard() : filling(new_coalescer()), pool(kMaxInFlight - 1, new_coalescer) {}

UpstreamWrites::UpstreamWrites(TunnelRuntime& rt, int fd, bool vnet_header, DataWorkers* workers)
    : rt_(rt),
      fd_(fd),
      vnet_header_(vnet_header),
      workers_(vnet_header ? workers : nullptr),
      write_fail_log_(defaults::kRefusalLogBurst, defaults::kRefusalLogInterval) {
  if (!vnet_header) return;
  const std::size_t n = workers_ ? workers_->size() : 1;
  for (std::size_t i = 0; i < n; ++i) shards_.push_back(std::make_unique<Shard>());
}

bool UpstreamWrites::write(std::span<const std::uint8_t> packet) {
  if (shards_.empty()) return write_one(packet);
  const bool batch = holds_ > 0;
  // With workers every packet goes through its flow's worker, held or not, so that a flow is
  // never written from two threads (out of order).
  if (!batch && !workers_) return write_one(packet);
  const std::size_t k = shards_.size() == 1 ? 0 : tun::flow_hash(packet) % shards_.size();
  Shard& shard = *shards_[k];
  if (!shard.filling->add(packet)) {
    send(k);
    if (!shard.filling->add(packet)) {
      // Larger than a whole coalescer: cannot happen for an IP packet (64 KiB at most), but
      // never dropped silently.
      return workers_ ? false : write_one(packet);
    }
  }
  if (!batch) send(k);
  return true;
}

bool UpstreamWrites::write_one(std::span<const std::uint8_t> packet) {
  // A TUN write hands the packet to the kernel's stack and does not block in practice; when
  // the device's queue is full the packet is dropped, like on any router.
  if (!vnet_header_) {
    const ssize_t n = ::write(fd_, packet.data(), packet.size());
    return n == static_cast<ssize_t>(packet.size());
  }
  // A zeroed header: an ordinary packet, its checksums complete, nothing to segment.
  static constexpr std::uint8_t kPlain[tun::kVnetHdrSize] = {};
  iovec iov[2] = {{const_cast<std::uint8_t*>(kPlain), sizeof kPlain},
                  {const_cast<std::uint8_t*>(packet.data()), packet.size()}};
  const ssize_t n = ::writev(fd_, iov, 2);
  return n == static_cast<ssize_t>(sizeof kPlain + packet.size());
}

void UpstreamWrites::release() {
  if (--holds_ > 0) return;
  for (std::size_t k = 0; k < shards_.size(); ++k)
    if (!shards_[k]->filling->empty()) send(k);
}

void UpstreamWrites::send(std::size_t k) {
  Shard& shard = *shards_[k];
  if (!workers_) {
    account(write_all(fd_, *shard.filling));
    shard.filling->clear();
    return;
  }
  // The worker owns the full one until it gives it back, emptied, to the pool.
  tun::Coalescer* full = shard.filling.release();
  shard.filling = shard.pool.take();
  workers_->post(static_cast<unsigned>(k), [this, &shard, full] {
    const Tally t = write_all(fd_, *full);
    full->clear();
    shard.pool.give_back(std::unique_ptr<tun::Coalescer>(full));
    // The counters and the log are the I/O thread's.
    asio::post(rt_.io, [this, t] { account(t); });
  });
}

UpstreamWrites::Tally UpstreamWrites::write_all(int fd, tun::Coalescer& c) {
  Tally t;
  // The virtio-net header, then the write's pieces (at most 65: the coalescer joins 64 packets).
  std::uint8_t header[tun::kVnetHdrSize];
  std::array<iovec, 72> iov;
  for (const auto& w : c.writes()) {
    write_vnet_header(w.header, std::span<std::uint8_t, tun::kVnetHdrSize>(header, sizeof header));
    iov[0] = iovec{header, sizeof header};
    const std::size_t count = std::min(w.pieces.size(), iov.size() - 1);
    std::copy_n(w.pieces.begin(), count, iov.begin() + 1);
    const ssize_t n = ::writev(fd, iov.data(), static_cast<int>(count + 1));
    if (n != static_cast<ssize_t>(sizeof header + w.bytes)) {
      ++t.failed_writes;
      t.failed_packets += w.packets;
      t.last_error = n < 0 ? errno : 0;
      continue;
    }
    if (w.packets > 1) {
      ++t.joined_writes;
      t.joined_packets += w.packets;
    }
  }
  return t;
}

void UpstreamWrites::account(const Tally& t) {
  rt_.counters.tun_joined_writes += t.joined_writes;
  rt_.counters.tun_joined_packets += t.joined_packets;
  if (t.failed_writes == 0) return;
  // Written after the batch, so no one session is charged: the node counts what was lost.
  rt_.counters.tun_write_failures += t.failed_writes;
  std::uint64_t suppressed = 0;
  if (!write_fail_log_.allow(rt_.clock.now(), suppressed)) return;
  log::warn("tun_write_failed",
            {{"reason", t.last_error ? std::strerror(t.last_error) : "short write"},
             {"writes", std::to_string(t.failed_writes)},
             {"packets", std::to_string(t.failed_packets)},
             {"suppressed", std::to_string(suppressed)}});
}

}  // namespace tandem::server
