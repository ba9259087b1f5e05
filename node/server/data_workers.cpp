#include "node/server/data_workers.hpp"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>

namespace tandem::server {

struct DataWorkers::Worker {
  std::mutex mutex;
  std::condition_variable wake;
  std::deque<std::function<void()>> jobs;
  bool stopping = false;
  std::thread thread;

  void run() {
    std::vector<std::function<void()>> batch;
    for (;;) {
      {
        std::unique_lock lock(mutex);
        wake.wait(lock, [this] { return stopping || !jobs.empty(); });
        if (jobs.empty()) return;  // stopping, and nothing left to do
        // Everything queued is taken at once: the lock is held per wake, not per job.
        batch.assign(std::make_move_iterator(jobs.begin()), std::make_move_iterator(jobs.end()));
        jobs.clear();
      }
      for (auto& job : batch) job();
      batch.clear();
    }
  }
};

DataWorkers::DataWorkers(unsigned count) {
  for (unsigned i = 0; i < std::max(1u, count); ++i) {
    auto w = std::make_unique<Worker>();
    w->thread = std::thread([raw = w.get()] {
      // As `top -H` and /proc/PID/task/*/comm show it (15 characters at most).
      pthread_setname_np(pthread_self(), "tandem-data");
      raw->run();
    });
    workers_.push_back(std::move(w));
  }
}

DataWorkers::~DataWorkers() {
  for (auto& w : workers_) {
    std::lock_guard lock(w->mutex);
    w->stopping = true;
    w->wake.notify_one();
  }
  for (auto& w : workers_) w->thread.join();
}

void DataWorkers::post(unsigned k, std::function<void()> job) {
  Worker& w = *workers_[k % workers_.size()];
  {
    std::lock_guard lock(w.mutex);
    w.jobs.push_back(std::move(job));
  }
  w.wake.notify_one();
}

unsigned data_threads(int configured) {
  if (configured > 0) return static_cast<unsigned>(configured);
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  const int n = sched_getaffinity(0, sizeof(cpus), &cpus) == 0 ? CPU_COUNT(&cpus) : 1;
  return static_cast<unsigned>(std::max(1, n));
}

}  // namespace tandem::server
