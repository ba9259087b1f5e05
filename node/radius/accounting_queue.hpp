#pragma once
// The durable accounting queue: each record is on disk (RocksDB, synced) before it is sent and
// leaves only when a server acknowledged it, so a RADIUS server that is down, or a node that
// restarts, loses none. In order: one queue per node, oldest first (docs/radius-accounting.md).
// Local to the node (never replicated); the Accounting class is its one owner.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
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
  // A push in three steps, so the synced write can run off the owner's thread (the node's I/O
  // thread must not wait for an fsync): reserve on the owner's thread (the record's place, in
  // order, or why not), write on any thread (several records, one sync), then written on the
  // owner's thread again. Until then a reserved record counts against the bound.
  Push reserve(const proto::AccountingRecord& record, Reserved& out);
  Result<void> write(const std::vector<Reserved>& records);  // touches only the database
  void written(std::size_t records, bool ok);
  // All three at once.
  Push push(const proto::AccountingRecord& record);

  struct Entry {
    std::uint64_t key = 0;
    proto::AccountingRecord record;
  };
  // The oldest record. A row that does not parse is dropped on the way (logged).
  std::optional<Entry> front();
  // The server acknowledged it (or it is given up): removed for good.
  void pop(std::uint64_t key);

  std::size_t size() const { return size_; }          // on disk
  std::size_t reserved() const { return reserved_; }  // on their way there
  std::size_t capacity() const { return max_; }

 private:
  AccountingQueue(std::unique_ptr<rocksdb::DB> db, std::size_t max_records);
  std::unique_ptr<rocksdb::DB> db_;
  std::size_t max_;
  std::size_t size_ = 0;
  std::size_t reserved_ = 0;
  std::uint64_t next_key_ = 1;
  // No row is below this key: the oldest is looked for from here, not past every removed one.
  std::uint64_t first_key_ = 0;
};

}  // namespace tandem::radius
