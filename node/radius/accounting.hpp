#pragma once
// The node's RADIUS accounting: the one owner of the durable queue. Session events become
// records (accounting_record.hpp), records are queued on disk, and the queue is drained in
// order, one record in flight, each retried with backoff until a server acknowledges it
// (docs/radius-accounting.md). Runs on the node's I/O thread; the sender does the blocking
// RADIUS exchange elsewhere and answers on this thread.
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/clock.hpp"
#include "node/radius/accounting_queue.hpp"
#include "node/radius/accounting_record.hpp"

namespace tandem::radius {

// Sends one Accounting-Request and tells whether a server answered with an
// Accounting-Response. `done` runs on the node's I/O thread.
class AccountingSender {
 public:
  virtual ~AccountingSender() = default;
  using Done = std::function<void(bool acknowledged, std::string why)>;
  virtual void send(std::vector<Attribute> attributes, Done done) = 0;
};

struct AccountingStats {
  std::uint64_t queued = 0;   // gauge: records on disk, waiting for a server
  std::uint64_t sent = 0;     // acknowledged by a server
  std::uint64_t failed = 0;   // tries no server acknowledged (each retried later)
  std::uint64_t dropped = 0;  // never queued: the queue was full or its disk refused the write
};

// What the records say about this node, and how often Interim-Updates go.
struct AccountingPolicy {
  std::string nas_identifier;
  Duration interim_interval = std::chrono::seconds(300);  // 0 = no Interim-Updates
};

class Accounting {
 public:
  Accounting(boost::asio::io_context& io, AccountingPolicy policy,
             std::unique_ptr<AccountingQueue> queue, std::unique_ptr<AccountingSender> sender);
  const AccountingPolicy& policy() const { return policy_; }
  ~Accounting();

  // Queues the record on disk and starts sending if idle. False when it could not be queued
  // (full queue, disk error): logged and counted; the session goes on regardless.
  bool enqueue(const proto::AccountingRecord& record);
  AccountingStats stats() const;

 private:
  void pump();
  void on_sent(std::uint64_t key, bool acknowledged, const std::string& why);

  boost::asio::io_context& io_;
  AccountingPolicy policy_;
  std::unique_ptr<AccountingQueue> queue_;
  std::unique_ptr<AccountingSender> sender_;
  boost::asio::steady_timer retry_timer_;
  bool in_flight_ = false;
  bool backing_off_ = false;
  unsigned failures_ = 0;  // consecutive, for the backoff
  AccountingStats stats_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace tandem::radius
