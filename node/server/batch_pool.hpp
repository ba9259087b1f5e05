#pragma once
// Batches that travel from the I/O thread to a data worker and back (data_workers.hpp): the I/O
// thread fills one while the worker empties the others. At most `limit` exist; when all are
// out, take() waits for the worker to give one back, so a worker that falls behind holds up
// the I/O thread instead of letting memory grow.
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace tandem::server {

template <class Batch>
class BatchPool {
 public:
  using Make = std::function<std::unique_ptr<Batch>()>;
  BatchPool(std::size_t limit, Make make) : limit_(limit), make_(std::move(make)) {}

  // I/O thread: an empty batch.
  std::unique_ptr<Batch> take() {
    {
      std::unique_lock lock(mutex_);
      if (spare_.empty() && made_ >= limit_)
        returned_.wait(lock, [this] { return !spare_.empty(); });
      if (!spare_.empty()) {
        auto b = std::move(spare_.back());
        spare_.pop_back();
        return b;
      }
      ++made_;
    }
    return make_();
  }

  // Worker: a batch it has emptied.
  void give_back(std::unique_ptr<Batch> b) {
    {
      std::lock_guard lock(mutex_);
      spare_.push_back(std::move(b));
    }
    returned_.notify_one();
  }

 private:
  const std::size_t limit_;
  const Make make_;
  std::mutex mutex_;
  std::condition_variable returned_;
  std::vector<std::unique_ptr<Batch>> spare_;
  std::size_t made_ = 0;
};

}  // namespace tandem::server
