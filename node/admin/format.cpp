#include "node/admin/format.hpp"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <ctime>
#include <string_view>
#include <vector>

namespace tandem::admin {
namespace {

std::string num(std::uint64_t v) { return std::to_string(v); }

// The reference's detail layout: labels padded to 13 columns then ": ", and a second field on
// the same line starting at column 38.
constexpr std::size_t kLabelWidth = 13;
constexpr std::size_t kValueWidth = 23;

void pad_to(std::string& s, std::size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
}

std::string labelled(std::string_view label, std::string_view value) {
  std::string s(label);
  pad_to(s, kLabelWidth);
  s += ": ";
  s += value;
  return s;
}

void line(std::string& out, std::string_view indent, std::string_view label,
          std::string_view value) {
  out += indent;
  out += labelled(label, value);
  out += '\n';
}

void line2(std::string& out, std::string_view indent, std::string_view label1,
           std::string_view value1, std::string_view label2, std::string_view value2) {
  std::string first = labelled(label1, value1);
  pad_to(first, kLabelWidth + 2 + kValueWidth);
  if (first.back() != ' ') first += "  ";  // a long value still leaves a visible gap
  out += indent;
  out += first;
  out += labelled(label2, value2);
  out += '\n';
}

std::string minutes(long long seconds) {
  return std::to_string(std::max(0LL, seconds) / 60) + " Minutes";
}

std::string port(std::uint32_t p) { return p == 0 ? "-" : std::to_string(p); }

std::string or_dash(const std::string& s) { return s.empty() ? "-" : s; }

// The brief table names tunnels shortly; the parent is only named when it is all there is.
std::string short_protocols(const proto::SessionView& s) {
  std::string out;
  for (const auto& p : s.protocols()) {
    if (p == "AnyConnect-Parent") continue;
    std::string name = p;
    if (p == "SSL-Tunnel")
      name = "SSL";
    else if (p == "DTLS-Tunnel")
      name = "DTLS";
    if (!out.empty()) out += '+';
    out += name;
  }
  return out.empty() ? "Parent" : out;
}

// "AnyConnect-Parent: (1)none  SSL-Tunnel: (1)AES-GCM-256": one entry per tunnel type, in the
// order the tunnels are listed, with how many tunnels of that type carry the value.
std::string per_tunnel(const proto::SessionView& s, bool hashing) {
  std::vector<std::pair<std::string, std::string>> seen;  // (type, value)
  std::vector<int> counts;
  for (const auto& t : s.tunnels()) {
    const std::string& value = hashing ? t.hashing() : t.encryption();
    auto it = std::find(seen.begin(), seen.end(), std::pair(t.type(), value));
    if (it == seen.end()) {
      seen.emplace_back(t.type(), value);
      counts.push_back(1);
    } else {
      ++counts[static_cast<std::size_t>(it - seen.begin())];
    }
  }
  std::string out;
  for (std::size_t i = 0; i < seen.size(); ++i) {
    if (!out.empty()) out += "  ";
    out += seen[i].first + ": (" + std::to_string(counts[i]) + ")" + or_dash(seen[i].second);
  }
  return out;
}

void tunnel_block(std::string& out, const proto::SessionView& s, const proto::TunnelView& t) {
  constexpr std::string_view in = "  ";
  const bool parent = t.type() == "AnyConnect-Parent";
  const char* transport = t.type() == "DTLS-Tunnel" ? "UDP" : "TCP";
  const std::string src = std::string(transport) + " Src Port";
  const std::string dst = std::string(transport) + " Dst Port";
  out += t.type() + ":\n";
  line(out, in, "Tunnel ID", t.id());
  if (parent) {
    line(out, in, "Public IP", or_dash(t.public_ip()));
    line2(out, in, "Encryption", or_dash(t.encryption()), "Hashing", or_dash(t.hashing()));
    line2(out, in, src, port(t.public_port()), dst, port(t.local_port()));
    line(out, in, "Auth Mode", or_dash(t.auth_mode()));
  } else {
    line2(out, in, "Assigned IP", or_dash(s.assigned_ip()), "Public IP", or_dash(t.public_ip()));
    line2(out, in, "Encryption", or_dash(t.encryption()), "Hashing", or_dash(t.hashing()));
    line2(out, in, "Encapsulation", or_dash(t.encapsulation()), src, port(t.public_port()));
    line2(out, in, dst, port(t.local_port()), "Auth Mode", or_dash(t.auth_mode()));
  }
  line2(out, in, "Idle Time Out", minutes(t.idle_timeout_s()), "Idle TO Left",
        minutes(t.idle_left_s()));
  if (parent) line(out, in, "Client OS", or_dash(t.client_os()));
  line(out, in, "Client Type", or_dash(t.client_type()));
  line(out, in, "Client Ver", or_dash(t.client_version()));
  line2(out, in, "Bytes Tx", num(t.bytes_tx()), "Bytes Rx", num(t.bytes_rx()));
  line2(out, in, "Pkts Tx", num(t.packets_tx()), "Pkts Rx", num(t.packets_rx()));
}

void session_block(std::string& out, const proto::SessionView& s) {
  constexpr std::string_view in;
  std::string protocols;
  for (const auto& p : s.protocols()) protocols += (protocols.empty() ? "" : " ") + p;
  line2(out, in, "Username", s.username(), "Index", num(s.index()));
  line2(out, in, "Assigned IP", or_dash(s.assigned_ip()), "Public IP", or_dash(s.public_ip()));
  if (!s.assigned_ipv6().empty()) line(out, in, "Assigned IPv6", s.assigned_ipv6());
  line(out, in, "Protocol", or_dash(protocols));
  line(out, in, "Encryption", or_dash(per_tunnel(s, false)));
  line(out, in, "Hashing", or_dash(per_tunnel(s, true)));
  line2(out, in, "Bytes Tx", num(s.bytes_tx()), "Bytes Rx", num(s.bytes_rx()));
  line2(out, in, "Pkts Tx", num(s.packets_tx()), "Pkts Rx", num(s.packets_rx()));
  line2(out, in, "Pkts Tx Drop", num(s.drops_tx()), "Pkts Rx Drop", num(s.drops_rx()));
  line2(out, in, "Group Policy", or_dash(s.group_policy()), "Tunnel Group",
        or_dash(s.tunnel_group()));
  line(out, in, "Login Time", format_login_time(s.login_time_unix()));
  line(out, in, "Duration", format_duration(s.duration_s()));
  line(out, in, "Inactivity", format_duration(s.inactivity_s()));
  // Not on the reference: whether the session waits for its client, and how often it came back.
  line2(out, in, "State", or_dash(s.state()), "Resumes", std::to_string(s.resumes()));
  // Not on the reference either: who checked the login, and the RADIUS Class (docs/radius.md).
  line2(out, in, "Auth Method", or_dash(s.auth_method()), "RADIUS Class",
        or_dash(s.radius_class()));
  line(out, in, "Acct Session", or_dash(s.acct_session_id()));  // RADIUS Acct-Session-Id

  // "<type> Tunnels: <n>" for each type present, in the order the tunnels are listed.
  std::vector<std::pair<std::string, int>> kinds;
  for (const auto& t : s.tunnels()) {
    auto it = std::find_if(kinds.begin(), kinds.end(),
                           [&](const auto& k) { return k.first == t.type(); });
    if (it == kinds.end())
      kinds.emplace_back(t.type(), 1);
    else
      ++it->second;
  }
  if (!kinds.empty()) out += '\n';
  for (const auto& [type, n] : kinds) out += type + " Tunnels: " + std::to_string(n) + '\n';
  for (const auto& t : s.tunnels()) {
    out += '\n';
    tunnel_block(out, s, t);
  }
}

}  // namespace

std::string format_duration(long long seconds) {
  seconds = std::max(0LL, seconds);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%lldh:%02lldm:%02llds", seconds / 3600, seconds / 60 % 60,
                seconds % 60);
  return buf;
}

std::string format_login_time(long long unix_seconds) {
  if (unix_seconds == 0) return "-";
  static constexpr std::array<const char*, 7> kDays = {"Sun", "Mon", "Tue", "Wed",
                                                       "Thu", "Fri", "Sat"};
  static constexpr std::array<const char*, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  if (::gmtime_r(&t, &tm) == nullptr) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%02d:%02d:%02d UTC %s %s %d %d", tm.tm_hour, tm.tm_min, tm.tm_sec,
                kDays[static_cast<std::size_t>(tm.tm_wday)],
                kMonths[static_cast<std::size_t>(tm.tm_mon)], tm.tm_mday, tm.tm_year + 1900);
  return buf;
}

std::string format_sessions_brief(const proto::ShowSessionsReply& reply) {
  if (reply.sessions().empty()) return "no sessions\n";
  using Row = std::array<std::string, 10>;
  std::vector<Row> rows;
  rows.push_back({"Index", "Username", "Assigned IP", "Public IP", "Protocol", "Bytes Tx/Rx",
                  "Login Time", "Duration", "Inactivity", "State"});
  for (const auto& s : reply.sessions()) {
    rows.push_back({num(s.index()), s.username(), or_dash(s.assigned_ip()), or_dash(s.public_ip()),
                    short_protocols(s), num(s.bytes_tx()) + "/" + num(s.bytes_rx()),
                    format_login_time(s.login_time_unix()), format_duration(s.duration_s()),
                    format_duration(s.inactivity_s()), or_dash(s.state())});
  }
  Row::size_type columns = rows.front().size();
  std::vector<std::size_t> width(columns, 0);
  for (const Row& r : rows)
    for (std::size_t c = 0; c < columns; ++c) width[c] = std::max(width[c], r[c].size());
  std::string out;
  for (const Row& r : rows) {
    std::string text;
    for (std::size_t c = 0; c < columns; ++c) {
      text += r[c];
      if (c + 1 < columns) pad_to(text, text.size() + width[c] - r[c].size() + 2);
    }
    out += text + '\n';
  }
  return out;
}

std::string format_sessions_detail(const proto::ShowSessionsReply& reply) {
  if (reply.sessions().empty()) return "no sessions\n";
  std::string out = "Session Type: AnyConnect Detailed\n";
  for (const auto& s : reply.sessions()) {
    out += '\n';
    session_block(out, s);
  }
  return out;
}

namespace {

std::string sessions_count(std::uint64_t n) { return num(n) + (n == 1 ? " session" : " sessions"); }

// Without an arbiter, nothing outside the pair decides which node serves: the operator must
// know what a cut link between the nodes does (docs/arbiter.md).
std::string arbiter_text(const proto::StatusReply& r) {
  if (!r.arbiter()) {
    if (r.peer_state() == "none") return "none (a single node: nothing to arbitrate)";
    return "none: the pair runs on heartbeats alone; a cut link between the nodes gives two "
           "actives";
  }
  std::string endpoints;
  for (const auto& e : r.arbiter_endpoints()) endpoints += (endpoints.empty() ? "" : ", ") + e;
  return "etcd " + endpoints + (r.arbiter_reachable() ? " (reachable)" : " (unreachable)");
}

std::string active_key_text(const proto::StatusReply& r) {
  if (!r.holding_key()) return "not held by this node";
  std::string out = "held by this node";
  if (r.role() == "active")
    out += ", " + num(r.serving_left_ms()) + " ms of serving left without etcd";
  return out;
}

std::string draining_text(const proto::StatusReply& r) {
  if (!r.draining()) return "no";
  if (r.arbiter()) return "yes: new logins refused, directors send no new clients; sessions stay";
  return "yes: new logins refused; sessions stay (no [member]: no director sees it)";
}

}  // namespace

std::string format_status(const proto::StatusReply& r) {
  std::string out;
  constexpr std::string_view in;
  line(out, in, "Node", r.node_id() + " (tandem " + r.version() + ")");
  line(out, in, "Role", r.role() + ", epoch " + num(r.epoch()));
  line(out, in, "Peer", r.peer_state());
  if (r.peer_state() != "none") {
    line(out, in, "Repl. lag",
         num(r.replication_lag_seq()) + " records, " + num(r.replication_lag_ms()) + " ms");
  }
  line(out, in, "Degraded", r.degraded() ? "yes" : "no");
  line(out, in, "Listen",
       r.listen() + (r.accepting_logins() ? ", accepting logins" : ", not accepting logins"));
  if (!r.member_id().empty()) line(out, in, "Member", r.member_id());
  line(out, in, "Arbiter", arbiter_text(r));
  if (r.arbiter()) line(out, in, "Active key", active_key_text(r));
  line(out, in, "Draining", draining_text(r));
  line(out, in, "Uptime", format_duration(r.uptime_s()));
  line(out, in, "Sessions",
       num(r.sessions()) + " (" + num(r.sessions_active()) + " active, " +
           num(r.sessions_inactive()) + " waiting to resume)");
  line(out, in, "Max sessions",
       r.session_limit() == 0
           ? std::string("none")
           : num(r.session_limit()) + " (" +
                 (r.session_limit_from() == "memory" ? "from memory" : "configured") + ")");
  line(out, in, "Tunnels", num(r.tunnels_ssl()) + " SSL, " + num(r.tunnels_dtls()) + " DTLS");
  line(out, in, "Address pool",
       r.pool() + ", " + num(r.pool_in_use()) + " of " + num(r.pool_capacity()) + " in use");
  if (!r.pool6().empty())
    line(out, in, "IPv6 pool", r.pool6() + ", " + num(r.pool6_in_use()) + " in use");
  return out;
}

std::string format_drain(const proto::DrainReply& r) {
  const std::string who = r.member_id().empty() ? "node" : "member " + r.member_id();
  if (!r.draining()) {
    if (!r.changed()) return who + " was not draining: nothing changed\n";
    return who + " undrained: new logins are taken again" +
           (r.arbiter() ? ", directors may send new clients" : "") + "\n";
  }
  std::string out = who + (r.changed() ? " draining: " : " was already draining: ");
  out += r.arbiter() ? "directors send no new clients and new logins are refused"
                     : "new logins are refused (no [member]: no director sees it)";
  out += "; " + sessions_count(r.sessions()) + (r.sessions() == 1 ? " stays" : " stay");
  if (r.role() == "standby") out += "; this node is the standby: it applies once it is active";
  return out + "; until undrain or a restart of tandemd\n";
}

std::string format_logoff(const proto::LogoffReply& reply) {
  std::string out = "logged off " + std::to_string(reply.logged_off_size()) + " session(s)";
  for (int i = 0; i < reply.logged_off_size(); ++i)
    out += (i == 0 ? ": " : ", ") + num(reply.logged_off(i));
  if (reply.unconfirmed() > 0)
    out += "\nwarning: the standby did not confirm " + std::to_string(reply.unconfirmed()) +
           " of these removals: a failover now could bring those sessions back";
  return out + '\n';
}

Result<std::string> to_json(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string out;
  auto status = google::protobuf::util::MessageToJsonString(message, &out, options);
  if (!status.ok()) return fail("cannot write JSON: " + status.ToString());
  return out + '\n';
}

}  // namespace tandem::admin
