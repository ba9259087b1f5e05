#pragma once
// The session table: the one owner of sessions, their tokens and their addresses.
// No I/O: transports are reached through the Transport interface, time through the Clock.
#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "node/common/clock.hpp"
#include "node/common/result.hpp"
#include "node/config/config.hpp"
#include "node/session/address_pool.hpp"
#include "node/session/replication_sink.hpp"
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
};

struct Created {
  Session* session;
  std::string token;  // the only time the token text exists on the headend
};

// Why a presented token was refused (for the log; the client just gets 401).
enum class TokenRefusal { none, malformed, unknown_session, wrong_secret };
const char* to_string(TokenRefusal r);

class SessionTable {
 public:
  SessionTable(AddressPool pool, const Clock& clock);

  // Authenticated login: allocates an index, an address and a token. With a simultaneous-
  // logins limit, the user's oldest sessions beyond it are ended first (S14).
  Result<Created> create(const NewSession& request);

  // S9/S12: a resume re-checks only the token and that the session is alive.
  Session* find_by_token(std::string_view token, TokenRefusal& why);
  Session* find(std::uint64_t index);
  Session* find_by_ip(std::uint32_t ip);

  // S11: attaching a new SSL tunnel replaces (closes) any old one still attached, resets the
  // inactivity clock and records where the client is now.
  void attach_ssl(Session& s, std::shared_ptr<Transport> transport, TunnelInfo info);
  // The transport went away on its own: the session waits to resume (S5). Ignored when
  // `transport` is no longer the session's current SSL tunnel (it was replaced).
  void detach_ssl(Session& s, const Transport* transport, EndReason reason);

  // The DTLS tunnel (<index>.3) belongs to the SSL tunnel whose TLS connection exported its key:
  // it is replaced with it and goes down with it.
  void attach_dtls(Session& s, std::shared_ptr<Transport> transport, TunnelInfo info);
  void detach_dtls(Session& s, const Transport* transport, EndReason reason);

  // Apply the policy timers (S3-S8) to every session; `policy_of` gives a session's policy.
  using PolicyLookup = std::function<const config::Policy&(const Session&)>;
  void run_timers(const PolicyLookup& policy_of);

  struct TimerStats {
    std::uint64_t dpd_ssl = 0, dpd_dtls = 0, idle = 0, dtls_idle = 0, disconnected = 0,
                  session_timeout = 0;
  };
  const TimerStats& timer_stats() const { return timer_stats_; }

  // What ended sessions leave behind, so traffic totals do not fall when a session goes.
  struct EndStats {
    std::array<std::uint64_t, kAllEndReasons.size()> by_reason{};  // indexed by EndReason
    Counters traffic;
  };
  const EndStats& end_stats() const { return end_stats_; }

  // End the session: close its tunnels (telling the client when `notify_client`), revoke the
  // token and free the address (S15).
  void end(std::uint64_t index, EndReason reason, bool notify_client);

  // Replication: removals go to the sink as they happen; creations and resumes are sent by the
  // caller, who waits for the acknowledgement before answering the client.
  void set_sink(ReplicationSink* sink) { sink_ = sink; }
  ReplicationSink* sink() const { return sink_; }

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
  void for_each(const std::function<void(Session&)>& fn);

 private:
  AddressPool pool_;
  const Clock& clock_;
  void close_dtls(Session& s, EndReason reason);
  void apply_timers(Session& s, const config::Policy& policy);

  ReplicationSink* sink_ = nullptr;
  std::uint64_t next_index_ = 1;
  TimerStats timer_stats_;
  EndStats end_stats_;
  std::map<std::uint64_t, std::unique_ptr<Session>> sessions_;  // by index, oldest first
  std::unordered_map<std::uint32_t, Session*> by_ip_;
};

}  // namespace tandem::session
