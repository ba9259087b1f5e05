#pragma once
// The durable accounting queue: each record is on disk (RocksDB, synced) before it is sent and
// leaves only when a server acknowledged it, so a RADIUS server that is down, or a node that
// restarts, loses none. In order: one queue per node, oldest first (docs/radius-accounting.md).
// Local to the node (never replicated); the Accounting class is its one owner.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "base/result.hpp"
#include "proto/accounting.pb.h"

namespace rocksdb {
class DB;
}

namespace tandem::radius {

class AccountingQueue {
 public:
  // `dir` is made if missing; `max_records` bounds the queue (a push beyond it is refused).
  static Result<std::unique_ptr<AccountingQueue>> open(const std::string& dir,
                                                       std::size_t max_records);
  ~AccountingQueue();
  AccountingQueue(const AccountingQueue&) = delete;
  AccountingQueue& operator=(const AccountingQueue&) = delete;

  enum class Push : std::uint8_t { queued, full, failed };
  // One record on its way to disk: its place in the queue (key) and its bytes.
  struct Reserved {
    std::uint64_t key = 0;
    std::string value;
  };
  // What one write carries: records to add (the write is then synced) and rows to remove.
  struct Batch {
    std::vector<Reserved> records;
    std::vector<std::string> removed;  // row keys
    bool empty() const { return records.empty() && removed.empty(); }
  };
  // The node's I/O thread must never wait for the disk, so each change is made in three steps:
  // on the owner's thread, reserve a record's place (in order, or say why not) or pop a row;
  // `write` a batch of them on any thread (one sync for all its records; it touches only the
  // database); then `written` on the owner's thread. A reserved record counts against the
  // bound, and front() shows it only once written; a popped row is gone from front() at once.
  Push reserve(const proto::AccountingRecord& record, Reserved& out);
  Result<void> write(const Batch& batch);
  void written(const Batch& batch, bool ok);
  // The rows popped (or found unreadable) since the last call: for the next write.
  std::vector<std::string> take_removed() { return std::exchange(removed_, {}); }
  // All three at once (tests).
  Push push(const proto::AccountingRecord& record);

  struct Entry {
    std::uint64_t key = 0;
    proto::AccountingRecord record;
  };
  // The oldest record written. A row that does not parse is dropped on the way (logged).
  std::optional<Entry> front();
  // The server acknowledged it (or it is given up): removed for good.
  void pop(std::uint64_t key);

  std::size_t size() const { return size_; }          // written
  std::size_t reserved() const { return reserved_; }  // on their way there
  std::size_t capacity() const { return max_; }

 private:
  AccountingQueue(std::unique_ptr<rocksdb::DB> db, std::size_t max_records);
  std::unique_ptr<rocksdb::DB> db_;
  std::size_t max_;
  std::size_t size_ = 0;
  std::size_t reserved_ = 0;
  std::uint64_t next_key_ = 1;
  // front() looks from first_key_ (no row below it is still queued: not past every removed
  // row) up to written_end_ (keys from there on are not known to be written yet).
  std::uint64_t first_key_ = 0;
  std::uint64_t written_end_ = 1;
  std::vector<std::string> removed_;
  std::set<std::string> bad_keys_;  // rows whose key is not ours, once dropped: not again
};

}  // namespace tandem::radius
