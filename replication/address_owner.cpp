#include "replication/address_owner.hpp"

#include "base/address.hpp"
#include "base/log.hpp"

namespace tandem::replication {
namespace {

std::optional<ServiceAddress> service_address(const std::string& cidr, const std::string& ifname,
                                              bool ipv6 = false) {
  if (cidr.empty()) return std::nullopt;
  auto a = ipv6 ? parse_service_address6(cidr, ifname) : parse_service_address(cidr, ifname);
  if (!a) return std::nullopt;  // the config loader validated it already
  return *a;
}

std::uint16_t listen_port(const std::string& listen) {
  auto colon = listen.rfind(':');
  return static_cast<std::uint16_t>(std::stoi(listen.substr(colon + 1)));
}

}  // namespace

AddressOwner::AddressOwner(const Settings& config)
    : service_(service_address(config.service_address, config.service_interface)),
      inside_(service_address(config.inside_address, config.inside_interface)),
      inside6_(service_address(config.inside_address6, config.inside_interface, true)),
      service_port_(listen_port(config.listen)),
      listen_address_(
          net::parse_ipv4(config.listen.substr(0, config.listen.rfind(':'))).value_or(0)) {}

void AddressOwner::take(const std::vector<proto::SessionRecord>& sessions) {
  for (const auto* a : {&service_, &inside_, &inside6_}) {
    if (!*a) continue;
    if (auto r = add_address(**a); !r) {
      log::error("service_address_failed", {{"address", (*a)->text()}, {"reason", r.error()}});
      continue;
    }
    if (auto r = announce(**a, 3); !r)
      log::warn((*a)->ipv6() ? "neighbour_advert_failed" : "gratuitous_arp_failed",
                {{"address", (*a)->text()}, {"reason", r.error()}});
    log::info("service_address_taken", {{"address", (*a)->text()}, {"interface", (*a)->interface}});
  }
  if (!service_) return;
  std::size_t tickled = 0;
  for (const auto& rec : sessions) {
    for (const auto& t : rec.tunnels()) {
      if (t.kind() != proto::TunnelRecord::SSL || t.public_port() == 0) continue;
      auto client = net::parse_ipv4(t.public_ip());
      if (!client) continue;
      if (tickle(service_->address, service_port_, *client,
                 static_cast<std::uint16_t>(t.public_port())))
        ++tickled;
    }
  }
  log::info("clients_tickled", {{"connections", std::to_string(tickled)}});
}

void AddressOwner::release() {
  for (const auto* a : {&service_, &inside_, &inside6_}) {
    if (!*a) continue;
    if (auto r = remove_address(**a); !r)
      log::error("service_address_release_failed",
                 {{"address", (*a)->text()}, {"reason", r.error()}});
    else
      log::info("service_address_released", {{"address", (*a)->text()}});
  }
}

void AddressOwner::install_guard() {
  std::uint32_t guarded = service_ ? service_->address : listen_address_;
  if (auto r = install_syn_guard(guarded, service_port_); !r)
    log::warn("syn_guard_unavailable", {{"reason", r.error()}});
}

}  // namespace tandem::replication
