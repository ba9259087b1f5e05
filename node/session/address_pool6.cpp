#include "node/session/address_pool6.hpp"

#include <cassert>

namespace tandem::session {

AddressPool6::AddressPool6(Ipv6Net net)
    : net_(net),
      host_mask_(net.prefix <= 64 ? ~std::uint64_t{0}
                                  : (std::uint64_t{1} << (128 - net.prefix)) - 1) {
  assert(net.prefix >= kMinPool6Prefix && net.prefix <= kMaxPool6Prefix);
}

Ipv6Addr AddressPool6::gateway() const {
  return net::with_low64(net_.network, net::low64(net_.network) + 1);
}

bool AddressPool6::leasable(const Ipv6Addr& addr) const {
  if (!net_.contains(addr)) return false;
  const std::uint64_t host = net::low64(addr) & host_mask_;
  return host >= 2;
}

bool AddressPool6::in_use(const Ipv6Addr& addr) const {
  return leasable(addr) && leased_.count(net::low64(addr) & host_mask_) != 0;
}

std::optional<Ipv6Addr> AddressPool6::allocate() {
  std::uint64_t candidate = lowest_maybe_free_;
  for (auto it = leased_.lower_bound(candidate); it != leased_.end() && *it == candidate; ++it)
    ++candidate;
  // host_mask_ is the last host part; a /64 never runs out in practice, a /126 has 2 leases.
  if (candidate > host_mask_ || candidate < 2) return std::nullopt;
  leased_.insert(candidate);
  lowest_maybe_free_ = candidate + 1;
  return net::with_low64(net_.network, net::low64(net_.network) | candidate);
}

bool AddressPool6::claim(const Ipv6Addr& addr) {
  return leasable(addr) && leased_.insert(net::low64(addr) & host_mask_).second;
}

void AddressPool6::release(const Ipv6Addr& addr) {
  if (!leasable(addr)) return;
  const std::uint64_t host = net::low64(addr) & host_mask_;
  if (leased_.erase(host) != 0 && host < lowest_maybe_free_) lowest_maybe_free_ = host;
}

}  // namespace tandem::session
