#pragma once
// The node's durable session store: session rows, the change log a standby follows, and the
// member's epoch, in one RocksDB under <state_dir>/db. Every change writes its row, its log entry
// and the new last_sequence in ONE WriteBatch, so after any crash the rows are exactly the effect
// of the log up to last_sequence (S16, S19: a member keeps every session a client was told of).
//
// Single owner (the replication layer's thread); not thread-safe. RocksDB stays behind a pimpl so
// that including this header costs only the generated protobuf headers.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "proto/replication.pb.h"
#include "proto/session.pb.h"

namespace tandem::replication {

struct StoreOptions {
  // The change log keeps at least this many changes (it is trimmed in steps of limit/16, so it
  // holds up to limit + limit/16). A standby at most this far behind catches up from the log;
  // one further behind gets a snapshot. Must be at least 1.
  std::uint64_t changelog_limit = 100000;
  // Wall clock for Change.at_unix_ms, injectable for tests; empty means the system clock.
  std::function<std::int64_t()> now_unix_ms;
};

// Where a history ends: the last change's sequence number and the epoch it was made in.
// (0, 0) is the empty history.
struct Position {
  std::uint64_t sequence = 0;
  std::uint64_t epoch = 0;
  friend bool operator==(const Position&, const Position&) = default;
};

// Everything a standby needs to start following at `position` without the log before it.
struct Snapshot {
  Position position;        // last change reflected in `sessions`
  std::uint64_t epoch = 0;  // the active's current epoch
  std::uint64_t next_session_index = 1;
  std::vector<proto::SessionRecord> sessions;  // ascending index
};

// Answer to a standby's "I am at position P, what follows?".
struct Catchup {
  std::vector<proto::Change> changes;  // P.sequence + 1 onwards, contiguous, at most max_count
  // P is older than the trimmed log, ahead of this store, or on another history (a deposed
  // active's unreplicated tail): send a snapshot instead. `changes` is then empty.
  bool need_snapshot = false;
  std::string why;  // when need_snapshot: the reason, for the log
};

// A session row that could not be read (a corrupt disk, a record from a build with a bug): kept
// out of every reader, with a copy and the reason in the store's quarantine.
struct QuarantinedRow {
  std::uint64_t index = 0;
  std::string reason;
};

class SessionStore {
 public:
  // Opens (creating if missing, mode 0700: the rows hold token hashes, S9) the store in `dir`.
  static Result<std::unique_ptr<SessionStore>> open(const std::string& dir,
                                                    StoreOptions options = {});
  ~SessionStore();
  SessionStore(const SessionStore&) = delete;
  SessionStore& operator=(const SessionStore&) = delete;

  // --- Active side -------------------------------------------------------------------------
  // Records a change as seq = last_sequence + 1: the row (put or delete), the log entry and the
  // meta in one batch. `durable` fsyncs the WAL before returning: use it for every change a
  // client is told about (creation, resume, removal). A non-durable change survives a process
  // crash (it is in the OS page cache) but not a power loss; counter updates may take that risk.
  // Refused (Errc::fenced) when `epoch` is below the store's epoch (this node has been fenced);
  // a higher one is adopted. An upsert also raises next_session_index past the record's index.
  Result<proto::Change> record_upsert(const proto::SessionRecord& record, std::uint64_t epoch,
                                      bool durable);
  // Refused (Errc::not_found) for an index with no row: the session table and the store disagree.
  Result<proto::Change> record_remove(std::uint64_t index, std::uint64_t epoch, bool durable);

  // --- Standby side ------------------------------------------------------------------------
  // Applies a change from the active, always synced (the standby's ack means "on disk").
  // Error codes: Errc::gap (seq > last_sequence + 1: catch up first), Errc::duplicate
  // (seq <= last_sequence), Errc::stale_epoch (change.epoch below the epoch of the last change:
  // not this history), Errc::invalid (neither upsert nor remove), Errc::io.
  // `sync` = false leaves the fsync to a later sync() (the standby's group commit); the standby
  // acknowledges nothing before that.
  Result<void> apply(const proto::Change& change, bool sync = true);

  // All readable sessions plus the position and epoch (quarantined rows are left out, as they
  // are everywhere on this node).
  Result<Snapshot> snapshot() const;
  // Replaces every row and the log with the snapshot's, in one synced batch; afterwards the store
  // follows from snapshot.position. Refused when snapshot.epoch is below the store's epoch.
  Result<void> install_snapshot(const Snapshot& snapshot);

  // The changes after `from` for a standby catching up (see Catchup). An unreadable or missing
  // log entry turns into need_snapshot, never into an error: the peer is served either way.
  Result<Catchup> changes_after(Position from, std::size_t max_count) const;

  // Every readable session row, ascending index: what the node loads at startup. A row that does
  // not parse (or whose index differs from its key) is quarantined, never fatal: one bad record
  // must not keep a node down. Errors only when RocksDB itself fails.
  Result<std::vector<proto::SessionRecord>> load_sessions() const;
  // Rows quarantined since open (and not yet replaced or removed by a change). An active records
  // a removal for each, so that its standby drops the session too; a standby asks for a snapshot.
  std::vector<QuarantinedRow> quarantined() const;

  // --- Meta --------------------------------------------------------------------------------
  std::uint64_t epoch() const noexcept;
  // Synced. The epoch never goes backwards (fencing relies on it): a lower value is refused.
  Result<void> set_epoch(std::uint64_t epoch);
  std::uint64_t last_sequence() const noexcept;
  Position position() const noexcept;
  // The first sequence number changes_after can still return (last_sequence + 1 when empty).
  std::uint64_t oldest_sequence() const noexcept;
  // The next index the session table may hand out. Upserts raise it; it never goes down, so an
  // index is never reused after a restart or a failover.
  std::uint64_t next_session_index() const noexcept;
  Result<void> set_next_session_index(std::uint64_t index);  // synced; a lower value is refused
  // fsyncs the WAL: makes every earlier non-durable change durable (a clean shutdown; the group
  // commit that lets a burst of changes recorded with durable = false share one sync).
  Result<void> sync();

 private:
  struct Impl;
  explicit SessionStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tandem::replication
