#pragma once
// The session table: the one owner of sessions, their tokens and their addresses.
// No I/O: transports are reached through the Transport interface, time through the Clock.
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/clock.hpp"
#include "base/log_limiter.hpp"
#include "base/replication_port.hpp"
#include "base/result.hpp"
#include "node/config/config.hpp"
#include "node/session/address_pool.hpp"
#include "node/session/address_pool6.hpp"
#include "node/session/session.hpp"

namespace tandem::session {

struct NewSession {
  std::string user;
  std::string tunnel_group;
  std::string policy;
  std::string public_ip;
  std::uint16_t public_port = 0;
  std::string client_type;
  int simultaneous_logins = 0;  // 0 = unlimited (S14)
  auth::AuthMethod auth_method = auth::AuthMethod::password;
  // A RADIUS login's grant (Session's fields of the same names; docs/radius.md).
  std::optional<std::uint32_t> ip;  // Framed-IP-Address: this address or no session
  std::string radius_class;
  std::string policy_override;
  Duration session_timeout_override{0};
  Duration idle_timeout_override{0};
  std::uint64_t max_sessions = 0;  // the node's session limit; 0 = none (docs/limits.md)
  std::string client_os;           // header or device-id, http::is_platform_name, or empty
  bool accounted = false;          // RADIUS accounting is on: the session is owed a Start
};

class SessionTable;

// A live session as the rest of the node holds it: reads through it, writes only through the
// table's methods (only the table reaches the mutable Session), so each invariant on a session's
// fields (counters mark it changed, an attach resets the timers …) is kept in one place. As
// cheap as the pointer it wraps; valid until the table ends or drops the session, which closes
// every transport first (a tunnel lets go of its SessionRef in close()).
class SessionRef {
 public:
  SessionRef() = default;
  const Session* operator->() const { return s_; }
  const Session& operator*() const { return *s_; }
  const Session* get() const { return s_; }
  explicit operator bool() const { return s_ != nullptr; }
  friend bool operator==(SessionRef a, SessionRef b) { return a.s_ == b.s_; }
  friend bool operator==(SessionRef a, std::nullptr_t) { return a.s_ == nullptr; }

 private:
  friend class SessionTable;
  explicit SessionRef(Session* s) : s_(s) {}
  Session* s_ = nullptr;
};

struct Created {
  SessionRef session;
  std::string token;  // the only time the token text exists on the headend
};

// Why a presented token was refused (for the log; the client just gets 401).
enum class TokenRefusal { none, malformed, unknown_session, wrong_secret };
const char* to_string(TokenRefusal r);

class SessionTable {
 public:
  // With `pool6`, every new session gets an IPv6 address too (docs/ipv6.md).
  SessionTable(AddressPool pool, const Clock& clock,
               std::optional<AddressPool6> pool6 = std::nullopt);

  // Authenticated login: allocates an index, an address and a token. With a simultaneous-
  // logins limit, the user's oldest sessions beyond it are ended first (S14).
  Result<Created> create(const NewSession& request);

  // S9/S12: a resume re-checks only the token and that the session is alive.
  SessionRef find_by_token(std::string_view token, TokenRefusal& why);
  SessionRef find(std::uint64_t index);
  SessionRef find_by_ip(std::uint32_t ip);
  SessionRef find_by_ip6(const net::Ipv6Addr& ip6);

  // S11: attaching a new SSL tunnel replaces (closes) any old one still attached, resets the
  // inactivity clock and records where the client is now. True when it is a resume (the
  // session had an SSL tunnel before), which it counts.
  bool attach_ssl(SessionRef s, std::shared_ptr<Transport> transport, TunnelInfo info);
  // The session as it will be once `info`'s SSL tunnel is attached: what a resume replicates
  // before the client hears it worked.
  Session with_ssl(SessionRef s, const TunnelInfo& info) const;
  // The transport went away on its own: the session waits to resume (S5). Ignored when
  // `transport` is no longer the session's current SSL tunnel (it was replaced).
  void detach_ssl(SessionRef s, const Transport* transport, EndReason reason);

  // The DTLS tunnel (<index>.3) belongs to the SSL tunnel whose TLS connection exported its key:
  // it is replaced with it and goes down with it.
  void attach_dtls(SessionRef s, std::shared_ptr<Transport> transport, TunnelInfo info);
  void detach_dtls(SessionRef s, const Transport* transport, EndReason reason);
  // The client's NAT moved the DTLS tunnel's flow to a new public address/port (S11: the
  // session shows where the client is now).
  void dtls_peer_moved(SessionRef s, const Transport* transport, std::string public_ip,
                       std::uint16_t public_port);

  // The data path, per frame and per packet: no allocation, no lookup.
  // Any frame from the client proves the tunnel alive (DPD, S3).
  void frame_from_client(SessionRef s, Carrier c);
  // A packet from the client went inside. Call after frame_from_client for the frame that
  // carried it: that frame's time is the activity time (S4, data, not keepalives). The
  // downstream follows the carrier the client's data uses (downstream.hpp).
  void data_from_client(SessionRef s, Carrier c, std::size_t bytes);
  // The socket refused a datagram of `transport`, the session's DTLS tunnel: the downstream
  // moves to CSTP until the client's next DTLS data record. Ignored for a replaced tunnel.
  void dtls_send_failed(SessionRef s, const Transport* transport);
  // A packet went out to the client over `c`.
  void data_to_client(SessionRef s, Carrier c, std::size_t bytes);
  // A packet from the client refused inside (policy, full device); one for the client dropped
  // (full queue, or no tunnel while it waits to resume).
  void dropped_from_client(SessionRef s);
  void dropped_to_client(SessionRef s);

  // The session's compiled traffic policy, looked up on its first packet; a reload forgets them
  // all so that live sessions follow the new policy.
  void cache_traffic_policy(SessionRef s, std::shared_ptr<const TrafficPolicy> policy);
  void forget_traffic_policies();

  // Apply the policy timers (S3-S8) to every session; `policy_of` gives a session's policy.
  using PolicyLookup = std::function<const config::Policy&(const Session&)>;
  void run_timers(const PolicyLookup& policy_of);

  struct TimerStats {
    std::uint64_t dpd_ssl = 0, dpd_dtls = 0, idle = 0, dtls_idle = 0, disconnected = 0,
                  session_timeout = 0;
  };
  const TimerStats& timer_stats() const { return timer_stats_; }
  // Downstream carrier switches by cause, for the metrics.
  const CarrierSwitches& carrier_switches() const { return carrier_switches_; }

  // What ended sessions leave behind, so traffic totals do not fall when a session goes.
  struct EndStats {
    std::array<std::uint64_t, kAllEndReasons.size()> by_reason{};  // indexed by EndReason
    Counters traffic;
  };
  const EndStats& end_stats() const { return end_stats_; }

  // End the session: close its tunnels (telling the client when `notify_client`), revoke the
  // token and free the address (S15). `persisted`, when given, is answered once the removal is
  // on disk (and on the standby, when one follows), on this thread; at once with local_only
  // when nothing replicates.
  void end(std::uint64_t index, EndReason reason, bool notify_client,
           ReplicationSink::Acked persisted = nullptr);

  // RADIUS accounting (docs/radius-accounting.md): the counters an accounting record reported
  // (the session's floor from now on, replicated with it) and when its next Interim is due.
  void accounted(SessionRef s, const Counters& reported, std::optional<TimePoint> next_interim);
  // Its Start was handed to this node's accounting queue; then, once written there, no longer
  // owed (replicated with the next flush).
  void acct_start_asked(SessionRef s);
  void acct_start_written(SessionRef s);
  // Told of every session end on this node, before the session is gone (accounting's Stop).
  // Not told of a mirror the active removed (drop_replica).
  using EndObserver = std::function<void(const Session&, EndReason)>;
  void set_end_observer(EndObserver observer) { end_observer_ = std::move(observer); }

  // Replication: removals go to the sink as they happen; creations and resumes are sent by the
  // caller, who waits for the acknowledgement before answering the client.
  void set_sink(ReplicationSink* sink) { sink_ = sink; }
  ReplicationSink* sink() const { return sink_; }
  // A whole record of the session is being sent now: nothing is pending for it.
  void mark_sent(SessionRef s);
  // Hands `send` every session changed (counters, tunnels) since it was last sent, and marks
  // each sent: the periodic flush to the standby.
  void take_changed(const std::function<void(const Session&)>& send);

  // A session from the store or the active's stream: it exists, waits to resume, and holds its
  // address. Replaces a session with the same index (the standby's mirror is kept current).
  void restore(Session s);
  // The active removed it: drop the mirror quietly (no client to tell, nothing to replicate).
  void drop_replica(std::uint64_t index);
  // Drops a session that was never recorded (its creation failed to persist): nothing is
  // replicated, the address goes back to the pool.
  void forget(std::uint64_t index) { drop_replica(index); }
  void drop_all_replicas();
  // Close every transport without ending sessions (this node stops serving).
  void drop_transports(EndReason reason);
  // After a promotion: every session waits to resume from now on (S17).
  void start_waiting_all();
  // New indexes continue after every index the member ever used.
  void raise_next_index(std::uint64_t next);

  std::size_t size() const { return sessions_.size(); }
  const AddressPool& pool() const { return pool_; }
  const std::optional<AddressPool6>& pool6() const { return pool6_; }
  void for_each(const std::function<void(const Session&)>& fn) const;

 private:
  AddressPool pool_;
  const Clock& clock_;
  std::optional<AddressPool6> pool6_;
  // Leases and indexes the session's IPv6 address; false (nothing changed) when it is taken or
  // outside the pool.
  bool claim_ip6(Session& s);
  void release_ip6(const Session& s);
  static TunnelInfo& tunnel(Session& s, Carrier c) {
    return c == Carrier::ssl ? s.ssl_info : s.dtls_info;
  }
  static void apply_ssl(Session& s, TunnelInfo info, TimePoint now);
  void close_dtls(Session& s, EndReason reason);
  // Applies next_downstream; a change is counted and logged (rate-limited across sessions).
  void follow_client(Session& s, CarrierEvent e);
  void apply_timers(Session& s, const config::Policy& policy);

  ReplicationSink* sink_ = nullptr;
  EndObserver end_observer_;
  std::uint64_t next_index_ = 1;
  TimerStats timer_stats_;
  CarrierSwitches carrier_switches_{};
  // A client whose oversized packets alternate carriers could switch on every packet.
  log::LogLimiter carrier_log_{20, std::chrono::seconds(1)};
  EndStats end_stats_;
  std::map<std::uint64_t, std::unique_ptr<Session>> sessions_;  // by index, oldest first
  std::unordered_map<std::uint32_t, Session*> by_ip_;
  struct Ipv6Hash {
    std::size_t operator()(const net::Ipv6Addr& a) const noexcept {
      return std::hash<std::uint64_t>()(net::low64(a) ^ (std::uint64_t{a[7]} << 56));
    }
  };
  std::unordered_map<net::Ipv6Addr, Session*, Ipv6Hash> by_ip6_;
};

}  // namespace tandem::session
