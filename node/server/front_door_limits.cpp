#include "node/server/front_door_limits.hpp"

#include <algorithm>

namespace tandem::server {

FrontDoorSettings front_door_settings(const config::Limits& l, std::size_t connections) {
  auto n = [](int v) { return static_cast<std::size_t>(std::max(v, 0)); };
  return FrontDoorSettings{connections, n(l.connections_per_address), n(l.tls_handshakes),
                           n(l.tls_handshakes_per_address)};
}

std::string_view to_string(FrontDoorLimits::Refusal why) {
  switch (why) {
    case FrontDoorLimits::Refusal::none:
      return "none";
    case FrontDoorLimits::Refusal::connections:
      return "connections";
    case FrontDoorLimits::Refusal::connections_per_address:
      return "connections_per_address";
    case FrontDoorLimits::Refusal::handshakes:
      return "tls_handshakes";
    case FrontDoorLimits::Refusal::handshakes_per_address:
      return "tls_handshakes_per_address";
    case FrontDoorLimits::Refusal::descriptors:
      return "descriptors";
  }
  return "?";
}

FrontDoorLimits::Refusal FrontDoorLimits::admit(const std::string& address) {
  auto it = by_address_.find(address);
  const Counts mine = it == by_address_.end() ? Counts{} : it->second;
  Refusal why = Refusal::none;
  if (open_ >= settings_.connections)
    why = Refusal::connections;
  else if (settings_.connections_per_address != 0 && mine.open >= settings_.connections_per_address)
    why = Refusal::connections_per_address;
  else if (handshaking_ >= settings_.handshakes)
    why = Refusal::handshakes;
  else if (settings_.handshakes_per_address != 0 &&
           mine.handshaking >= settings_.handshakes_per_address)
    why = Refusal::handshakes_per_address;
  if (why != Refusal::none) {
    ++refused_[static_cast<std::size_t>(why)];
    return why;
  }
  Counts& c = it == by_address_.end() ? by_address_[address] : it->second;
  ++c.open;
  ++c.handshaking;
  ++open_;
  ++handshaking_;
  return why;
}

void FrontDoorLimits::handshake_over(const std::string& address) {
  auto it = by_address_.find(address);
  if (it == by_address_.end() || it->second.handshaking == 0) return;
  --it->second.handshaking;
  --handshaking_;
}

void FrontDoorLimits::release(const std::string& address) {
  auto it = by_address_.find(address);
  if (it == by_address_.end() || it->second.open == 0) return;
  --open_;
  if (--it->second.open == 0) {
    handshaking_ -= it->second.handshaking;  // only if a caller skipped handshake_over()
    by_address_.erase(it);
  }
}

std::size_t FrontDoorLimits::open_from(const std::string& address) const {
  auto it = by_address_.find(address);
  return it == by_address_.end() ? 0 : it->second.open;
}

}  // namespace tandem::server
