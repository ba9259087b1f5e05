#include "replication/session_store.hpp"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <utility>

#include "base/log.hpp"

namespace tandem::replication {
namespace {

// Column families, in the order open() passes them (and so the order of the handles).
// `quarantine` keeps a copy of every row that could not be read, with the reason, for forensics.
enum Cf : std::size_t { kDefault, kSessions, kChangelog, kMeta, kQuarantine, kCfCount };
const std::array<std::string, kCfCount> kCfNames = {rocksdb::kDefaultColumnFamilyName, "sessions",
                                                    "changelog", "meta", "quarantine"};

// The base of a log whose first retained entry could not be read: no real epoch matches it, so
// a peer positioned exactly there is sent a snapshot.
constexpr std::uint64_t kUnknownEpoch = ~std::uint64_t{0};

// Bumped when the layout changes incompatibly; an unknown version is refused, never guessed at.
constexpr std::uint64_t kFormatVersion = 1;
constexpr const char* kFormatKey = "format_version";

// The persisted meta, cached in memory and rewritten (only the fields that changed) in the same
// batch as the change that moves it.
struct Meta {
  std::uint64_t epoch = 0;
  std::uint64_t last_seq = 0;
  std::uint64_t last_epoch = 0;
  // The change just before the log's first entry: a peer positioned exactly there can still be
  // checked against this history and continued from the log.
  std::uint64_t base_seq = 0;
  std::uint64_t base_epoch = 0;
  std::uint64_t next_index = 1;  // session indices start at 1, as in the session table
};

struct MetaField {
  const char* key;
  std::uint64_t Meta::*field;
};
constexpr std::array<MetaField, 6> kMetaFields = {{
    {"epoch", &Meta::epoch},
    {"last_sequence", &Meta::last_seq},
    {"last_epoch", &Meta::last_epoch},
    {"log_base_sequence", &Meta::base_seq},
    {"log_base_epoch", &Meta::base_epoch},
    {"next_session_index", &Meta::next_index},
}};

// Big-endian, so that RocksDB's bytewise order is numeric order: iteration runs by index / seq.
std::string be64(std::uint64_t v) {
  std::string s(8, '\0');
  for (int i = 7; i >= 0; --i, v >>= 8)
    s[static_cast<std::size_t>(i)] = static_cast<char>(v & 0xff);
  return s;
}

std::optional<std::uint64_t> from_be64(const rocksdb::Slice& s) {
  if (s.size() != 8) return std::nullopt;
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(s[i]);
  return v;
}

// "sessions/42", "meta/epoch"; a numeric key of the wrong length is shown by its length.
std::string key_name(Cf c, const rocksdb::Slice& key) {
  const std::string& cf = kCfNames[c];
  if (c == kMeta) return cf + "/" + key.ToString();
  if (auto n = from_be64(key)) return cf + "/" + std::to_string(*n);
  return cf + "/<" + std::to_string(key.size()) + "-byte key>";
}

// RocksDB's own warnings join our log instead of a LOG file in the state directory: a file that
// a full disk would make RocksDB's logger abort on (Debian's build keeps its assertions).
class StoreLogger final : public rocksdb::Logger {
 public:
  StoreLogger() : rocksdb::Logger(rocksdb::InfoLogLevel::WARN_LEVEL) {}
  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    char line[512];
    std::vsnprintf(line, sizeof line, format, ap);
    log::warn("rocksdb", {{"message", line}});
  }
};

template <class Message>
bool parse(Message& m, const rocksdb::Slice& bytes) {
  return m.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
}

}  // namespace

struct SessionStore::Impl {
  std::string dir;
  StoreOptions options;
  rocksdb::DB* db = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> cfs;
  Meta meta;
  // Session rows that did not parse, by index: skipped by every reader, kept in place so that the
  // rows stay the effect of the log. The next change to the index (an upsert from the active, or
  // the removal an active records for it) replaces or deletes the row and clears the entry.
  mutable std::map<std::uint64_t, std::string> quarantined;
  // A write failed (a full disk): RocksDB refuses writes until it is told to resume.
  bool write_failed = false;

  Impl() = default;
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  ~Impl() {
    if (db == nullptr) return;
    // A clean stop makes the non-durable tail durable too (not after a failed write: the WAL is
    // then in an error state RocksDB asserts on); then the RocksDB teardown order.
    if (!write_failed) db->SyncWAL().PermitUncheckedError();
    for (auto* h : cfs) db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
    db->Close().PermitUncheckedError();
    delete db;
  }

  rocksdb::ColumnFamilyHandle* cf(Cf c) const { return cfs[c]; }
  std::string prefix() const { return "session store " + dir + ": "; }
  Error failure(const std::string& what, const rocksdb::Status& s) const {
    return fail(Errc::io, prefix() + what + ": " + s.ToString());
  }
  Error corrupt(Cf c, const rocksdb::Slice& key, const std::string& why) const {
    return fail(Errc::corrupt, prefix() + "corrupt row " + key_name(c, key) + ": " + why);
  }

  std::int64_t now_ms() const {
    if (options.now_unix_ms) return options.now_unix_ms();
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  Result<void> read_meta() {
    std::string v;
    rocksdb::Status s = db->Get({}, cf(kMeta), kFormatKey, &v);
    if (s.IsNotFound()) {
      rocksdb::WriteOptions wo;
      wo.sync = true;
      s = db->Put(wo, cf(kMeta), kFormatKey, be64(kFormatVersion));
      if (!s.ok()) return failure("write meta", s);
    } else if (!s.ok()) {
      return failure("read meta", s);
    } else if (from_be64(v) != kFormatVersion) {
      return fail(Errc::corrupt, prefix() + "unknown format_version (this build reads version " +
                                     std::to_string(kFormatVersion) + ")");
    }
    for (const auto& f : kMetaFields) {
      s = db->Get({}, cf(kMeta), f.key, &v);
      if (s.IsNotFound()) continue;  // a new store: the default
      if (!s.ok()) return failure(std::string("read meta/") + f.key, s);
      auto n = from_be64(v);
      if (!n) return corrupt(kMeta, f.key, "not an 8-byte number");
      meta.*f.field = *n;
    }
    if (meta.base_seq > meta.last_seq || meta.last_epoch > meta.epoch) {
      return fail(Errc::corrupt,
                  prefix() + "inconsistent meta (log base after last_sequence, or epoch behind)");
    }
    return {};
  }

  // Writes the batch plus the meta fields that differ from the cached meta; on success the cache
  // becomes `next`. On failure nothing changed in memory (RocksDB refuses further writes after a
  // failed WAL write, so the owner should treat a failure here as fatal for its role).
  Result<void> commit(rocksdb::WriteBatch& batch, bool sync, const Meta& next) {
    for (const auto& f : kMetaFields) {
      if (meta.*f.field != next.*f.field) batch.Put(cf(kMeta), f.key, be64(next.*f.field));
    }
    if (write_failed) {
      // The disk may have room again: let RocksDB leave its error state before this write. (Busy:
      // its own recovery is under way; the write below tells whether it is done.)
      rocksdb::Status r = db->Resume();
      if (!r.ok() && !r.IsBusy()) return failure("resume after a failed write", r);
    }
    rocksdb::WriteOptions wo;
    wo.sync = sync;
    rocksdb::Status s = db->Write(wo, &batch);
    if (!s.ok()) {
      write_failed = true;
      return failure("write", s);
    }
    write_failed = false;
    meta = next;
    return {};
  }

  Result<proto::Change> read_change(std::uint64_t seq) const {
    const std::string key = be64(seq);
    std::string v;
    rocksdb::Status s = db->Get({}, cf(kChangelog), key, &v);
    if (s.IsNotFound()) return corrupt(kChangelog, key, "missing inside the retained log");
    if (!s.ok()) return failure("read " + key_name(kChangelog, key), s);
    proto::Change c;
    if (!parse(c, v) || c.seq() != seq)
      return corrupt(kChangelog, key, "not a Change for that seq");
    return c;
  }

  // Keeps at least changelog_limit entries; cuts in steps of limit/16 so that the default limit
  // costs one range tombstone per ~6000 changes rather than a delete per change.
  Result<void> trim(rocksdb::WriteBatch& batch, Meta& next) const {
    const std::uint64_t limit = options.changelog_limit;
    if (next.last_seq - next.base_seq <= limit + limit / 16) return {};
    const std::uint64_t new_base = next.last_seq - limit;
    // limit >= 1, so new_base's entry is an earlier one, already on disk rather than in `batch`.
    // An unreadable entry costs only the ability to continue a peer from exactly there.
    auto entry = read_change(new_base);
    const std::uint64_t new_base_epoch = entry ? entry->epoch() : kUnknownEpoch;
    const std::string begin = be64(next.base_seq + 1);
    if (new_base == next.base_seq + 1) {
      batch.Delete(cf(kChangelog), begin);
    } else {
      batch.DeleteRange(cf(kChangelog), begin, be64(new_base + 1));
    }
    next.base_seq = new_base;
    next.base_epoch = new_base_epoch;
    return {};
  }

  // The one write path for both sides: row + log entry + meta, atomically.
  Result<void> write_change(const proto::Change& c, bool sync) {
    rocksdb::WriteBatch batch;
    Meta next = meta;
    switch (c.kind_case()) {
      case proto::Change::kUpsert: {
        const std::uint64_t index = c.upsert().index();
        batch.Put(cf(kSessions), be64(index), c.upsert().SerializeAsString());
        next.next_index = std::max(next.next_index, index + 1);
        break;
      }
      case proto::Change::kRemoveIndex:
        batch.Delete(cf(kSessions), be64(c.remove_index()));
        break;
      default:
        return fail(Errc::invalid, "bad change: seq " + std::to_string(c.seq()) +
                                       " has neither upsert nor remove");
    }
    batch.Put(cf(kChangelog), be64(c.seq()), c.SerializeAsString());
    next.last_seq = c.seq();
    next.last_epoch = c.epoch();
    next.epoch = std::max(next.epoch, c.epoch());
    if (auto t = trim(batch, next); !t) return t;
    if (auto r = commit(batch, sync, next); !r) return r;
    quarantined.erase(c.has_upsert() ? c.upsert().index() : c.remove_index());
    return {};
  }

  // Copies an unreadable session row aside with its reason and keeps it out of every reader.
  // A key that is not an index at all was never written by a change: it is moved, not kept.
  void quarantine(const rocksdb::Slice& key, const rocksdb::Slice& value,
                  const std::string& why) const {
    rocksdb::WriteBatch batch;
    batch.Put(cf(kQuarantine), "row/" + key.ToString(), value);
    batch.Put(cf(kQuarantine), "why/" + key.ToString(), why);
    auto index = from_be64(key);
    if (!index) batch.Delete(cf(kSessions), key);
    rocksdb::WriteOptions wo;
    wo.sync = true;
    rocksdb::Status s = db->Write(wo, &batch);  // best effort: the row is skipped either way
    if (index)
      quarantined[*index] = why + (s.ok() ? "" : " (copy not saved: " + s.ToString() + ")");
  }

  // One pass over the session rows: good ones to `out`, bad ones to the quarantine.
  Result<std::vector<proto::SessionRecord>> read_rows() const {
    std::vector<proto::SessionRecord> out;
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator({}, cf(kSessions)));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const auto index = from_be64(it->key());
      if (index && quarantined.contains(*index)) continue;
      std::string why;
      proto::SessionRecord r;
      if (!index) {
        why = "key is not an 8-byte index";
      } else if (!parse(r, it->value())) {
        why = "not a SessionRecord";
      } else if (r.index() != *index) {
        why = "record carries index " + std::to_string(r.index());
      }
      if (!why.empty()) {
        quarantine(it->key(), it->value(), why);
        continue;
      }
      out.push_back(std::move(r));
    }
    if (!it->status().ok()) return failure("read sessions", it->status());
    return out;
  }

  Result<proto::Change> record(proto::Change c, std::uint64_t epoch, bool durable) {
    if (epoch < meta.epoch) {
      return fail(Errc::fenced, "fenced: change epoch " + std::to_string(epoch) +
                                    " is below the store's epoch " + std::to_string(meta.epoch));
    }
    c.set_seq(meta.last_seq + 1);
    c.set_epoch(epoch);
    c.set_at_unix_ms(now_ms());
    if (auto w = write_change(c, durable); !w) return w.failure();
    return c;
  }

  // Is the history ending at `from` a prefix of ours (so our log can continue it)?
  Result<bool> on_our_history(Position from) const {
    if (from.sequence > meta.last_seq || from.sequence < meta.base_seq) return false;
    if (from.sequence == meta.base_seq) return from.epoch == meta.base_epoch;
    if (from.sequence == meta.last_seq) return from.epoch == meta.last_epoch;
    auto c = read_change(from.sequence);
    if (!c) return c.failure();
    return c->epoch() == from.epoch;
  }
};

SessionStore::SessionStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SessionStore::~SessionStore() = default;

Result<std::unique_ptr<SessionStore>> SessionStore::open(const std::string& dir,
                                                         StoreOptions options) {
  if (options.changelog_limit == 0) return fail("session store: changelog_limit must be >= 1");
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (!ec) std::filesystem::permissions(dir, std::filesystem::perms::owner_all, ec);
  if (ec) return fail("session store " + dir + ": " + ec.message());

  rocksdb::Options opts;
  opts.create_if_missing = true;
  opts.create_missing_column_families = true;
  // Every change touches all three families, so a WAL file is freed only once all of them have
  // flushed; bounding the WAL keeps replay at restart short.
  opts.max_total_wal_size = 8u << 20;
  // After a full disk RocksDB waits for a memtable's worth of free space before it takes writes
  // again: a small memtable (the rows are small) lets it recover as soon as a little is freed.
  opts.write_buffer_size = 4u << 20;
  opts.info_log = std::make_shared<StoreLogger>();
  // No preallocated WAL space: a full disk then shows at the next write that needs a page, not
  // megabytes later, so the node refuses logins while it can still say why.
  opts.allow_fallocate = false;
  std::vector<rocksdb::ColumnFamilyDescriptor> descs;
  for (const auto& name : kCfNames) descs.emplace_back(name, rocksdb::ColumnFamilyOptions(opts));

  auto impl = std::make_unique<Impl>();
  impl->dir = dir;
  impl->options = std::move(options);
  rocksdb::Status s =
      rocksdb::DB::Open(rocksdb::DBOptions(opts), dir, descs, &impl->cfs, &impl->db);
  if (!s.ok()) return impl->failure("open", s);
  if (auto m = impl->read_meta(); !m) return m.failure();
  // Find the unreadable rows now, so that every reader skips them from the start.
  if (auto rows = impl->read_rows(); !rows) return rows.failure();
  return std::unique_ptr<SessionStore>(new SessionStore(std::move(impl)));
}

Result<proto::Change> SessionStore::record_upsert(const proto::SessionRecord& record,
                                                  std::uint64_t epoch, bool durable) {
  proto::Change c;
  *c.mutable_upsert() = record;
  return impl_->record(std::move(c), epoch, durable);
}

Result<proto::Change> SessionStore::record_remove(std::uint64_t index, std::uint64_t epoch,
                                                  bool durable) {
  rocksdb::PinnableSlice row;
  rocksdb::Status s = impl_->db->Get({}, impl_->cf(kSessions), be64(index), &row);
  if (s.IsNotFound())
    return fail(Errc::not_found, "no session " + std::to_string(index) + " to remove");
  if (!s.ok()) return impl_->failure("read sessions/" + std::to_string(index), s);
  proto::Change c;
  c.set_remove_index(index);
  return impl_->record(std::move(c), epoch, durable);
}

Result<void> SessionStore::apply(const proto::Change& change, bool sync) {
  const std::uint64_t last = impl_->meta.last_seq;
  const std::string at =
      "change " + std::to_string(change.seq()) + ", last_sequence " + std::to_string(last);
  if (change.seq() <= last) return fail(Errc::duplicate, "duplicate: " + at);
  if (change.seq() != last + 1) return fail(Errc::gap, "gap: " + at);
  // Within a history epochs never go back. (A change replayed to a returning standby may be
  // older than the standby's own epoch; that the leader itself is current is checked on the
  // stream, by the replication core.)
  if (change.epoch() < impl_->meta.last_epoch) {
    return fail(Errc::stale_epoch, "stale epoch: " + at + ", change epoch " +
                                       std::to_string(change.epoch()) + " below " +
                                       std::to_string(impl_->meta.last_epoch));
  }
  return impl_->write_change(change, sync);
}

Result<Snapshot> SessionStore::snapshot() const {
  // Single owner: no write can slip between reading the meta and the rows.
  auto rows = load_sessions();
  if (!rows) return rows.failure();
  Snapshot snap;
  snap.position = position();
  snap.epoch = impl_->meta.epoch;
  snap.next_session_index = impl_->meta.next_index;
  snap.sessions = std::move(*rows);
  return snap;
}

Result<void> SessionStore::install_snapshot(const Snapshot& snap) {
  Impl& d = *impl_;
  if (snap.epoch < d.meta.epoch) {
    return fail(Errc::stale_epoch, "stale epoch: snapshot epoch " + std::to_string(snap.epoch) +
                                       " below " + std::to_string(d.meta.epoch));
  }
  if (snap.position.epoch > snap.epoch)
    return fail(Errc::invalid, "bad snapshot: position epoch after epoch");
  rocksdb::WriteBatch batch;
  // One range tombstone per family instead of a delete per old row. The puts after it in the same
  // batch get later sequence numbers, so the tombstone does not hide them.
  const std::string lo, hi(9, '\xff');  // every 8-byte key sorts inside [lo, hi)
  batch.DeleteRange(d.cf(kSessions), lo, hi);
  batch.DeleteRange(d.cf(kChangelog), lo, hi);
  Meta next = d.meta;
  for (const auto& r : snap.sessions) {
    batch.Put(d.cf(kSessions), be64(r.index()), r.SerializeAsString());
    next.next_index = std::max(next.next_index, r.index() + 1);
  }
  // Never lower: an index this node handed out before (even on a discarded history) stays used.
  next.next_index = std::max(next.next_index, snap.next_session_index);
  next.epoch = snap.epoch;
  next.last_seq = next.base_seq = snap.position.sequence;
  next.last_epoch = next.base_epoch = snap.position.epoch;
  if (auto r = d.commit(batch, /*sync=*/true, next); !r) return r;
  d.quarantined.clear();  // every row was replaced
  return {};
}

Result<Catchup> SessionStore::changes_after(Position from, std::size_t max_count) const {
  const Impl& d = *impl_;
  Catchup out;
  auto matches = d.on_our_history(from);
  if (!matches || !*matches) {
    out.need_snapshot = true;
    out.why = matches ? "not on this history" : matches.error();
    return out;
  }
  std::uint64_t want = from.sequence + 1;
  std::unique_ptr<rocksdb::Iterator> it(d.db->NewIterator({}, d.cf(kChangelog)));
  for (it->Seek(be64(want));
       it->Valid() && want <= d.meta.last_seq && out.changes.size() < max_count;
       it->Next(), ++want) {
    proto::Change c;
    if (from_be64(it->key()) != want || !parse(c, it->value()) || c.seq() != want) break;
    out.changes.push_back(std::move(c));
  }
  if (!it->status().ok()) return d.failure("read changelog", it->status());
  if (want <= d.meta.last_seq && out.changes.size() < max_count) {
    // A hole or an unreadable entry in the log: the peer still gets everything, as a snapshot.
    out.changes.clear();
    out.need_snapshot = true;
    out.why = "changelog/" + std::to_string(want) + " missing or unreadable";
  }
  return out;
}

Result<std::vector<proto::SessionRecord>> SessionStore::load_sessions() const {
  return impl_->read_rows();
}

std::vector<QuarantinedRow> SessionStore::quarantined() const {
  std::vector<QuarantinedRow> out;
  for (const auto& [index, why] : impl_->quarantined) out.push_back({index, why});
  return out;
}

std::uint64_t SessionStore::epoch() const noexcept { return impl_->meta.epoch; }

Result<void> SessionStore::set_epoch(std::uint64_t epoch) {
  if (epoch < impl_->meta.epoch) {
    return fail(Errc::invalid, "epoch never goes backwards: " + std::to_string(epoch) + " < " +
                                   std::to_string(impl_->meta.epoch));
  }
  Meta next = impl_->meta;
  next.epoch = epoch;
  rocksdb::WriteBatch batch;
  return impl_->commit(batch, /*sync=*/true, next);
}

std::uint64_t SessionStore::last_sequence() const noexcept { return impl_->meta.last_seq; }

Position SessionStore::position() const noexcept {
  return {impl_->meta.last_seq, impl_->meta.last_epoch};
}

std::uint64_t SessionStore::oldest_sequence() const noexcept { return impl_->meta.base_seq + 1; }

std::uint64_t SessionStore::next_session_index() const noexcept { return impl_->meta.next_index; }

Result<void> SessionStore::set_next_session_index(std::uint64_t index) {
  if (index < impl_->meta.next_index) {
    return fail(Errc::invalid, "next_session_index never goes down: " + std::to_string(index) +
                                   " < " + std::to_string(impl_->meta.next_index));
  }
  Meta next = impl_->meta;
  next.next_index = index;
  rocksdb::WriteBatch batch;
  return impl_->commit(batch, /*sync=*/true, next);
}

Result<void> SessionStore::sync() {
  if (impl_->write_failed) return fail(Errc::io, "the store refuses writes after a failed one");
  rocksdb::Status s = impl_->db->SyncWAL();
  if (!s.ok()) {
    impl_->write_failed = true;
    return impl_->failure("sync WAL", s);
  }
  return {};
}

}  // namespace tandem::replication
