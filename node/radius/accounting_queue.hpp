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
  Push push(const proto::AccountingRecord& record);

  struct Entry {
    std::uint64_t key = 0;
    proto::AccountingRecord record;
  };
  // The oldest record. A row that does not parse is dropped on the way (logged).
  std::optional<Entry> front();
  // The server acknowledged it (or it is given up): removed for good.
  void pop(std::uint64_t key);

  std::size_t size() const { return size_; }
  std::size_t capacity() const { return max_; }

 private:
  AccountingQueue(std::unique_ptr<rocksdb::DB> db, std::size_t max_records);
  std::unique_ptr<rocksdb::DB> db_;
  std::size_t max_;
  std::size_t size_ = 0;
  std::uint64_t next_key_ = 1;
};

}  // namespace tandem::radius
