#pragma once
// Taking and giving up the member's service address (DESIGN step 7): the address itself over
// rtnetlink, gratuitous ARP (IPv4) or an unsolicited Neighbour Advertisement (IPv6, the inside
// address only: docs/ipv6.md, "Pairs") so neighbours move to us at once, "tickle" ACKs that make
// clients' stale TCP connections reset immediately, and a SYN guard so that a node whose daemon
// died drops (rather than refuses) reconnect attempts while the standby takes over: a refused
// connection costs an openconnect client 10 s, a dropped SYN is retried after 1 s.
#include <cstdint>
#include <optional>
#include <string>

#include "base/address.hpp"
#include "base/result.hpp"

namespace tandem::replication {

struct ServiceAddress {
  std::string interface;  // "eth0"
  std::uint32_t address;  // IPv4, host byte order (0 for an IPv6 address)
  int prefix;
  std::optional<net::Ipv6Addr> address6;  // set for an IPv6 address, which it then is

  bool ipv6() const { return address6.has_value(); }
  std::string text() const;  // "10.200.0.10/24", "fd00:99::1/64"
};

// "10.200.0.10/24" on "eth0".
Result<ServiceAddress> parse_service_address(const std::string& cidr, const std::string& interface);
// "fd00:99::1/64" on "eth1" (prefix 1..128).
Result<ServiceAddress> parse_service_address6(const std::string& cidr,
                                              const std::string& interface);

// Idempotent: adding an address that is there, or removing one that is not, succeeds. An IPv6
// address is added without duplicate address detection ("nodad"): usable at once, and only the
// active node ever holds it, so there is no one to detect.
Result<bool> add_address(const ServiceAddress& a);
Result<bool> remove_address(const ServiceAddress& a);
bool has_address(const ServiceAddress& a);

// Announce the address from our interface, `count` times: gratuitous ARP requests (IPv4) or
// unsolicited Neighbour Advertisements with the Override flag to ff02::1 (IPv6,
// neighbour_advert.hpp), the Router flag set when the interface forwards IPv6.
Result<bool> announce(const ServiceAddress& a, int count);

// One bare ACK with sequence 0 to the client's end of an old connection: the client answers
// with its own ACK, our kernel (which has no such connection) answers that with a RST, and the
// client reconnects at once instead of waiting for its own timers.
Result<bool> tickle(std::uint32_t local_address, std::uint16_t local_port,
                    std::uint32_t client_address, std::uint16_t client_port);

// The SYN guard: nftables rules that drop SYNs to address:port (address 0: any local address)
// when no socket listens there. Installed at start-up and left in place: while the daemon is
// down (crashed, restarting, stopped), clients' reconnects are retried after 1 s instead of
// being refused, which would cost each openconnect client 10 s.
Result<bool> install_syn_guard(std::uint32_t address, std::uint16_t port);
Result<bool> remove_syn_guard();

}  // namespace tandem::replication
