#include "node/server/datagram_batch.hpp"

#include <netinet/in.h>
#include <netinet/udp.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace tandem::server {

bool DatagramBatch::kernel_has_gso(int fd) {
  int value = 0;
  socklen_t len = sizeof value;
  return ::getsockopt(fd, SOL_UDP, UDP_SEGMENT, &value, &len) == 0;
}

void DatagramBatch::assign(const boost::asio::ip::udp::endpoint& peer, std::size_t owner) {
  if (peers_.empty() || peers_.back() != peer) peers_.push_back(peer);
  const auto flow = static_cast<std::uint32_t>(peers_.size() - 1);
  while (meta_.size() < list_.sizes.size()) {
    flows_.push_back(OutDatagram{flow, list_.sizes[meta_.size()]});
    meta_.push_back(Meta{peers_.size() - 1, owner});
  }
}

void DatagramBatch::clear() {
  list_.clear();
  meta_.clear();
  peers_.clear();
  flows_.clear();
  outcomes_.clear();
}

void DatagramBatch::mark(const SendRun& run, SendOutcome outcome) {
  std::fill_n(outcomes_.begin() + static_cast<std::ptrdiff_t>(run.first), run.count, outcome);
}

void DatagramBatch::send_singly(int fd, const SendRun& run) {
  for (std::size_t i = run.first; i < run.first + run.count; ++i) {
    const auto& peer = peers_[meta_[i].peer];
    ++syscalls_;
    const ssize_t n = ::sendto(fd, list_.bytes.data() + offsets_[i], list_.sizes[i], 0, peer.data(),
                               static_cast<socklen_t>(peer.size()));
    outcomes_[i] = n >= 0 ? SendOutcome::sent : classify_send_error(errno, 1);
  }
}

void DatagramBatch::send(int fd, bool& gso) {
  syscalls_ = 0;
  outcomes_.assign(meta_.size(), SendOutcome::sent);
  if (meta_.empty()) return;
  offsets_.resize(meta_.size());
  std::size_t at = 0;
  for (std::size_t i = 0; i < meta_.size(); ++i) {
    offsets_[i] = at;
    at += list_.sizes[i];
  }
  plan_runs(flows_, gso, runs_);
  const std::size_t n = runs_.size();
  messages_.resize(n);
  iovecs_.resize(n);
  controls_.resize(n);
  for (std::size_t m = 0; m < n; ++m) {
    const SendRun& run = runs_[m];
    const auto& peer = peers_[meta_[run.first].peer];
    std::size_t bytes = 0;
    for (std::size_t i = run.first; i < run.first + run.count; ++i) bytes += list_.sizes[i];
    iovecs_[m] = iovec{list_.bytes.data() + offsets_[run.first], bytes};
    msghdr& h = messages_[m].msg_hdr;
    h = msghdr{};
    h.msg_name = const_cast<sockaddr*>(peer.data());
    h.msg_namelen = static_cast<socklen_t>(peer.size());
    h.msg_iov = &iovecs_[m];
    h.msg_iovlen = 1;
    messages_[m].msg_len = 0;
    if (run.count > 1) {
      h.msg_control = controls_[m].bytes;
      h.msg_controllen = sizeof controls_[m].bytes;
      cmsghdr* c = CMSG_FIRSTHDR(&h);
      c->cmsg_level = SOL_UDP;
      c->cmsg_type = UDP_SEGMENT;
      c->cmsg_len = CMSG_LEN(sizeof(std::uint16_t));
      const auto segment = static_cast<std::uint16_t>(run.segment);
      std::memcpy(CMSG_DATA(c), &segment, sizeof segment);
    }
  }
  // Each call sends a prefix of the messages; an error belongs to the first one not sent. Every
  // turn moves past at least one message, so this ends after at most n + 1 calls per message.
  std::size_t next = 0;
  while (next < n) {
    const unsigned vlen = static_cast<unsigned>(std::min<std::size_t>(n - next, 1024));
    ++syscalls_;
    const int sent = ::sendmmsg(fd, &messages_[next], vlen, 0);
    if (sent > 0) {
      next += static_cast<std::size_t>(sent);
      continue;
    }
    const int err = sent < 0 ? errno : EAGAIN;
    const SendRun& run = runs_[next];
    const SendOutcome outcome = classify_send_error(err, run.count);
    if (outcome == SendOutcome::retry_singly) {
      if (err != EINVAL && err != EMSGSIZE) gso = false;  // the device or kernel, not this run
      send_singly(fd, run);
    } else {
      mark(run, outcome);
    }
    ++next;
  }
}

}  // namespace tandem::server
