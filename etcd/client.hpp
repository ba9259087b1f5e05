#pragma once
// A small etcd v3 client: leases, transactions, reads and prefix watches, over the gRPC API
// generated from the rpc.proto that Debian ships. No gRPC header leaks from here.
//
// Threading: every callback runs through the `Post` given at creation (the owner's executor),
// never on a gRPC thread and never inside the call that started the request. Each request has a
// deadline (`request_timeout`); a request that fails on one endpoint is not retried on another
// (the caller decides, with the error code), but the next request goes to the next endpoint.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/result.hpp"

namespace tandem::etcd {

using LeaseId = std::int64_t;
using Revision = std::int64_t;
using Post = std::function<void(std::function<void()>)>;

// One endpoint as configured, "http://H:P" or "https://H:P" (trailing slashes allowed): whether
// it speaks TLS, and its "H:P". An error for anything else. Pure.
struct EndpointUrl {
  bool tls = false;
  std::string target;
};
Result<EndpointUrl> parse_endpoint_url(std::string_view url);

struct ClientSettings {
  std::vector<std::string> endpoints;  // "http://H:P" or "https://H:P"
  // For https endpoints: PEM files (CA of the etcd servers; client certificate and key if the
  // servers ask for one).
  std::string ca, certificate, private_key;
  std::chrono::milliseconds request_timeout{1000};
};

struct KeyValue {
  std::string key, value;
  Revision create_revision = 0, mod_revision = 0;
  std::int64_t version = 0;
  LeaseId lease = 0;
};

// --- transactions: If(all compares) Then(success ops) Else(failure ops) -----------------------
struct Compare {
  enum class Target { version, create_revision, mod_revision, value, lease };
  enum class Op { equal, not_equal, greater, less };
  std::string key;
  Target target = Target::create_revision;
  Op op = Op::equal;
  std::int64_t number = 0;  // for version, create_revision, mod_revision, lease
  std::string text;         // for value
};
struct Put {
  std::string key, value;
  LeaseId lease = 0;
};
struct Delete {
  std::string key;
};
struct Get {
  std::string key;
};
using Operation = std::variant<Put, Delete, Get>;
struct Txn {
  std::vector<Compare> compares;
  std::vector<Operation> success, failure;
};
struct TxnResult {
  bool succeeded = false;
  Revision revision = 0;  // the store's revision after the transaction (header)
  // One entry per operation of the branch that ran: for a Get, the key-values found (0 or 1);
  // for Put and Delete, empty.
  std::vector<std::vector<KeyValue>> responses;
};

struct Range {
  std::vector<KeyValue> kvs;
  Revision revision = 0;  // the store's revision the read saw: watch from revision + 1
};

struct WatchEvent {
  enum class Kind { put, remove };
  Kind kind = Kind::put;
  KeyValue kv;  // for remove: key and mod_revision only
};

// Alive while held; destroying it cancels the watch (no callback runs after the destructor).
class Watch {
 public:
  virtual ~Watch() = default;
};

class Client {
 public:
  static Result<std::unique_ptr<Client>> create(ClientSettings settings, Post post);
  virtual ~Client() = default;

  virtual void grant(std::chrono::seconds ttl, std::function<void(Result<LeaseId>)> done) = 0;
  // One keep-alive round trip (on a long-lived LeaseKeepAlive stream). Answers the TTL left as
  // etcd reports it; a lease that no longer exists answers Errc::not_found.
  virtual void keep_alive(LeaseId lease,
                          std::function<void(Result<std::chrono::seconds>)> done) = 0;
  virtual void revoke(LeaseId lease, std::function<void(Result<void>)> done) = 0;

  virtual void txn(Txn txn, std::function<void(Result<TxnResult>)> done) = 0;
  virtual void put(Put put, std::function<void(Result<Revision>)> done) = 0;
  virtual void get(std::string key, std::function<void(Result<std::optional<KeyValue>>)> done) = 0;
  virtual void get_prefix(std::string prefix, std::function<void(Result<Range>)> done) = 0;
  virtual void remove(std::string key, std::function<void(Result<void>)> done) = 0;

  // Events on keys under `prefix` from `start_revision` on, in order, in batches. `on_end` runs
  // once if the watch ends by itself (stream broken, etcd gone, revision compacted): the owner
  // reads again (get_prefix) and watches anew from the revision that read saw.
  virtual std::unique_ptr<Watch> watch_prefix(
      std::string prefix, Revision start_revision,
      std::function<void(std::vector<WatchEvent>)> on_events,
      std::function<void(Error)> on_end) = 0;
};

}  // namespace tandem::etcd
