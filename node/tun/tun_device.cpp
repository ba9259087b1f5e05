#include "node/tun/tun_device.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/ipv6.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "node/tun/offload.hpp"

namespace tandem::tun {
namespace {

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

void set_sockaddr(sockaddr& sa, std::uint32_t host_order) {
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(host_order);
  std::memcpy(&sa, &sin, sizeof sin);
}

// Address, netmask, MTU and up, through the classic interface ioctls (no netlink needed).
Result<bool> configure(const TunSettings& s) {
  int sock = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return fail(errno_text("socket"));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{sock};

  ifreq ifr{};
  std::strncpy(ifr.ifr_name, s.name.c_str(), IFNAMSIZ - 1);
  set_sockaddr(ifr.ifr_addr, s.address);
  if (::ioctl(sock, SIOCSIFADDR, &ifr) < 0) return fail(errno_text("SIOCSIFADDR"));
  std::uint32_t mask = s.prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - s.prefix);
  set_sockaddr(ifr.ifr_netmask, mask);
  if (::ioctl(sock, SIOCSIFNETMASK, &ifr) < 0) return fail(errno_text("SIOCSIFNETMASK"));
  ifr.ifr_mtu = s.mtu;
  if (::ioctl(sock, SIOCSIFMTU, &ifr) < 0) return fail(errno_text("SIOCSIFMTU"));
  if (::ioctl(sock, SIOCGIFFLAGS, &ifr) < 0) return fail(errno_text("SIOCGIFFLAGS"));
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP | IFF_RUNNING);
  if (::ioctl(sock, SIOCSIFFLAGS, &ifr) < 0) return fail(errno_text("SIOCSIFFLAGS"));
  return true;
}

}  // namespace

Result<TunDevice> TunDevice::open(const TunSettings& settings) {
  if (settings.name.empty() || settings.name.size() >= IFNAMSIZ)
    return fail("tun name '" + settings.name + "' must be 1.." + std::to_string(IFNAMSIZ - 1) +
                " characters");
  int fd = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return fail(errno_text("open /dev/net/tun"));
  ifreq ifr{};
  ifr.ifr_flags = static_cast<short>(IFF_TUN | IFF_NO_PI | (settings.offload ? IFF_VNET_HDR : 0));
  std::strncpy(ifr.ifr_name, settings.name.c_str(), IFNAMSIZ - 1);
  if (::ioctl(fd, TUNSETIFF, &ifr) < 0) {
    auto err = errno_text(("TUNSETIFF " + settings.name).c_str());
    ::close(fd);
    return fail(err);
  }
  TunDevice dev(fd, ifr.ifr_name);
  if (settings.offload) {
    // The header is the 10-byte legacy form (the default size; said anyway). TSO needs the
    // checksum offload, and no TUN_F_TSO_ECN nor UDP offloads: the kernel then segments those
    // skbs itself, so a read only ever holds TCP super-packets (offload.hpp refuses the rest).
    int size = static_cast<int>(kVnetHdrSize);
    if (::ioctl(fd, TUNSETVNETHDRSZ, &size) < 0) return fail(errno_text("TUNSETVNETHDRSZ"));
    dev.vnet_header_ = true;
    if (::ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) < 0)
      dev.offload_refused_ = errno_text("TUNSETOFFLOAD");
  }
  if (auto r = configure(settings); !r) return fail("configuring " + dev.name_ + ": " + r.error());
  return dev;
}

TunDevice::TunDevice(TunDevice&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      name_(std::move(other.name_)),
      vnet_header_(other.vnet_header_),
      offload_refused_(std::move(other.offload_refused_)) {}

TunDevice& TunDevice::operator=(TunDevice&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    name_ = std::move(other.name_);
    vnet_header_ = other.vnet_header_;
    offload_refused_ = std::move(other.offload_refused_);
  }
  return *this;
}

TunDevice::~TunDevice() {
  if (fd_ >= 0) ::close(fd_);
}

Result<bool> TunDevice::set_link_up(const std::string& name, bool up) {
  int sock = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return fail(errno_text("socket"));
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  bool ok = ::ioctl(sock, SIOCGIFFLAGS, &ifr) == 0;
  if (ok) {
    ifr.ifr_flags =
        static_cast<short>(up ? (ifr.ifr_flags | IFF_UP | IFF_RUNNING) : (ifr.ifr_flags & ~IFF_UP));
    ok = ::ioctl(sock, SIOCSIFFLAGS, &ifr) == 0;
  }
  std::string err = ok ? "" : errno_text(("setting " + name + (up ? " up" : " down")).c_str());
  ::close(sock);
  if (!ok) return fail(err);
  return true;
}

Result<bool> TunDevice::add_ipv6(const std::string& name, const net::Ipv6Addr& address,
                                 int prefix) {
  int sock = ::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return fail(errno_text("socket AF_INET6 (is IPv6 disabled?)"));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{sock};
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  if (::ioctl(sock, SIOCGIFINDEX, &ifr) < 0) return fail(errno_text("SIOCGIFINDEX"));
  in6_ifreq req{};
  std::memcpy(&req.ifr6_addr, address.data(), 16);
  req.ifr6_prefixlen = static_cast<std::uint32_t>(prefix);
  req.ifr6_ifindex = ifr.ifr_ifindex;
  if (::ioctl(sock, SIOCSIFADDR, &req) < 0 && errno != EEXIST)
    return fail(errno_text(("adding " + net::format_ipv6(address) + " to " + name).c_str()));
  return true;
}

int TunDevice::release() { return std::exchange(fd_, -1); }

}  // namespace tandem::tun
