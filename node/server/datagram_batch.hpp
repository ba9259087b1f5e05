#pragma once
// Datagrams towards clients gathered during one pass of the data plane (a TUN drain), then sent
// with as few system calls as the kernel allows: one sendmmsg for the batch, each of its messages
// a run of equal-size datagrams to one peer that the kernel cuts apart (UDP GSO, udp_batch.hpp).
// Each datagram's outcome is reported, so a refused one can be dealt with by its sender.
#include <sys/socket.h>

#include <boost/asio/ip/udp.hpp>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "node/dtls/dtls_endpoint.hpp"
#include "node/server/udp_batch.hpp"

namespace tandem::server {

class DatagramBatch {
 public:
  // Whether this kernel knows UDP_SEGMENT on `fd` (an older one would send a run as one big
  // datagram instead of refusing it, so GSO is only used when the option is known).
  static bool kernel_has_gso(int fd);

  // Append datagrams here (DtlsEndpoint::seal), then say whose they are with assign().
  dtls::DatagramList& list() { return list_; }
  // The datagrams appended since the last assign() go to `peer`, on behalf of `owner` (a
  // number the caller chooses, given back by owner()).
  void assign(const boost::asio::ip::udp::endpoint& peer, std::size_t owner);

  std::size_t size() const { return meta_.size(); }
  bool empty() const { return meta_.empty(); }

  // Sends every assigned datagram: GSO runs when `gso`, single datagrams otherwise. Clears `gso`
  // when the kernel refuses the GSO form for a reason that will not go away (no checksum
  // offload, no support); a run refused for its own reason (a small path MTU) is sent singly.
  void send(int fd, bool& gso);
  SendOutcome outcome(std::size_t i) const { return outcomes_[i]; }
  std::size_t owner(std::size_t i) const { return meta_[i].owner; }
  // System calls made by the last send() (tests and the profile read it).
  std::size_t syscalls() const { return syscalls_; }

  void clear();

 private:
  struct Meta {
    std::size_t peer;  // index in peers_
    std::size_t owner;
  };
  struct Control {
    alignas(cmsghdr) unsigned char bytes[CMSG_SPACE(sizeof(std::uint16_t))];
  };
  void send_singly(int fd, const SendRun& run);
  void mark(const SendRun& run, SendOutcome outcome);

  dtls::DatagramList list_;
  std::vector<Meta> meta_;
  std::vector<boost::asio::ip::udp::endpoint> peers_;
  std::vector<OutDatagram> flows_;
  std::vector<std::size_t> offsets_;
  std::vector<SendRun> runs_;
  std::vector<mmsghdr> messages_;
  std::vector<iovec> iovecs_;
  std::vector<Control> controls_;
  std::vector<SendOutcome> outcomes_;
  std::size_t syscalls_ = 0;
};

}  // namespace tandem::server
