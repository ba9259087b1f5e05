#include "node/metrics/registry.hpp"

#include <algorithm>
#include <charconv>
#include <initializer_list>
#include <utility>

namespace tandem::metrics {
namespace {

constexpr std::string_view kPrefix = "tandem_";

using Label = std::pair<std::string_view, std::string_view>;

// HELP text escapes only backslash and newline (a quote is literal there).
std::string escape_help(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string number(std::uint64_t v) { return std::to_string(v); }
std::string signed_number(std::int64_t v) { return std::to_string(v); }

// Shortest text that reads back as the same double.
std::string number(double v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, end) : std::string("NaN");
}

class Writer {
 public:
  // Starts a family: every sample after it until the next family() belongs to it.
  void family(std::string_view name, std::string_view type, std::string_view help) {
    name_ = kPrefix;
    name_ += name;
    out_ += "# HELP " + name_ + " " + escape_help(help) + "\n";
    out_ += "# TYPE " + name_ + " " + std::string(type) + "\n";
  }

  void sample(std::initializer_list<Label> labels, const std::string& value) {
    out_ += name_;
    if (labels.size() != 0) {
      out_ += '{';
      bool first = true;
      for (const auto& [key, v] : labels) {
        if (!first) out_ += ',';
        first = false;
        out_ += key;
        out_ += "=\"";
        out_ += escape_label_value(v);
        out_ += '"';
      }
      out_ += '}';
    }
    out_ += ' ';
    out_ += value;
    out_ += '\n';
  }
  void sample(const std::string& value) { sample({}, value); }

  std::string take() { return std::move(out_); }

 private:
  std::string out_;
  std::string name_;
};

void write_state(Writer& w, const Snapshot& s) {
  w.family("info", "gauge", "Build and node identity; always 1.");
  w.sample({{"version", s.version}, {"node", s.node}}, "1");
  w.family("process_start_time_seconds", "gauge", "Start time of the process, Unix seconds.");
  w.sample(number(s.process_start_unix));

  w.family("sessions", "gauge",
           "Sessions in the table: active (SSL tunnel up) or waiting to resume (S5).");
  w.sample({{"state", "active"}}, number(s.sessions_active));
  w.sample({{"state", "waiting_to_resume"}}, number(s.sessions_waiting));
  w.family("tunnels", "gauge", "Tunnels attached to sessions, by kind.");
  w.sample({{"kind", "ssl"}}, number(s.tunnels_ssl));
  w.sample({{"kind", "dtls"}}, number(s.tunnels_dtls));
  w.family("downstream_sessions", "gauge",
           "Active sessions by the tunnel their downstream goes over now (docs/roaming.md).");
  w.sample({{"carrier", "dtls"}}, number(s.downstream_dtls));
  w.sample({{"carrier", "ssl"}},
           number(s.sessions_active - std::min(s.sessions_active, s.downstream_dtls)));
  w.family("session_limit", "gauge",
           "Sessions this node takes at most ([limits] max_sessions; 0: no limit).");
  w.sample(number(s.session_limit));
  w.family("pool_addresses", "gauge", "Client addresses of the pool, leased or free.");
  w.sample({{"state", "used"}}, number(s.pool_used));
  w.sample({{"state", "free"}}, number(s.pool_free));
  // Only the used count: a /64 has more free addresses than a sample can say usefully.
  w.family("pool6_addresses_used", "gauge", "IPv6 addresses of the pool leased to sessions.");
  w.sample(number(s.pool6_used));
}

void write_accounting(Writer& w, const Snapshot& s) {
  w.family("accounting_queued", "gauge",
           "RADIUS accounting records on disk, waiting for a server to acknowledge them.");
  w.sample(number(s.accounting_queued));
  w.family("accounting_records_sent_total", "counter",
           "RADIUS accounting records a server acknowledged.");
  w.sample(number(s.accounting_sent));
  w.family("accounting_send_failures_total", "counter",
           "RADIUS accounting tries no server answered (each is retried).");
  w.sample(number(s.accounting_failed));
  w.family("accounting_records_dropped_total", "counter",
           "RADIUS accounting records never queued: the queue was full or its disk failed.");
  w.sample(number(s.accounting_dropped));
  w.family("accounting_queue_writes_total", "counter",
           "Synced writes to the accounting queue's disk; records queued together share one.");
  w.sample(number(s.accounting_disk_writes));
}

void write_traffic(Writer& w, const Snapshot& s) {
  const session::Counters& t = s.traffic;
  w.family("bytes_total", "counter",
           "IP payload bytes through tunnels (tx: headend to client), live and ended sessions.");
  w.sample({{"direction", "tx"}}, number(t.bytes_tx));
  w.sample({{"direction", "rx"}}, number(t.bytes_rx));
  w.family("packets_total", "counter", "IP packets through tunnels, live and ended sessions.");
  w.sample({{"direction", "tx"}}, number(t.packets_tx));
  w.sample({{"direction", "rx"}}, number(t.packets_rx));
  w.family("drops_total", "counter",
           "Packets dropped: tx when a client's queue is full, rx when refused inside.");
  w.sample({{"direction", "tx"}}, number(t.drops_tx));
  w.sample({{"direction", "rx"}}, number(t.drops_rx));
  w.family("traffic_policy_drops_total", "counter",
           "Packets from clients refused by the traffic policy, by reason "
           "(docs/traffic-policy.md); they count in drops_total rx too.");
  for (const auto reason : session::kAllFilterDrops)
    w.sample({{"reason", session::to_string(reason)}},
             number(s.events.traffic_dropped[session::drop_index(reason)]));
}

void write_events(Writer& w, const Snapshot& s) {
  const Counters& e = s.events;
  w.family("logins_total", "counter", "Password logins by outcome.");
  w.sample({{"result", "ok"}}, number(e.logins_ok));
  w.sample({{"result", "failed"}}, number(e.logins_failed));
  w.sample({{"result", "refused"}}, number(e.logins_refused));
  w.sample({{"result", "throttled"}}, number(e.logins_throttled));
  w.family("resumes_total", "counter", "Sessions resumed with their token (S11).");
  w.sample(number(e.resumes));
  w.family("input_refused_total", "counter", "Client input refused as malformed or unwanted.");
  w.sample(number(e.input_refused));
  w.family("profile_downloads_total", "counter",
           "XML profile requests by outcome (docs/cisco-clients.md).");
  w.sample({{"result", "served"}}, number(e.profiles_served));
  w.sample({{"result", "refused"}}, number(e.profiles_refused));

  const auto& t = s.timers;
  w.family("dpd_teardowns_total", "counter", "Tunnels torn down by dead-peer detection (S3).");
  w.sample({{"kind", "ssl"}}, number(t.dpd_ssl));
  w.sample({{"kind", "dtls"}}, number(t.dpd_dtls));
  w.family("timer_expiries_total", "counter", "Policy timers that expired (S6-S8).");
  w.sample({{"kind", "idle"}}, number(t.idle));
  w.sample({{"kind", "dtls_idle"}}, number(t.dtls_idle));
  w.sample({{"kind", "disconnected"}}, number(t.disconnected));
  w.sample({{"kind", "session"}}, number(t.session_timeout));

  w.family("downstream_carrier_switches_total", "counter",
           "Times a session's downstream moved between DTLS and CSTP, by cause (roaming).");
  for (std::size_t i = 0; i < session::kCarrierEvents; ++i) {
    const auto cause = static_cast<session::CarrierEvent>(i);
    if (cause == session::CarrierEvent::dtls_attached) continue;  // moves nothing
    w.sample({{"cause", session::to_string(cause)}}, number(s.carrier_switches[i]));
  }

  w.family("session_ends_total", "counter", "Sessions ended, by reason.");
  for (std::size_t i = 0; i < session::kAllEndReasons.size(); ++i)
    w.sample({{"reason", session::to_string(session::kAllEndReasons[i])}},
             number(s.session_ends[i]));
}

void write_limits(Writer& w, const Snapshot& s) {
  const LimitStats& l = s.limits;
  w.family("front_connections", "gauge",
           "Client connections not yet tunnels (TLS handshake, login, CONNECT).");
  w.sample(number(l.front_connections));
  w.family("tls_handshakes", "gauge", "TLS handshakes in progress on the front door.");
  w.sample(number(l.tls_handshakes));
  w.family("connections_refused_total", "counter",
           "Client connections refused on accept, by the limit they hit.");
  w.sample({{"reason", "connections"}}, number(l.refused_connections));
  w.sample({{"reason", "connections_per_address"}}, number(l.refused_connections_per_address));
  w.sample({{"reason", "tls_handshakes"}}, number(l.refused_tls_handshakes));
  w.sample({{"reason", "tls_handshakes_per_address"}},
           number(l.refused_tls_handshakes_per_address));
  w.sample({{"reason", "descriptors"}}, number(l.refused_descriptors));
  w.family("login_deadline_expired_total", "counter",
           "Connections closed because they had not logged in within the login deadline.");
  w.sample(number(s.events.login_deadline_expired));
  w.family("logins_in_flight", "gauge", "Password checks running.");
  w.sample(number(l.logins_in_flight));
  w.family("logins_throttled_total", "counter",
           "Logins refused unhashed after repeated failures, by the key that was throttled.");
  w.sample({{"scope", "user_address"}}, number(l.throttled_user_address));
  w.sample({{"scope", "address"}}, number(l.throttled_address));
  w.sample({{"scope", "user"}}, number(l.throttled_user));
  w.family("login_throttle_entries", "gauge",
           "Entries of the login throttle's tables (failures; addresses users logged in from).");
  w.sample({{"table", "failures"}}, number(l.throttle_entries));
  w.sample({{"table", "trusted"}}, number(l.trusted_entries));
  w.family("login_throttle_evictions_total", "counter",
           "Login throttle entries dropped, oldest first, to stay within login_throttle_entries.");
  w.sample(number(l.throttle_evictions));
  w.family("dtls_handshakes", "gauge", "DTLS handshakes in progress.");
  w.sample(number(l.dtls_handshakes));
  w.family("dtls_handshakes_refused_total", "counter",
           "DTLS handshakes refused, by the limit they hit.");
  w.sample({{"reason", "dtls_handshakes"}}, number(l.refused_dtls_handshakes));
  w.sample({{"reason", "dtls_handshakes_per_session"}},
           number(l.refused_dtls_handshakes_per_session));
  w.family("control_frames_dropped_total", "counter",
           "CSTP control replies dropped because the client was not reading them.");
  w.sample(number(s.events.control_frames_dropped));
  w.family("tun_super_packets_total", "counter",
           "TCP super-packets the TUN device handed over with its offloads on.");
  w.sample(number(s.events.tun_super_packets));
  w.family("tun_segments_total", "counter", "Packets cut from those super-packets.");
  w.sample(number(s.events.tun_segments));
  w.family("tun_reads_dropped_total", "counter",
           "TUN reads dropped because their offload header or packet was malformed.");
  w.sample(number(s.events.tun_reads_dropped));
  w.family("tun_joined_writes_total", "counter",
           "TUN writes that joined several client packets of one TCP stream (offloads on).");
  w.sample(number(s.events.tun_joined_writes));
  w.family("tun_joined_packets_total", "counter", "Client packets in those writes.");
  w.sample(number(s.events.tun_joined_packets));
  w.family("dtls_worker_sealed_records_total", "counter",
           "Downstream DTLS data records handed to each data worker to seal.");
  for (std::size_t k = 0; k < s.events.dtls_worker_sealed.size(); ++k)
    w.sample({{"worker", std::to_string(k)}}, number(s.events.dtls_worker_sealed[k]));
  w.family("tun_write_failures_total", "counter",
           "Batched TUN writes the kernel refused; the packets in them were lost.");
  w.sample(number(s.events.tun_write_failures));
}

void write_replication(Writer& w, const Snapshot& s) {
  w.family("role", "gauge", "This node's role: 1 for the current one.");
  for (std::string_view role : {"active", "standby", "standalone"})
    w.sample({{"role", role}}, s.role == role ? "1" : "0");
  w.family("epoch", "gauge", "Replication epoch (raised at every promotion).");
  w.sample(number(s.epoch));
  w.family("failovers_total", "counter", "Promotions of this node since it started.");
  w.sample(number(s.failovers));
  w.family("degraded", "gauge", "1 when changes are not reaching a standby.");
  w.sample(s.degraded ? "1" : "0");
  w.family("replication_lag_sequence", "gauge",
           "Changes the standby has not acknowledged (on the standby: not yet received).");
  w.sample(number(s.lag_sequence));
  w.family("replication_lag_seconds", "gauge",
           "Age of the oldest change the standby has not acknowledged.");
  w.sample(number(static_cast<double>(s.lag_ms) / 1000.0));
  w.family("draining", "gauge", "1 while drained (tandemctl drain): new logins are refused.");
  w.sample(s.draining ? "1" : "0");
  w.family("arbiter_holding_key", "gauge",
           "1 while this node holds its member's active key in etcd (0 without [arbiter]).");
  w.sample(s.arbiter_holding_key ? "1" : "0");
  w.family("arbiter_reachable", "gauge",
           "1 when the last request to etcd succeeded (0 without [arbiter]).");
  w.sample(s.arbiter_reachable ? "1" : "0");
  w.family("arbiter_serving_left_seconds", "gauge",
           "On the active: how long it may still serve without hearing from etcd.");
  w.sample(number(static_cast<double>(s.arbiter_serving_left_ms) / 1000.0));
}

void write_certificates(Writer& w, const Snapshot& s) {
  w.family("certificate_expiry_seconds", "gauge",
           "Seconds until the certificate in use expires (negative: expired); the soonest of "
           "its file or chain. tls: client-facing; peer, peer_ca: the replication link.");
  for (const auto& [name, seconds] : s.certificate_expiry)
    w.sample({{"certificate", name}}, signed_number(seconds));
}

}  // namespace

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string render(const Snapshot& s) {
  Writer w;
  write_state(w, s);
  write_traffic(w, s);
  write_events(w, s);
  write_limits(w, s);
  write_replication(w, s);
  write_certificates(w, s);
  write_accounting(w, s);
  return w.take();
}

}  // namespace tandem::metrics
