#include "replication/member_publisher.hpp"

#include <google/protobuf/util/json_util.h>

#include <algorithm>

#include "base/log.hpp"
#include "proto/member.pb.h"
#include "replication/arbiter.hpp"

namespace tandem::replication {
namespace {

constexpr Duration kRefresh{1000};

}  // namespace

std::uint64_t published_capacity(std::uint64_t configured, std::uint64_t session_limit) {
  return session_limit > 0 ? std::min(configured, session_limit) : configured;
}

MemberPublisher::MemberPublisher(const Settings& config, Arbiter& arbiter)
    : config_(config), arbiter_(arbiter) {}

void MemberPublisher::tick(TimePoint now, const CoreStatus& status, const MemberLoad& load) {
  if (in_flight_) return;
  const bool serving = status.role == Role::active && status.holding_key && arbiter_.lease() != 0;
  if (!serving) {
    if (published_) withdraw();
    return;
  }
  if (load.draining != last_draining_ || now >= next_) publish(now, status, load);
}

void MemberPublisher::publish(TimePoint now, const CoreStatus& status, const MemberLoad& load) {
  proto::MemberRecord r;
  r.set_id(config_.member.id);
  r.set_url(config_.member.url);
  r.set_sessions(load.sessions);
  r.set_capacity(
      published_capacity(static_cast<std::uint64_t>(config_.member.capacity), load.session_limit));
  r.set_draining(load.draining);
  r.set_degraded(status.degraded);
  r.set_version(TANDEM_VERSION);
  r.set_node_id(config_.node_id);
  r.set_updated_unix_ms(static_cast<std::uint64_t>(wall_seconds()) * 1000);
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  (void)google::protobuf::util::MessageToJsonString(r, &json, options);
  in_flight_ = true;
  last_draining_ = load.draining;
  next_ = now + kRefresh;
  const std::int64_t lease = arbiter_.lease();
  arbiter_.client().put({record_key(config_.member.id), json, lease},
                        [this, lease](Result<etcd::Revision> rev) {
                          in_flight_ = false;
                          if (!rev) return;  // the arbiter logs etcd's trouble
                          if (!published_) log::info("member_published", {{"member", config_.member.id}});
                          published_ = true;
                          published_lease_ = lease;
                        });
}

void MemberPublisher::withdraw() {
  etcd::Txn txn;
  const std::string key = record_key(config_.member.id);
  txn.compares.push_back(
      {key, etcd::Compare::Target::lease, etcd::Compare::Op::equal, published_lease_, {}});
  txn.success.emplace_back(etcd::Delete{key});
  in_flight_ = true;
  arbiter_.client().txn(std::move(txn), [this](Result<etcd::TxnResult> r) {
    in_flight_ = false;
    if (!r) return;  // retried on the next tick
    published_ = false;
    log::info("member_withdrawn", {{"member", config_.member.id},
                                   {"deleted", r->succeeded ? "yes" : "not ours any more"}});
  });
}

}  // namespace tandem::replication
