#include "replication/service_address.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <netpacket/packet.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <vector>

#include "base/address.hpp"
#include "replication/neighbour_advert.hpp"

extern char** environ;

namespace tandem::replication {
namespace {

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

struct Fd {
  int fd;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

void add_attr(std::vector<char>& msg, unsigned short type, const void* data, std::size_t len) {
  rtattr rta{};
  rta.rta_type = type;
  rta.rta_len = static_cast<unsigned short>(RTA_LENGTH(len));
  std::size_t at = msg.size();
  msg.resize(at + RTA_SPACE(len), 0);
  std::memcpy(msg.data() + at, &rta, sizeof rta);
  std::memcpy(msg.data() + at + RTA_LENGTH(0), data, len);
}

// One RTM_NEWADDR/RTM_DELADDR request; returns the kernel's errno (0 = done).
Result<int> address_request(const ServiceAddress& a, unsigned short type, unsigned short flags) {
  unsigned index = ::if_nametoindex(a.interface.c_str());
  if (index == 0) return fail("interface " + a.interface + ": " + std::strerror(errno));
  Fd sock(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (sock.fd < 0) return fail(errno_text("netlink socket"));

  std::vector<char> msg(NLMSG_SPACE(sizeof(ifaddrmsg)), 0);
  auto* nlh = reinterpret_cast<nlmsghdr*>(msg.data());
  nlh->nlmsg_type = type;
  nlh->nlmsg_flags = static_cast<unsigned short>(NLM_F_REQUEST | NLM_F_ACK | flags);
  nlh->nlmsg_seq = 1;
  auto* ifa = reinterpret_cast<ifaddrmsg*>(NLMSG_DATA(nlh));
  ifa->ifa_prefixlen = static_cast<unsigned char>(a.prefix);
  ifa->ifa_index = index;
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  if (a.ipv6()) {
    ifa->ifa_family = AF_INET6;
    if (type == RTM_NEWADDR) ifa->ifa_flags = IFA_F_NODAD;
    // IFA_ADDRESS alone: for IPv6 a different IFA_LOCAL would make IFA_ADDRESS a peer.
    add_attr(msg, IFA_ADDRESS, a.address6->data(), a.address6->size());
  } else {
    ifa->ifa_family = AF_INET;
    std::uint32_t addr = htonl(a.address);
    add_attr(msg, IFA_LOCAL, &addr, sizeof addr);
    add_attr(msg, IFA_ADDRESS, &addr, sizeof addr);
    if (a.prefix < 31) {
      std::uint32_t mask = a.prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - a.prefix);
      std::uint32_t brd = htonl(a.address | ~mask);
      add_attr(msg, IFA_BROADCAST, &brd, sizeof brd);
    }
  }
  reinterpret_cast<nlmsghdr*>(msg.data())->nlmsg_len = static_cast<unsigned>(msg.size());

  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(sock.fd, msg.data(), msg.size(), 0, reinterpret_cast<sockaddr*>(&kernel),
               sizeof kernel) < 0)
    return fail(errno_text("netlink send"));
  char reply[4096];
  ssize_t n = ::recv(sock.fd, reply, sizeof reply, 0);
  if (n < 0) return fail(errno_text("netlink receive"));
  auto* r = reinterpret_cast<nlmsghdr*>(reply);
  if (n >= static_cast<ssize_t>(NLMSG_SPACE(sizeof(nlmsgerr))) && r->nlmsg_type == NLMSG_ERROR)
    return -reinterpret_cast<nlmsgerr*>(NLMSG_DATA(r))->error;
  return 0;
}

Result<MacAddr> interface_mac(int sock, const std::string& interface) {
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, interface.c_str(), IFNAMSIZ - 1);
  if (::ioctl(sock, SIOCGIFHWADDR, &ifr) < 0) return fail(errno_text("SIOCGIFHWADDR " + interface));
  MacAddr mac;
  std::memcpy(mac.data(), ifr.ifr_hwaddr.sa_data, mac.size());
  return mac;
}

// Whether the interface forwards IPv6 (the Router flag of our advertisements); unreadable: yes,
// since a node holding the inside address is the inside network's way to the pool.
bool forwards_ipv6(const std::string& interface) {
  std::ifstream f("/proc/sys/net/ipv6/conf/" + interface + "/forwarding");
  int on = 1;
  if (!(f >> on)) return true;
  return on != 0;
}

// Unsolicited Neighbour Advertisements from the address to all nodes (neighbour_advert.hpp).
Result<bool> advertise(const ServiceAddress& a, int count) {
  Fd sock(::socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMPV6));
  if (sock.fd < 0) return fail(errno_text("raw ICMPv6 socket"));
  auto mac = interface_mac(sock.fd, a.interface);
  if (!mac) return fail(mac.error());
  unsigned index = ::if_nametoindex(a.interface.c_str());
  if (index == 0) return fail("interface " + a.interface + ": " + std::strerror(errno));
  // Receivers ignore neighbour discovery that did not come with hop limit 255 (it proves the
  // sender is on the link).
  int hops = 255;
  int ifindex = static_cast<int>(index);
  if (::setsockopt(sock.fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof hops) < 0 ||
      ::setsockopt(sock.fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &ifindex, sizeof ifindex) < 0)
    return fail(errno_text("ICMPv6 socket options"));
  sockaddr_in6 from{};
  from.sin6_family = AF_INET6;
  std::memcpy(from.sin6_addr.s6_addr, a.address6->data(), 16);
  if (::bind(sock.fd, reinterpret_cast<sockaddr*>(&from), sizeof from) < 0)
    return fail(errno_text("binding the advertisement to " + a.text()));

  const auto message = unsolicited_neighbour_advert(*a.address6, *mac, forwards_ipv6(a.interface));
  sockaddr_in6 to{};
  to.sin6_family = AF_INET6;
  const auto all_nodes = all_nodes_address();
  std::memcpy(to.sin6_addr.s6_addr, all_nodes.data(), 16);
  to.sin6_scope_id = index;
  for (int i = 0; i < count; ++i) {
    if (::sendto(sock.fd, message.data(), message.size(), 0, reinterpret_cast<sockaddr*>(&to),
                 sizeof to) < 0)
      return fail(errno_text("neighbour advertisement on " + a.interface));
  }
  return true;
}

std::uint16_t checksum(const std::uint8_t* data, std::size_t len, std::uint32_t sum = 0) {
  for (std::size_t i = 0; i + 1 < len; i += 2) sum += (std::uint32_t{data[i]} << 8) | data[i + 1];
  if (len & 1) sum += std::uint32_t{data[len - 1]} << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

Result<bool> run_nft(const std::string& script) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) < 0) return fail(errno_text("pipe"));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[0], 0);
  const char* argv[] = {"nft", "-f", "-", nullptr};
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, "nft", &actions, nullptr, const_cast<char**>(argv), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fds[0]);
  if (rc != 0) {
    ::close(pipe_fds[1]);
    return fail(std::string("cannot run nft: ") + std::strerror(rc));
  }
  ssize_t ignored = ::write(pipe_fds[1], script.data(), script.size());
  (void)ignored;
  ::close(pipe_fds[1]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return fail("nft refused the rules");
  return true;
}

constexpr const char* kGuardTable = "tandem_syn_guard";

}  // namespace

std::string ServiceAddress::text() const {
  return (ipv6() ? net::format_ipv6(*address6) : net::format_ipv4(address)) + "/" +
         std::to_string(prefix);
}

Result<ServiceAddress> parse_service_address(const std::string& cidr,
                                             const std::string& interface) {
  auto slash = cidr.find('/');
  if (slash == std::string::npos) return fail("'" + cidr + "' is not address/prefix");
  auto addr = net::parse_ipv4(cidr.substr(0, slash));
  if (!addr) return fail("'" + cidr + "': bad address");
  int prefix = -1;
  try {
    prefix = std::stoi(cidr.substr(slash + 1));
  } catch (...) {
  }
  if (prefix < 1 || prefix > 32) return fail("'" + cidr + "': bad prefix");
  if (interface.empty()) return fail("a service address needs its interface");
  return ServiceAddress{interface, *addr, prefix, std::nullopt};
}

Result<ServiceAddress> parse_service_address6(const std::string& cidr,
                                              const std::string& interface) {
  auto slash = cidr.find('/');
  if (slash == std::string::npos) return fail("'" + cidr + "' is not address/prefix");
  auto addr = net::parse_ipv6(cidr.substr(0, slash));
  if (!addr) return fail("'" + cidr + "': bad IPv6 address");
  const std::string digits = cidr.substr(slash + 1);
  int prefix = -1;
  if (!digits.empty() && digits.size() <= 3 &&
      digits.find_first_not_of("0123456789") == digits.npos)
    prefix = std::stoi(digits);
  if (prefix < 1 || prefix > 128) return fail("'" + cidr + "': bad prefix");
  if (interface.empty()) return fail("a service address needs its interface");
  return ServiceAddress{interface, 0, prefix, *addr};
}

Result<bool> add_address(const ServiceAddress& a) {
  auto r = address_request(a, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
  if (!r) return fail(r.error());
  if (*r != 0 && *r != EEXIST)
    return fail("adding " + a.text() + " to " + a.interface + ": " + std::strerror(*r));
  return true;
}

Result<bool> remove_address(const ServiceAddress& a) {
  auto r = address_request(a, RTM_DELADDR, 0);
  if (!r) return fail(r.error());
  if (*r != 0 && *r != EADDRNOTAVAIL && *r != ENODEV)
    return fail("removing " + a.text() + " from " + a.interface + ": " + std::strerror(*r));
  return true;
}

bool has_address(const ServiceAddress& a) {
  // Binding a socket to an address succeeds only when it is local.
  if (a.ipv6()) {
    Fd sock(::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_in6 sin6{};
    sin6.sin6_family = AF_INET6;
    std::memcpy(sin6.sin6_addr.s6_addr, a.address6->data(), 16);
    return sock.fd >= 0 && ::bind(sock.fd, reinterpret_cast<sockaddr*>(&sin6), sizeof sin6) == 0;
  }
  Fd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(a.address);
  return sock.fd >= 0 && ::bind(sock.fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin) == 0;
}

Result<bool> announce(const ServiceAddress& a, int count) {
  if (a.ipv6()) return advertise(a, count);
  Fd sock(::socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_ARP)));
  if (sock.fd < 0) return fail(errno_text("packet socket"));
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, a.interface.c_str(), IFNAMSIZ - 1);
  if (::ioctl(sock.fd, SIOCGIFHWADDR, &ifr) < 0)
    return fail(errno_text("SIOCGIFHWADDR " + a.interface));
  unsigned index = ::if_nametoindex(a.interface.c_str());

  // ARP request "who has VIP, tell VIP" from our MAC: every neighbour updates its cache.
  std::uint8_t pkt[28] = {0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01};
  std::memcpy(pkt + 8, ifr.ifr_hwaddr.sa_data, 6);
  std::uint32_t ip = htonl(a.address);
  std::memcpy(pkt + 14, &ip, 4);
  std::memset(pkt + 18, 0, 6);
  std::memcpy(pkt + 24, &ip, 4);

  sockaddr_ll to{};
  to.sll_family = AF_PACKET;
  to.sll_protocol = htons(ETH_P_ARP);
  to.sll_ifindex = static_cast<int>(index);
  to.sll_halen = 6;
  std::memset(to.sll_addr, 0xff, 6);
  for (int i = 0; i < count; ++i) {
    if (::sendto(sock.fd, pkt, sizeof pkt, 0, reinterpret_cast<sockaddr*>(&to), sizeof to) < 0)
      return fail(errno_text("gratuitous ARP on " + a.interface));
  }
  return true;
}

Result<bool> tickle(std::uint32_t local_address, std::uint16_t local_port,
                    std::uint32_t client_address, std::uint16_t client_port) {
  Fd sock(::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_TCP));
  if (sock.fd < 0) return fail(errno_text("raw socket"));
  sockaddr_in from{};
  from.sin_family = AF_INET;
  from.sin_addr.s_addr = htonl(local_address);
  if (::bind(sock.fd, reinterpret_cast<sockaddr*>(&from), sizeof from) < 0)
    return fail(errno_text("binding the tickle to " + net::format_ipv4(local_address)));

  tcphdr tcp{};
  tcp.source = htons(local_port);
  tcp.dest = htons(client_port);
  tcp.seq = 0;
  tcp.ack_seq = 0;
  tcp.doff = 5;
  tcp.ack = 1;
  tcp.window = htons(1024);
  // Checksum over the pseudo-header and the header.
  std::uint8_t pseudo[12];
  std::uint32_t s = htonl(local_address), d = htonl(client_address);
  std::memcpy(pseudo, &s, 4);
  std::memcpy(pseudo + 4, &d, 4);
  pseudo[8] = 0;
  pseudo[9] = IPPROTO_TCP;
  pseudo[10] = 0;
  pseudo[11] = sizeof tcp;
  std::uint8_t buf[sizeof pseudo + sizeof tcp];
  std::memcpy(buf, pseudo, sizeof pseudo);
  std::memcpy(buf + sizeof pseudo, &tcp, sizeof tcp);
  tcp.check = htons(checksum(buf, sizeof buf));

  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = htonl(client_address);
  if (::sendto(sock.fd, &tcp, sizeof tcp, 0, reinterpret_cast<sockaddr*>(&to), sizeof to) < 0)
    return fail(errno_text("tickle to " + net::format_ipv4(client_address)));
  return true;
}

Result<bool> install_syn_guard(std::uint32_t address, std::uint16_t port) {
  std::string match = "tcp dport " + std::to_string(port) + " tcp flags & (syn | ack) == syn";
  if (address != 0) match = "ip daddr " + net::format_ipv4(address) + " " + match;
  std::string script = std::string("table inet ") + kGuardTable + " {}\n" + "delete table inet " +
                       kGuardTable + "\n" + "table inet " + kGuardTable +
                       " {\n"
                       "  chain input {\n"
                       "    type filter hook input priority -10; policy accept;\n    " +
                       match + " socket wildcard 0 accept\n    " + match +
                       " socket wildcard 1 accept\n    " + match + " drop\n  }\n}\n";
  return run_nft(script);
}

Result<bool> remove_syn_guard() {
  return run_nft(std::string("table inet ") + kGuardTable + " {}\ndelete table inet " +
                 kGuardTable + "\n");
}

}  // namespace tandem::replication
