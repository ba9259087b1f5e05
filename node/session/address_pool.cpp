#include "node/session/address_pool.hpp"

#include <string_view>

namespace tandem::session {

AddressPool::AddressPool(Ipv4Net net) : net_(net) {
  net_.network &= net_.netmask();
  lowest_maybe_free_ = std::uint64_t{net_.network} + 2;
}

std::uint32_t AddressPool::gateway() const { return net_.network + 1; }

std::size_t AddressPool::capacity() const {
  // /31 and /32 have no room once network, gateway and broadcast are set aside.
  if (net_.prefix > 30) return 0;
  return (std::size_t{1} << (32 - net_.prefix)) - 3;
}

bool AddressPool::leasable(std::uint32_t addr) const {
  if (net_.prefix > 30 || (addr & net_.netmask()) != net_.network) return false;
  const std::uint32_t broadcast = net_.network | ~net_.netmask();
  return addr != net_.network && addr != gateway() && addr != broadcast;
}

std::optional<std::uint32_t> AddressPool::allocate() {
  if (capacity() == 0) return std::nullopt;
  // 64-bit so the walk cannot wrap past 255.255.255.255 in a /0 or /1.
  std::uint64_t candidate = lowest_maybe_free_;
  const std::uint64_t last = std::uint64_t{net_.network | ~net_.netmask()} - 1;
  // leased_ is ordered and holds only leasable addresses: the first gap is the lowest free one.
  for (auto it = leased_.lower_bound(static_cast<std::uint32_t>(candidate));
       it != leased_.end() && *it == candidate; ++it) {
    ++candidate;
  }
  if (candidate > last) return std::nullopt;
  const auto addr = static_cast<std::uint32_t>(candidate);
  leased_.insert(addr);
  lowest_maybe_free_ = candidate + 1;
  return addr;
}

bool AddressPool::claim(std::uint32_t addr) {
  return leasable(addr) && leased_.insert(addr).second;
}

void AddressPool::release(std::uint32_t addr) {
  if (leased_.erase(addr) != 0 && addr < lowest_maybe_free_) lowest_maybe_free_ = addr;
}

}  // namespace tandem::session
