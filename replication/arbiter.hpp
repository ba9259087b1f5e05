#pragma once
// The arbiter's runtime (docs/arbiter.md): this node's lease in etcd, kept alive every third of
// its TTL, and the campaigns for the member's key /tandem/member/<id>/active that the core asks
// for. Runs on the replication executor; the decisions (when to campaign, when to stop serving)
// are the core's, this class only talks to etcd and reports back.
#include <cstdint>
#include <future>
#include <memory>
#include <string>

#include "base/clock.hpp"
#include "etcd/client.hpp"
#include "replication/settings.hpp"

namespace tandem::replication {

class ReplicationCore;

std::string active_key(const std::string& member_id);  // /tandem/member/<id>/active
std::string record_key(const std::string& member_id);  // /tandem/member/<id>/record

class Arbiter {
 public:
  // `post` runs work on the replication executor; the core and clock outlive this object.
  static Result<std::unique_ptr<Arbiter>> create(const Settings& config, etcd::Post post,
                                                 ReplicationCore& core, const Clock& clock);
  ~Arbiter();

  void tick(TimePoint now);  // grants a lease when there is none; keeps it alive
  void campaign();           // answer: core.on_campaign_result
  void resign();             // answer: core.on_resigned
  // Stopping: the lease is revoked (the key and the member record go with it, so the peer can
  // take over at once). The future is ready when etcd answered; the executor must keep running.
  std::future<void> revoke_for_shutdown();

  etcd::Client& client() { return *client_; }
  etcd::LeaseId lease() const { return lease_; }
  bool reachable() const { return reachable_; }   // the last request to etcd succeeded
  Duration ttl() const { return ttl_; }

 private:
  Arbiter(const Settings& config, std::unique_ptr<etcd::Client> client, ReplicationCore& core,
          const Clock& clock);
  void grant(TimePoint now);
  void keep_alive(TimePoint now);
  void run_campaign();
  void note(const Error& e, const char* what);  // logged once per distinct failure

  const std::string node_id_;
  const std::string key_;
  const Duration ttl_;
  const Duration margin_;  // taken off every lease deadline: clock drift, etcd's own delay
  std::unique_ptr<etcd::Client> client_;
  ReplicationCore& core_;
  const Clock& clock_;

  etcd::LeaseId lease_ = 0;
  bool granting_ = false;
  TimePoint next_grant_{};
  bool renewing_ = false;
  TimePoint last_renewal_asked_{};
  bool campaign_waiting_ = false;  // asked while there was no lease
  bool reachable_ = false;
  std::string last_failure_;
};

}  // namespace tandem::replication
