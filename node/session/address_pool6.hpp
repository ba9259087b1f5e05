#pragma once
// IPv6 address pool (docs/ipv6.md): a network of prefix 64..126 from which sessions lease one
// address each. The network's own address (the subnet-router anycast address) and the first
// address after it (the headend's tunnel address) are never leased. Only the low 64 bits vary,
// so a lease is one number.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>

#include "base/address.hpp"

namespace tandem::session {

using net::Ipv6Addr;
using net::Ipv6Net;

inline constexpr int kMinPool6Prefix = 64;
inline constexpr int kMaxPool6Prefix = 126;

class AddressPool6 {
 public:
  explicit AddressPool6(Ipv6Net net);  // net.prefix within kMinPool6Prefix..kMaxPool6Prefix

  Ipv6Addr gateway() const;  // network + 1, the headend's tunnel address
  const Ipv6Net& net() const { return net_; }

  // Lowest free address (so a freed address is the next one handed out), or nullopt.
  std::optional<Ipv6Addr> allocate();
  // Lease a specific address (restoring state); false if taken or outside the pool.
  bool claim(const Ipv6Addr& addr);
  void release(const Ipv6Addr& addr);
  bool in_use(const Ipv6Addr& addr) const;
  std::size_t leased() const { return leased_.size(); }

 private:
  bool leasable(const Ipv6Addr& addr) const;
  Ipv6Net net_;
  std::uint64_t host_mask_;         // the bits of the low 64 a lease may set
  std::set<std::uint64_t> leased_;  // host parts
  // Every leasable host part below this one is leased (as in AddressPool).
  std::uint64_t lowest_maybe_free_ = 2;
};

}  // namespace tandem::session
