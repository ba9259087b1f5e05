#include "node/radius/accounting_queue.hpp"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <filesystem>

#include "base/log.hpp"

namespace tandem::radius {
namespace {

// Big-endian, so RocksDB's byte order is the order records were queued in.
std::string encode_key(std::uint64_t key) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i, key >>= 8) out[static_cast<std::size_t>(i)] = static_cast<char>(key);
  return out;
}

std::optional<std::uint64_t> decode_key(const rocksdb::Slice& s) {
  if (s.size() != 8) return std::nullopt;
  std::uint64_t key = 0;
  for (std::size_t i = 0; i < 8; ++i) key = (key << 8) | static_cast<std::uint8_t>(s[i]);
  return key;
}

}  // namespace

AccountingQueue::AccountingQueue(std::unique_ptr<rocksdb::DB> db, std::size_t max_records)
    : db_(std::move(db)), max_(max_records) {}
AccountingQueue::~AccountingQueue() = default;

Result<std::unique_ptr<AccountingQueue>> AccountingQueue::open(const std::string& dir,
                                                               std::size_t max_records) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return fail("accounting queue " + dir + ": " + ec.message());
  rocksdb::Options options;
  options.create_if_missing = true;
  options.keep_log_file_num = 2;
  options.max_log_file_size = 1 << 20;
  rocksdb::DB* raw = nullptr;
  auto status = rocksdb::DB::Open(options, dir, &raw);
  if (!status.ok()) return fail("accounting queue " + dir + ": " + status.ToString());
  std::unique_ptr<AccountingQueue> q(
      new AccountingQueue(std::unique_ptr<rocksdb::DB>(raw), max_records));
  // What an earlier run left is sent first; new records go after it.
  std::unique_ptr<rocksdb::Iterator> it(q->db_->NewIterator(rocksdb::ReadOptions()));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    ++q->size_;
    if (auto key = decode_key(it->key())) q->next_key_ = std::max(q->next_key_, *key + 1);
  }
  q->written_end_ = q->next_key_;
  return q;
}

AccountingQueue::Push AccountingQueue::reserve(const proto::AccountingRecord& record,
                                               Reserved& out) {
  if (size_ + reserved_ >= max_) return Push::full;
  if (!record.SerializeToString(&out.value)) return Push::failed;
  out.key = next_key_++;
  ++reserved_;
  return Push::queued;
}

Result<void> AccountingQueue::write(const Batch& batch) {
  rocksdb::WriteBatch rows;
  for (const auto& r : batch.records) rows.Put(encode_key(r.key), r.value);
  for (const auto& key : batch.removed) rows.Delete(key);
  rocksdb::WriteOptions options;
  // A Start or Stop must survive a crash of the node that made it. A removal need not: one
  // lost to a crash only sends its record again.
  options.sync = !batch.records.empty();
  auto status = db_->Write(options, &rows);
  if (!status.ok()) {
    log::error("accounting_queue_write_failed",
               {{"reason", status.ToString()},
                {"records", std::to_string(batch.records.size())},
                {"removals", std::to_string(batch.removed.size())}});
    return fail(status.ToString());
  }
  return {};
}

void AccountingQueue::written(const Batch& batch, bool ok) {
  const std::size_t n = std::min(batch.records.size(), reserved_);
  reserved_ -= n;
  if (ok) size_ += n;
  // Batches are written in the order their keys were reserved: all below are settled.
  if (!batch.records.empty()) written_end_ = std::max(written_end_, batch.records.back().key + 1);
}

AccountingQueue::Push AccountingQueue::push(const proto::AccountingRecord& record) {
  Batch batch;
  batch.records.resize(1);
  if (const auto pushed = reserve(record, batch.records[0]); pushed != Push::queued) return pushed;
  batch.removed = take_removed();
  const bool ok = write(batch).ok();
  written(batch, ok);
  return ok ? Push::queued : Push::failed;
}

std::optional<AccountingQueue::Entry> AccountingQueue::front() {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(encode_key(first_key_)); it->Valid(); it->Next()) {
    Entry e;
    auto key = decode_key(it->key());
    if (key && *key >= written_end_) break;  // written, but not yet known to be
    if (key && e.record.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      e.key = *key;
      first_key_ = *key;
      return e;
    }
    if (key)
      first_key_ = *key + 1;
    else if (!bad_keys_.insert(it->key().ToString()).second)
      continue;  // seen already; its removal is on its way
    log::error("accounting_queue_bad_row", {{"detail", "dropped: it does not parse"}});
    removed_.push_back(it->key().ToString());
    if (size_ > 0) --size_;
  }
  return std::nullopt;
}

void AccountingQueue::pop(std::uint64_t key) {
  removed_.push_back(encode_key(key));
  if (size_ > 0) --size_;
  // Popped oldest first, and keys are handed out in order: nothing is left below this one.
  if (key >= first_key_) first_key_ = key + 1;
}

}  // namespace tandem::radius
