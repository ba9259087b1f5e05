#include "node/session/address_pool.hpp"

#include <string_view>

namespace tandem::session {
namespace {

// Digits only, no sign, no leading zero (so "010" is never read as octal the way inet_aton
// would), value at most `max`.
std::optional<std::uint32_t> parse_decimal(std::string_view text, std::uint32_t max) {
  if (text.empty() || text.size() > 10 || (text.size() > 1 && text[0] == '0')) return std::nullopt;
  std::uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (value > max) return std::nullopt;
  return static_cast<std::uint32_t>(value);
}

}  // namespace

std::optional<std::uint32_t> parse_ipv4(const std::string& text) {
  std::string_view rest = text;
  std::uint32_t addr = 0;
  for (int i = 0; i < 4; ++i) {
    const std::size_t dot = rest.find('.');
    const bool last = i == 3;
    if (last != (dot == std::string_view::npos)) return std::nullopt;  // exactly three dots
    const auto octet = parse_decimal(rest.substr(0, dot), 255);
    if (!octet) return std::nullopt;
    addr = addr << 8 | *octet;
    if (!last) rest.remove_prefix(dot + 1);
  }
  return addr;
}

std::string format_ipv4(std::uint32_t addr) {
  return std::to_string(addr >> 24) + '.' + std::to_string(addr >> 16 & 0xff) + '.' +
         std::to_string(addr >> 8 & 0xff) + '.' + std::to_string(addr & 0xff);
}

// Errors describe the problem, not the input: callers know which key or field they were parsing.
Result<Ipv4Net> parse_cidr(const std::string& text) {
  const std::size_t slash = text.find('/');
  if (slash == std::string::npos) return fail("missing \"/len\"");
  const auto addr = parse_ipv4(text.substr(0, slash));
  if (!addr) return fail("not a dotted-quad IPv4 address before '/'");
  const auto prefix = parse_decimal(std::string_view(text).substr(slash + 1), 32);
  if (!prefix) return fail("prefix length after '/' is not 0..32");
  Ipv4Net net{*addr, static_cast<int>(*prefix)};
  // A typo like 10.77.0.1/24 is refused rather than silently widened to 10.77.0.0/24.
  if ((*addr & ~net.netmask()) != 0) {
    return fail("host bits are set (the network is " + format_ipv4(*addr & net.netmask()) + "/" +
                std::to_string(*prefix) + ")");
  }
  return net;
}

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
