#pragma once
// The data plane's other cores (docs/data-plane.md, "Every core"). The I/O thread keeps every
// decision (which session, which carrier, the policy) and hands the work that costs the most to
// these threads: the system calls that carry a batch of packets into the kernel's stack, and the
// encryption of the DTLS download. Each worker runs the jobs given to it one after the other, in
// the order given, so a stream sharded to one worker stays in order. The kernel's work behind
// those calls (forwarding, the UDP and IP stack, the veth or NIC) then runs on the worker's core.
#include <functional>
#include <memory>
#include <thread>
#include <vector>

namespace tandem::server {

class DataWorkers {
 public:
  // `count` threads (at least 1), started at once, each named "tandem-data".
  explicit DataWorkers(unsigned count);
  // Runs the jobs already given, then joins the threads.
  ~DataWorkers();
  DataWorkers(const DataWorkers&) = delete;
  DataWorkers& operator=(const DataWorkers&) = delete;

  unsigned size() const { return static_cast<unsigned>(workers_.size()); }
  // Runs `job` on worker `k % size()`. Thread-safe; one short lock per job (a batch of packets),
  // none per packet.
  void post(unsigned k, std::function<void()> job);

 private:
  struct Worker;
  std::vector<std::unique_ptr<Worker>> workers_;
};

// How many threads the data plane runs on: [node] data_threads, or with 0 the CPUs this process
// may run on (its affinity mask, so taskset and cpusets count). One of them is the I/O thread.
unsigned data_threads(int configured);

}  // namespace tandem::server
