#pragma once
// The headend's TUN device: created at startup, given the pool's gateway address and netmask
// (so the kernel routes the whole pool into it), brought up. The fd is non-blocking. IFF_TUN
// without packet information: each read or write is one IP packet of either family, behind a
// virtio-net header when the device has offloads (docs/data-plane.md, "TUN offloads").
#include <cstdint>
#include <string>

#include "base/address.hpp"
#include "base/result.hpp"

namespace tandem::tun {

struct TunSettings {
  std::string name;       // "tandem0"
  std::uint32_t address;  // host byte order: the pool's gateway
  int prefix;             // pool prefix length
  int mtu;
  // IFF_VNET_HDR with checksum and TCP segmentation offloads: the kernel hands over TCP
  // super-packets of up to 64 KiB, which the reader cuts (offload.hpp).
  bool offload = true;
};

class TunDevice {
 public:
  static Result<TunDevice> open(const TunSettings& settings);

  TunDevice(TunDevice&& other) noexcept;
  TunDevice& operator=(TunDevice&& other) noexcept;
  TunDevice(const TunDevice&) = delete;
  TunDevice& operator=(const TunDevice&) = delete;
  ~TunDevice();

  int fd() const { return fd_; }
  const std::string& name() const { return name_; }
  // Every read and write carries a virtio-net header (offload.hpp). True when offloads were
  // asked for, even if the kernel then refused them: its reads then never hold a super-packet.
  bool vnet_header() const { return vnet_header_; }
  // Why the kernel refused the offloads (empty when it took them or none were asked for).
  const std::string& offload_refused() const { return offload_refused_; }
  // Up brings the pool route back; down removes it (a standby must not attract pool traffic).
  static Result<bool> set_link_up(const std::string& name, bool up);
  // Gives the device an IPv6 address and so the route to its prefix (docs/ipv6.md). The kernel
  // drops a device's IPv6 addresses when it goes down: called again after each set_link_up.
  // An address it already has is fine.
  static Result<bool> add_ipv6(const std::string& name, const net::Ipv6Addr& address, int prefix);

  // Hand the fd over to an owner that closes it (an Asio descriptor); this object forgets it.
  int release();

 private:
  TunDevice(int fd, std::string name) : fd_(fd), name_(std::move(name)) {}
  int fd_ = -1;
  std::string name_;
  bool vnet_header_ = false;
  std::string offload_refused_;
};

}  // namespace tandem::tun
