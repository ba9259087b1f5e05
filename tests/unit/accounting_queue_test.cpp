// The durable accounting queue on a real RocksDB in a temporary directory.
#include "node/radius/accounting_queue.hpp"

#include <gtest/gtest.h>

#include "temp_dir.hpp"

namespace tandem::radius {
namespace {

proto::AccountingRecord record(const std::string& id, proto::AccountingRecord::Status status) {
  proto::AccountingRecord r;
  r.set_session_id(id);
  r.set_status(status);
  return r;
}

TEST(AccountingQueue, OldestFirstAndGoneOnlyWhenPopped) {
  testing::TempDir dir;
  auto q = AccountingQueue::open(dir.sub("acct"), 10);
  ASSERT_TRUE(q) << q.error();
  EXPECT_EQ((*q)->push(record("A", proto::AccountingRecord::START)), AccountingQueue::Push::queued);
  EXPECT_EQ((*q)->push(record("A", proto::AccountingRecord::INTERIM_UPDATE)),
            AccountingQueue::Push::queued);
  EXPECT_EQ((*q)->size(), 2u);
  auto head = (*q)->front();
  ASSERT_TRUE(head);
  EXPECT_EQ(head->record.status(), proto::AccountingRecord::START);
  // Not acknowledged yet: still the head.
  EXPECT_EQ((*q)->front()->key, head->key);
  (*q)->pop(head->key);
  EXPECT_EQ((*q)->front()->record.status(), proto::AccountingRecord::INTERIM_UPDATE);
  EXPECT_EQ((*q)->size(), 1u);
}

TEST(AccountingQueue, SurvivesARestartInOrder) {
  testing::TempDir dir;
  {
    auto q = AccountingQueue::open(dir.sub("acct"), 10);
    ASSERT_TRUE(q);
    (*q)->push(record("A", proto::AccountingRecord::START));
    (*q)->push(record("B", proto::AccountingRecord::START));
    (*q)->pop((*q)->front()->key);
  }
  auto q = AccountingQueue::open(dir.sub("acct"), 10);
  ASSERT_TRUE(q);
  EXPECT_EQ((*q)->size(), 1u);
  (*q)->push(record("C", proto::AccountingRecord::START));  // after what was left
  EXPECT_EQ((*q)->front()->record.session_id(), "B");
  (*q)->pop((*q)->front()->key);
  EXPECT_EQ((*q)->front()->record.session_id(), "C");
  (*q)->pop((*q)->front()->key);
  EXPECT_FALSE((*q)->front());
  EXPECT_EQ((*q)->size(), 0u);
}

TEST(AccountingQueue, RefusesBeyondItsBound) {
  testing::TempDir dir;
  auto q = AccountingQueue::open(dir.sub("acct"), 2);
  ASSERT_TRUE(q);
  EXPECT_EQ((*q)->push(record("A", proto::AccountingRecord::START)), AccountingQueue::Push::queued);
  EXPECT_EQ((*q)->push(record("B", proto::AccountingRecord::START)), AccountingQueue::Push::queued);
  EXPECT_EQ((*q)->push(record("C", proto::AccountingRecord::START)), AccountingQueue::Push::full);
  (*q)->pop((*q)->front()->key);
  EXPECT_EQ((*q)->push(record("C", proto::AccountingRecord::START)), AccountingQueue::Push::queued);
}

}  // namespace
}  // namespace tandem::radius
