#pragma once
// IPv4 address pool: a CIDR from which sessions lease one address each. The network address,
// the first host (the headend's own tunnel address) and the broadcast address are never leased.
#include <cstdint>
#include <optional>
#include <set>
#include <string>

#include "base/address.hpp"

namespace tandem::session {

using net::Ipv4Net;

class AddressPool {
 public:
  explicit AddressPool(Ipv4Net net);

  std::uint32_t gateway() const;  // first host address, the headend's tunnel address
  const Ipv4Net& net() const { return net_; }

  // Lowest free address (so a freed address is the next one handed out), or nullopt.
  std::optional<std::uint32_t> allocate();
  // Lease a specific address (restoring state); false if taken or outside the pool.
  bool claim(std::uint32_t addr);
  void release(std::uint32_t addr);
  bool in_use(std::uint32_t addr) const { return leased_.count(addr) != 0; }
  std::size_t leased() const { return leased_.size(); }
  std::size_t capacity() const;

 private:
  bool leasable(std::uint32_t addr) const;
  Ipv4Net net_;
  std::set<std::uint32_t> leased_;
  // Every leasable address below this one is leased, so the search for the lowest free address
  // starts here instead of walking every lease (logins stay O(1) with 100k sessions).
  std::uint64_t lowest_maybe_free_;
};

}  // namespace tandem::session
