#include "node/radius/accounting_record.hpp"

#include <algorithm>

namespace tandem::radius {

// The table of docs/radius-accounting.md ("Terminate causes").
TerminateCause terminate_cause(session::EndReason reason) {
  using R = session::EndReason;
  switch (reason) {
    case R::client_logout:
      return TerminateCause::user_request;
    case R::client_closed:
    case R::transport_error:
    case R::dpd:
    case R::disconnected_timeout:
      return TerminateCause::lost_carrier;
    case R::idle_timeout:
      return TerminateCause::idle_timeout;
    case R::session_timeout:
      return TerminateCause::session_timeout;
    case R::admin_logoff:
    case R::user_removed:
    case R::user_disabled:
    case R::group_not_allowed:
    case R::certificate_revoked:
      return TerminateCause::admin_reset;
    case R::simultaneous_login:
      return TerminateCause::port_preempted;
    case R::replaced:
    case R::handover:
    case R::shutdown:
      return TerminateCause::nas_request;
    case R::not_recorded:
      return TerminateCause::nas_error;
  }
  return TerminateCause::nas_error;
}

AcctCounters acct_counters(const session::Counters& c) {
  return {c.bytes_rx, c.bytes_tx, c.packets_rx, c.packets_tx};
}

AcctCounters at_least(const AcctCounters& current, const AcctCounters& reported) {
  return {std::max(current.input_octets, reported.input_octets),
          std::max(current.output_octets, reported.output_octets),
          std::max(current.input_packets, reported.input_packets),
          std::max(current.output_packets, reported.output_packets)};
}

proto::AccountingRecord make_record(const session::Session& s, const AcctCounters& reported,
                                    const AcctEvent& event) {
  proto::AccountingRecord r;
  r.set_status(event.status);
  r.set_session_id(s.acct_session_id);
  r.set_username(s.user);
  r.set_framed_ipv4(s.ip);
  r.set_radius_class(event.radius_class);
  r.set_nas_identifier(event.nas_identifier);
  r.set_event_unix(event.now_unix);
  r.set_calling_station_id(s.public_ip);
  r.set_session_index(s.index);
  if (event.status == proto::AccountingRecord::START) return r;  // no counters in a Start
  r.set_session_seconds(std::max(0LL, event.now_unix - s.login_time_unix));
  const AcctCounters c = at_least(acct_counters(s.counters), reported);
  r.set_input_octets(c.input_octets);
  r.set_output_octets(c.output_octets);
  r.set_input_packets(c.input_packets);
  r.set_output_packets(c.output_packets);
  if (event.status == proto::AccountingRecord::STOP)
    r.set_terminate_cause(static_cast<std::uint32_t>(
        terminate_cause(event.end_reason.value_or(session::EndReason::shutdown))));
  return r;
}

std::vector<Attribute> attributes(const proto::AccountingRecord& r, long long now_unix) {
  auto u32 = [](std::uint64_t v) { return static_cast<std::uint32_t>(v & 0xffffffffu); };
  auto high = [](std::uint64_t v) { return static_cast<std::uint32_t>(v >> 32); };
  std::vector<Attribute> a;
  a.push_back(Attribute::integer(attr::kAcctStatusType, static_cast<std::uint32_t>(r.status())));
  a.push_back(Attribute::string(attr::kAcctSessionId, r.session_id()));
  a.push_back(Attribute::string(attr::kUserName, r.username()));
  if (r.framed_ipv4() != 0)
    a.push_back(Attribute::integer(attr::kFramedIpAddress, r.framed_ipv4()));
  if (!r.radius_class().empty()) a.push_back(Attribute::string(attr::kClass, r.radius_class()));
  if (!r.nas_identifier().empty())
    a.push_back(Attribute::string(attr::kNasIdentifier, r.nas_identifier()));
  if (!r.calling_station_id().empty())
    a.push_back(Attribute::string(attr::kCallingStationId, r.calling_station_id()));
  a.push_back(
      Attribute::integer(attr::kEventTimestamp, u32(static_cast<std::uint64_t>(r.event_unix()))));
  a.push_back(Attribute::integer(attr::kAcctDelayTime, u32(static_cast<std::uint64_t>(std::max(
                                                           0LL, now_unix - r.event_unix())))));
  if (r.status() == proto::AccountingRecord::START) return a;
  a.push_back(Attribute::integer(attr::kAcctSessionTime,
                                 u32(static_cast<std::uint64_t>(r.session_seconds()))));
  a.push_back(Attribute::integer(attr::kAcctInputOctets, u32(r.input_octets())));
  a.push_back(Attribute::integer(attr::kAcctInputGigawords, high(r.input_octets())));
  a.push_back(Attribute::integer(attr::kAcctOutputOctets, u32(r.output_octets())));
  a.push_back(Attribute::integer(attr::kAcctOutputGigawords, high(r.output_octets())));
  // Packet counts have no Gigawords attribute: they saturate rather than wrap.
  auto saturate = [](std::uint64_t v) {
    return static_cast<std::uint32_t>(std::min<std::uint64_t>(v, 0xffffffffu));
  };
  a.push_back(Attribute::integer(attr::kAcctInputPackets, saturate(r.input_packets())));
  a.push_back(Attribute::integer(attr::kAcctOutputPackets, saturate(r.output_packets())));
  if (r.status() == proto::AccountingRecord::STOP)
    a.push_back(Attribute::integer(attr::kAcctTerminateCause, r.terminate_cause()));
  return a;
}

std::optional<TimePoint> next_interim(TimePoint from, Duration interval) {
  if (interval <= Duration::zero()) return std::nullopt;
  return from + std::max(interval, kMinInterimInterval);
}

Duration retry_delay(unsigned failures) {
  constexpr Duration kFirst = std::chrono::seconds(1), kMax = std::chrono::seconds(60);
  if (failures == 0) return Duration::zero();
  Duration d = kFirst;
  for (unsigned i = 1; i < failures && d < kMax; ++i) d *= 2;
  return std::min(d, kMax);
}

const char* to_string(proto::AccountingRecord::Status s) {
  switch (s) {
    case proto::AccountingRecord::START:
      return "start";
    case proto::AccountingRecord::STOP:
      return "stop";
    case proto::AccountingRecord::INTERIM_UPDATE:
      return "interim";
    default:
      return "unknown";
  }
}

}  // namespace tandem::radius
