#pragma once
// The member's addresses on this node: the service address clients connect to and the inside
// addresses (IPv4, and IPv6 when configured) the pools are routed through. They move with the
// active role. Used from the replication
// executor only, so taking and releasing never interleave.
#include <cstdint>
#include <optional>
#include <vector>

#include "proto/session.pb.h"
#include "replication/service_address.hpp"
#include "replication/settings.hpp"

namespace tandem::replication {

class AddressOwner {
 public:
  explicit AddressOwner(const Settings& config);

  bool any() const { return service_.has_value() || inside_.has_value() || inside6_.has_value(); }
  // Puts the addresses up, announces them (gratuitous ARP, unsolicited Neighbour Advertisements
  // for IPv6), then tickles every client the
  // sessions name, so that their stale connections to the old active fail at once and they
  // reconnect here.
  void take(const std::vector<proto::SessionRecord>& sessions);
  void release();
  // The SYN guard (service_address.hpp) stands for as long as the node runs.
  void install_guard();

 private:
  std::optional<ServiceAddress> service_;
  std::optional<ServiceAddress> inside_;
  std::optional<ServiceAddress> inside6_;
  std::uint16_t service_port_ = 0;    // the client-facing listen port
  std::uint32_t listen_address_ = 0;  // the client-facing listen address (0 = any)
};

}  // namespace tandem::replication
