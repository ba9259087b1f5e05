#pragma once
// Internal to etcd/*.cpp: the Client, whose methods live in kv.cpp, lease.cpp and watch.cpp.
#include <memory>

#include "etcd/client.hpp"
#include "etcd/core.hpp"

namespace tandem::etcd {

class ClientImpl final : public Client {
 public:
  explicit ClientImpl(std::shared_ptr<Core> core) : core_(std::move(core)) {}
  ~ClientImpl() override;

  void grant(std::chrono::seconds ttl, std::function<void(Result<LeaseId>)> done) override;
  void keep_alive(LeaseId lease, std::function<void(Result<std::chrono::seconds>)> done) override;
  void revoke(LeaseId lease, std::function<void(Result<void>)> done) override;

  void txn(Txn txn, std::function<void(Result<TxnResult>)> done) override;
  void put(Put put, std::function<void(Result<Revision>)> done) override;
  void get(std::string key, std::function<void(Result<std::optional<KeyValue>>)> done) override;
  void get_prefix(std::string prefix, std::function<void(Result<Range>)> done) override;
  void remove(std::string key, std::function<void(Result<void>)> done) override;

  std::unique_ptr<Watch> watch_prefix(std::string prefix, Revision start_revision,
                                      std::function<void(std::vector<WatchEvent>)> on_events,
                                      std::function<void(Error)> on_end) override;

 private:
  std::shared_ptr<Core> core_;
};

}  // namespace tandem::etcd
