#pragma once
// The node's RADIUS accounting: the one owner of the durable queue. Session events become
// records (accounting_record.hpp), records are queued on disk, and the queue is drained in
// order, one record in flight, each retried with backoff until a server acknowledges it
// (docs/radius-accounting.md). Runs on the node's I/O thread; the synced disk writes run on a
// thread of their own (several records share one sync), and the sender does the blocking RADIUS
// exchange elsewhere; both answer on the I/O thread.
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
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
  std::uint64_t queued = 0;       // gauge: records on disk (or being written), waiting for a server
  std::uint64_t sent = 0;         // acknowledged by a server
  std::uint64_t failed = 0;       // tries no server acknowledged (each retried later)
  std::uint64_t dropped = 0;      // never queued: the queue was full or its disk refused the write
  std::uint64_t disk_writes = 0;  // synced writes to the queue (each carries one or more records)
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

  // Queues the record: it is written to disk (synced) off this thread, then sent, in order. False
  // when the queue is full; a disk that refuses the write is found later. Either is logged and
  // counted; the session goes on regardless. `on_disk`, if given, runs on this thread once the
  // record is written (never if it could not be).
  using OnDisk = std::function<void()>;
  bool enqueue(const proto::AccountingRecord& record, OnDisk on_disk = {});
  // At a clean stop, once the I/O thread has stopped: the writer thread ends, then what still
  // waits (records, removals) is written here. The destructor does it too, once.
  void stop();
  AccountingStats stats() const;

 private:
  void pump();
  void on_sent(std::uint64_t key, bool acknowledged, const std::string& why);
  void write_next();
  void on_written(const AccountingQueue::Batch& batch, bool ok);
  void dropped(const proto::AccountingRecord& record, const std::string& why);

  boost::asio::io_context& io_;
  AccountingPolicy policy_;
  std::unique_ptr<AccountingQueue> queue_;
  std::unique_ptr<AccountingSender> sender_;
  boost::asio::steady_timer retry_timer_;
  std::vector<AccountingQueue::Reserved> unwritten_;  // reserved, waiting for the next write
  std::vector<OnDisk> unwritten_on_disk_;             // theirs, in the same order
  std::vector<OnDisk> writing_on_disk_;               // those of the write under way
  bool writing_ = false;                              // a write is on the writer thread
  bool stopped_ = false;
  boost::asio::thread_pool writer_{1};
  bool in_flight_ = false;
  bool backing_off_ = false;
  unsigned failures_ = 0;  // consecutive, for the backoff
  AccountingStats stats_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace tandem::radius
