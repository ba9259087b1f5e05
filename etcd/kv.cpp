// Reads, writes and transactions: our types to etcd's KV messages and back, one unary call each.
#include "etcd/client_impl.hpp"

namespace tandem::etcd {

KeyValue from_proto(const ::mvccpb::KeyValue& kv) {
  KeyValue out;
  out.key = kv.key();
  out.value = kv.value();
  out.create_revision = kv.create_revision();
  out.mod_revision = kv.mod_revision();
  out.version = kv.version();
  out.lease = kv.lease();
  return out;
}

std::string prefix_end(const std::string& prefix) {
  // The smallest key greater than every key with this prefix: drop trailing 0xff bytes and add
  // one to the last byte left. A prefix of only 0xff bytes (or none) covers every key: etcd's
  // "\0" as range end means "to the end".
  std::string end = prefix;
  while (!end.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(end.back());
    if (last < 0xff) {
      ++last;
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');
}

namespace {

pb::Compare to_proto(const Compare& c) {
  pb::Compare out;
  out.set_key(c.key);
  switch (c.op) {
    case Compare::Op::equal:
      out.set_result(pb::Compare::EQUAL);
      break;
    case Compare::Op::not_equal:
      out.set_result(pb::Compare::NOT_EQUAL);
      break;
    case Compare::Op::greater:
      out.set_result(pb::Compare::GREATER);
      break;
    case Compare::Op::less:
      out.set_result(pb::Compare::LESS);
      break;
  }
  switch (c.target) {
    case Compare::Target::version:
      out.set_target(pb::Compare::VERSION);
      out.set_version(c.number);
      break;
    case Compare::Target::create_revision:
      out.set_target(pb::Compare::CREATE);
      out.set_create_revision(c.number);
      break;
    case Compare::Target::mod_revision:
      out.set_target(pb::Compare::MOD);
      out.set_mod_revision(c.number);
      break;
    case Compare::Target::value:
      out.set_target(pb::Compare::VALUE);
      out.set_value(c.text);
      break;
    case Compare::Target::lease:
      out.set_target(pb::Compare::LEASE);
      out.set_lease(c.number);
      break;
  }
  return out;
}

pb::PutRequest to_proto(const Put& p) {
  pb::PutRequest out;
  out.set_key(p.key);
  out.set_value(p.value);
  out.set_lease(p.lease);
  return out;
}

pb::RequestOp to_proto(const Operation& op) {
  pb::RequestOp out;
  if (const auto* put = std::get_if<Put>(&op)) {
    *out.mutable_request_put() = to_proto(*put);
  } else if (const auto* del = std::get_if<Delete>(&op)) {
    out.mutable_request_delete_range()->set_key(del->key);
  } else {
    out.mutable_request_range()->set_key(std::get<Get>(op).key);
  }
  return out;
}

std::vector<KeyValue> kvs_of(const pb::RangeResponse& r) {
  std::vector<KeyValue> out;
  out.reserve(static_cast<std::size_t>(r.kvs_size()));
  for (const auto& kv : r.kvs()) out.push_back(from_proto(kv));
  return out;
}

}  // namespace

void ClientImpl::txn(Txn txn, std::function<void(Result<TxnResult>)> done) {
  pb::TxnRequest req;
  for (const auto& c : txn.compares) *req.add_compare() = to_proto(c);
  for (const auto& op : txn.success) *req.add_success() = to_proto(op);
  for (const auto& op : txn.failure) *req.add_failure() = to_proto(op);
  core_->unary<pb::TxnRequest, pb::TxnResponse, TxnResult>(
      "Txn", std::move(req),
      [](Endpoint& e, auto* ctx, auto* rq, auto* rs, auto cb) {
        e.kv->async()->Txn(ctx, rq, rs, std::move(cb));
      },
      [](const pb::TxnResponse& r) -> Result<TxnResult> {
        TxnResult out;
        out.succeeded = r.succeeded();
        out.revision = r.header().revision();
        for (const auto& op : r.responses()) {
          out.responses.push_back(op.has_response_range() ? kvs_of(op.response_range())
                                                          : std::vector<KeyValue>{});
        }
        return out;
      },
      std::move(done));
}

void ClientImpl::put(Put put, std::function<void(Result<Revision>)> done) {
  core_->unary<pb::PutRequest, pb::PutResponse, Revision>(
      "Put", to_proto(put),
      [](Endpoint& e, auto* ctx, auto* rq, auto* rs, auto cb) {
        e.kv->async()->Put(ctx, rq, rs, std::move(cb));
      },
      [](const pb::PutResponse& r) -> Result<Revision> { return r.header().revision(); },
      std::move(done));
}

void ClientImpl::get(std::string key, std::function<void(Result<std::optional<KeyValue>>)> done) {
  pb::RangeRequest req;
  req.set_key(std::move(key));
  core_->unary<pb::RangeRequest, pb::RangeResponse, std::optional<KeyValue>>(
      "Range", std::move(req),
      [](Endpoint& e, auto* ctx, auto* rq, auto* rs, auto cb) {
        e.kv->async()->Range(ctx, rq, rs, std::move(cb));
      },
      [](const pb::RangeResponse& r) -> Result<std::optional<KeyValue>> {
        if (r.kvs_size() == 0) return std::optional<KeyValue>{};
        return std::optional<KeyValue>{from_proto(r.kvs(0))};
      },
      std::move(done));
}

void ClientImpl::get_prefix(std::string prefix, std::function<void(Result<Range>)> done) {
  pb::RangeRequest req;
  req.set_range_end(prefix_end(prefix));
  req.set_key(prefix.empty() ? std::string(1, '\0') : std::move(prefix));
  core_->unary<pb::RangeRequest, pb::RangeResponse, Range>(
      "Range", std::move(req),
      [](Endpoint& e, auto* ctx, auto* rq, auto* rs, auto cb) {
        e.kv->async()->Range(ctx, rq, rs, std::move(cb));
      },
      [](const pb::RangeResponse& r) -> Result<Range> {
        return Range{kvs_of(r), r.header().revision()};
      },
      std::move(done));
}

void ClientImpl::remove(std::string key, std::function<void(Result<void>)> done) {
  pb::DeleteRangeRequest req;
  req.set_key(std::move(key));
  core_->unary<pb::DeleteRangeRequest, pb::DeleteRangeResponse, std::monostate>(
      "DeleteRange", std::move(req),
      [](Endpoint& e, auto* ctx, auto* rq, auto* rs, auto cb) {
        e.kv->async()->DeleteRange(ctx, rq, rs, std::move(cb));
      },
      [](const pb::DeleteRangeResponse&) -> Result<std::monostate> { return std::monostate{}; },
      [done = std::move(done)](Result<std::monostate> r) {
        if (r) {
          done({});
        } else {
          done(r.failure());
        }
      });
}

}  // namespace tandem::etcd
