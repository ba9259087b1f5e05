// node/server/data_workers: jobs given to one worker run in the order given, on another thread,
// and every job given runs before the workers are gone. node/server/batch_pool: at most `limit`
// batches exist; with all of them out, take() waits for one to come back.
#include "node/server/data_workers.hpp"

#include <gtest/gtest.h>

#include "node/server/batch_pool.hpp"

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace tandem::server {
namespace {

TEST(DataWorkers, OneWorkersJobsRunInOrderOffTheCallersThread) {
  std::vector<int> seen[3];
  std::mutex m;
  std::atomic<int> on_caller{0};
  const auto caller = std::this_thread::get_id();
  {
    DataWorkers w(3);
    ASSERT_EQ(w.size(), 3u);
    for (int i = 0; i < 3000; ++i) {
      w.post(static_cast<unsigned>(i % 3), [&, i] {
        if (std::this_thread::get_id() == caller) ++on_caller;
        std::lock_guard lock(m);
        seen[i % 3].push_back(i);
      });
    }
  }  // the destructor runs what is left, then joins
  EXPECT_EQ(on_caller.load(), 0);
  for (int k = 0; k < 3; ++k) {
    ASSERT_EQ(seen[k].size(), 1000u) << k;
    for (std::size_t j = 1; j < seen[k].size(); ++j)
      ASSERT_LT(seen[k][j - 1], seen[k][j]) << "worker " << k << " ran a job out of order";
  }
}

TEST(DataWorkers, WorkerIndexWrapsAndZeroMeansOne) {
  std::atomic<int> ran{0};
  {
    DataWorkers w(0);
    EXPECT_EQ(w.size(), 1u);
    w.post(7, [&] { ++ran; });
  }
  EXPECT_EQ(ran.load(), 1);
}

TEST(DataWorkers, ThreadsConfiguredOrOnePerAllowedCpu) {
  EXPECT_EQ(data_threads(3), 3u);
  EXPECT_GE(data_threads(0), 1u);
  EXPECT_LE(data_threads(0), std::thread::hardware_concurrency());
}

TEST(BatchPool, TakeWaitsWhenEveryBatchIsOut) {
  int made = 0;
  BatchPool<int> pool(2, [&made] { return std::make_unique<int>(++made); });
  auto a = pool.take();
  auto b = pool.take();
  EXPECT_EQ(made, 2);
  std::atomic<bool> given{false};
  std::thread worker([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    given = true;
    pool.give_back(std::move(a));
  });
  auto c = pool.take();  // blocks until the worker gives `a` back
  EXPECT_TRUE(given.load());
  EXPECT_EQ(made, 2) << "no third batch made past the limit";
  EXPECT_EQ(*c, 1) << "the one given back";
  worker.join();
}

}  // namespace
}  // namespace tandem::server
