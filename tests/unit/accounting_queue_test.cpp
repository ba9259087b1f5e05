// The durable accounting queue on a real RocksDB in a temporary directory, and the Accounting
// that owns it: records written off the I/O thread, several to a sync, sent in order.
#include "node/radius/accounting_queue.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "node/radius/accounting.hpp"
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
    ASSERT_TRUE((*q)->write({{}, (*q)->take_removed()}));
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

// Acknowledges each request on the I/O thread, or holds them all; keeps each record's
// Acct-Session-Id in the order it was sent.
class FakeSender final : public AccountingSender {
 public:
  FakeSender(boost::asio::io_context& io, std::vector<std::string>& sent, bool answer)
      : io_(io), sent_(sent), answer_(answer) {}
  void send(std::vector<Attribute> attributes, Done done) override {
    for (const auto& a : attributes)
      if (a.type == attr::kAcctSessionId) sent_.push_back(a.text);
    if (answer_) boost::asio::post(io_, [done = std::move(done)] { done(true, ""); });
  }

 private:
  boost::asio::io_context& io_;
  std::vector<std::string>& sent_;
  bool answer_;
};

std::string id(int i) { return "S" + std::to_string(i); }

// Runs the I/O thread's work until `done` or 5 s pass; the writes happen on the writer thread.
template <class Done>
bool run_until(boost::asio::io_context& io, Done done) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!done() && std::chrono::steady_clock::now() < end) {
    io.restart();
    io.run_for(std::chrono::milliseconds(10));
  }
  return done();
}

TEST(Accounting, ABurstSharesSyncsAndIsSentInOrder) {
  testing::TempDir dir;
  auto q = AccountingQueue::open(dir.sub("acct"), 1000);
  ASSERT_TRUE(q) << q.error();
  boost::asio::io_context io;
  std::vector<std::string> sent;
  Accounting acct(io, {}, std::move(*q), std::make_unique<FakeSender>(io, sent, true));
  constexpr int kRecords = 300;
  std::vector<int> on_disk;
  for (int i = 0; i < kRecords; ++i)
    ASSERT_TRUE(acct.enqueue(record(id(i), proto::AccountingRecord::START),
                             [&on_disk, i] { on_disk.push_back(i); }));
  // The I/O thread has not run yet: nothing was sent from inside enqueue.
  EXPECT_TRUE(sent.empty());
  ASSERT_TRUE(run_until(io, [&] { return acct.stats().sent == kRecords; }))
      << "sent " << acct.stats().sent;
  ASSERT_EQ(sent.size(), static_cast<std::size_t>(kRecords));
  for (int i = 0; i < kRecords; ++i) EXPECT_EQ(sent[static_cast<std::size_t>(i)], id(i));
  // Each record's on_disk ran once, in order, on this thread.
  ASSERT_EQ(on_disk.size(), static_cast<std::size_t>(kRecords));
  for (int i = 0; i < kRecords; ++i) EXPECT_EQ(on_disk[static_cast<std::size_t>(i)], i);
  // The first record's write starts alone; the other 299 wait for it and share the next one.
  EXPECT_LE(acct.stats().disk_writes, 3u);
  EXPECT_EQ(acct.stats().queued, 0u);
  EXPECT_EQ(acct.stats().dropped, 0u);
}

TEST(Accounting, RecordsNotYetWrittenAreWrittenWhenItIsDestroyed) {
  testing::TempDir dir;
  {
    auto q = AccountingQueue::open(dir.sub("acct"), 1000);
    ASSERT_TRUE(q);
    boost::asio::io_context io;
    std::vector<std::string> sent;
    Accounting acct(io, {}, std::move(*q), std::make_unique<FakeSender>(io, sent, false));
    for (int i = 0; i < 50; ++i) acct.enqueue(record(id(i), proto::AccountingRecord::STOP));
    EXPECT_EQ(acct.stats().queued, 50u);
    // The I/O thread never runs: the first write's answer and the rest are still pending.
  }
  auto q = AccountingQueue::open(dir.sub("acct"), 1000);
  ASSERT_TRUE(q);
  EXPECT_EQ((*q)->size(), 50u);
  for (int i = 0; i < 50; ++i) {
    auto head = (*q)->front();
    ASSERT_TRUE(head);
    EXPECT_EQ(head->record.session_id(), id(i));
    (*q)->pop(head->key);
  }
  EXPECT_FALSE((*q)->front());
}

TEST(Accounting, RecordsOnTheirWayCountAgainstTheBound) {
  testing::TempDir dir;
  auto q = AccountingQueue::open(dir.sub("acct"), 5);
  ASSERT_TRUE(q);
  boost::asio::io_context io;
  std::vector<std::string> sent;
  Accounting acct(io, {}, std::move(*q), std::make_unique<FakeSender>(io, sent, false));
  int queued = 0;
  for (int i = 0; i < 8; ++i) queued += acct.enqueue(record(id(i), proto::AccountingRecord::START));
  EXPECT_EQ(queued, 5);
  EXPECT_EQ(acct.stats().dropped, 3u);
  ASSERT_TRUE(run_until(io, [&] { return !sent.empty(); }));
  EXPECT_EQ(sent.front(), id(0));
  EXPECT_EQ(acct.stats().queued, 5u);
}

// Popping oldest first does not make finding the next one slower: the head is looked for from
// the last popped key, not past every removed row (which stay in RocksDB until a compaction).
TEST(AccountingQueue, FrontAfterManyPopsSkipsTheRemovedRows) {
  testing::TempDir dir;
  auto q = AccountingQueue::open(dir.sub("acct"), 20000);
  ASSERT_TRUE(q);
  AccountingQueue::Batch batch;
  batch.records.resize(10000);
  for (int i = 0; i < 10000; ++i)
    ASSERT_EQ((*q)->reserve(record(id(i), proto::AccountingRecord::START),
                            batch.records[static_cast<std::size_t>(i)]),
              AccountingQueue::Push::queued);
  ASSERT_TRUE((*q)->write(batch));
  (*q)->written(batch, true);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 10000; ++i) {
    auto head = (*q)->front();
    ASSERT_TRUE(head);
    ASSERT_EQ(head->record.session_id(), id(i));
    (*q)->pop(head->key);
    ASSERT_TRUE((*q)->write({{}, (*q)->take_removed()}));  // the row removed, as Accounting does
  }
  EXPECT_FALSE((*q)->front());
  // 0.07 s here. Looking from the first row each time (past up to 10 000 removed rows) took 6 s,
  // and grows with the square of the queue (its bound is 100 000).
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

TEST(AccountingQueue, AWrittenRecordShowsOnlyOnceItsWriteIsAcknowledged) {
  testing::TempDir dir;
  auto q = AccountingQueue::open(dir.sub("acct"), 10);
  ASSERT_TRUE(q);
  AccountingQueue::Batch batch;
  batch.records.resize(1);
  ASSERT_EQ((*q)->reserve(record("A", proto::AccountingRecord::START), batch.records[0]),
            AccountingQueue::Push::queued);
  EXPECT_FALSE((*q)->front());  // reserved only
  ASSERT_TRUE((*q)->write(batch));
  // On disk, but the owner has not heard so: it could still count it twice.
  EXPECT_FALSE((*q)->front());
  EXPECT_EQ((*q)->reserved(), 1u);
  (*q)->written(batch, true);
  ASSERT_TRUE((*q)->front());
  EXPECT_EQ((*q)->front()->record.session_id(), "A");
  EXPECT_EQ((*q)->size(), 1u);
  EXPECT_EQ((*q)->reserved(), 0u);
}

TEST(AccountingQueue, APopIsGoneAtOnceAndFromDiskWithTheNextWrite) {
  testing::TempDir dir;
  {
    auto q = AccountingQueue::open(dir.sub("acct"), 10);
    ASSERT_TRUE(q);
    (*q)->push(record("A", proto::AccountingRecord::START));
    (*q)->push(record("B", proto::AccountingRecord::START));
    (*q)->pop((*q)->front()->key);
    EXPECT_EQ((*q)->front()->record.session_id(), "B");
    EXPECT_EQ((*q)->size(), 1u);
    // A's removal was never written: like a crash before the next write.
  }
  {
    auto q = AccountingQueue::open(dir.sub("acct"), 10);
    ASSERT_TRUE(q);
    EXPECT_EQ((*q)->size(), 2u);  // sent again after a crash: a duplicate, never a gap
    (*q)->pop((*q)->front()->key);
    ASSERT_TRUE((*q)->write({{}, (*q)->take_removed()}));
  }
  auto q = AccountingQueue::open(dir.sub("acct"), 10);
  ASSERT_TRUE(q);
  EXPECT_EQ((*q)->size(), 1u);
  EXPECT_EQ((*q)->front()->record.session_id(), "B");
}

TEST(Accounting, StopWritesWhatWaitsAndThePops) {
  testing::TempDir dir;
  {
    auto q = AccountingQueue::open(dir.sub("acct"), 1000);
    ASSERT_TRUE(q);
    boost::asio::io_context io;
    std::vector<std::string> sent;
    Accounting acct(io, {}, std::move(*q), std::make_unique<FakeSender>(io, sent, true));
    acct.enqueue(record(id(0), proto::AccountingRecord::START));
    ASSERT_TRUE(run_until(io, [&] { return acct.stats().sent == 1; }));
    for (int i = 1; i <= 20; ++i) acct.enqueue(record(id(i), proto::AccountingRecord::STOP));
    acct.stop();  // as tandemd does once its I/O thread has stopped, destructors never run
    acct.stop();  // once is enough
  }
  auto q = AccountingQueue::open(dir.sub("acct"), 1000);
  ASSERT_TRUE(q);
  EXPECT_EQ((*q)->size(), 20u);  // S0 was acknowledged and its row removed; the rest are there
  EXPECT_EQ((*q)->front()->record.session_id(), id(1));
}

}  // namespace
}  // namespace tandem::radius
