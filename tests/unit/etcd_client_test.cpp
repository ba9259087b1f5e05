// The etcd client against a real etcd (Debian's etcd-server, /usr/bin/etcd) that each test starts
// on 127.0.0.1 with free ports and a fresh data directory, and kills at the end. A test fails (it
// does not skip) when etcd cannot start.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include "etcd/client.hpp"
#include "tests/unit/temp_dir.hpp"

extern char** environ;

namespace tandem::etcd {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr const char* kEtcd = "/usr/bin/etcd";
constexpr const char* kSetpriv = "/usr/bin/setpriv";

// The owner's executor: work posted from any thread runs on the test's thread, in order, while
// the test pumps it.
class Loop {
 public:
  Post post() {
    return [this](std::function<void()> fn) {
      std::lock_guard lock(mutex_);
      queue_.push_back(std::move(fn));
      cv_.notify_all();
    };
  }
  // Runs posted work until `done` holds or `timeout` passes; answers `done()`.
  bool run_until(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
    const auto end = Clock::now() + timeout;
    while (!done()) {
      std::function<void()> fn;
      {
        std::unique_lock lock(mutex_);
        if (!cv_.wait_until(lock, end, [this] { return !queue_.empty(); })) return done();
        fn = std::move(queue_.front());
        queue_.pop_front();
      }
      fn();
    }
    return true;
  }
  void run_for(std::chrono::milliseconds d) {
    run_until([] { return false; }, d);
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
};

template <class T>
Result<T> await(Loop& loop, const std::function<void(std::function<void(Result<T>)>)>& start,
                std::chrono::milliseconds limit = 5s) {
  std::optional<Result<T>> out;
  start([&](Result<T> r) { out.emplace(std::move(r)); });
  if (!loop.run_until([&] { return out.has_value(); }, limit))
    return fail(Errc::timeout, "test: no answer within the test's limit");
  return std::move(*out);
}

bool bindable(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

// A port nobody listens on. Each test process (ctest runs them in parallel) takes its ports from
// its own block of 50, chosen by pid, below the kernel's ephemeral range, going round the block
// (a killed etcd's ports come free again): two processes asking the kernel for "any free port"
// at once may be told the same one, and two tests would then share one etcd.
int free_port() {
  static const int first = 20000 + static_cast<int>(::getpid() % 250) * 50;
  static int next = 0;
  for (int tries = 0; tries < 50; ++tries) {
    const int port = first + next;
    next = (next + 1) % 50;
    if (bindable(port)) return port;
  }
  return 0;
}

// One single-member etcd on 127.0.0.1. Short heartbeat and election timeout: it elects itself
// within ~0.1 s, and its smallest lease TTL is 1 s instead of 2 s.
class EtcdServer {
 public:
  explicit EtcdServer(std::string dir) : dir_(std::move(dir)) {}
  ~EtcdServer() { kill(); }

  // "" when etcd runs and answers; otherwise why not.
  std::string start(Loop& loop) {
    const int client_port = free_port(), peer_port = free_port();
    if (client_port == 0 || peer_port == 0) return "no free port";
    url_ = "http://127.0.0.1:" + std::to_string(client_port);
    const std::string peer = "http://127.0.0.1:" + std::to_string(peer_port);
    log_ = dir_ + "/etcd.log";
    // Through setpriv (util-linux): etcd gets SIGKILL if this test process dies without its
    // teardown (a crash), instead of running on as an orphan.
    std::vector<std::string> args = {kSetpriv,
                                     "--pdeathsig=KILL",
                                     kEtcd,
                                     "--name=t",
                                     "--data-dir=" + dir_ + "/data",
                                     "--listen-client-urls=" + url_,
                                     "--advertise-client-urls=" + url_,
                                     "--listen-peer-urls=" + peer,
                                     "--initial-advertise-peer-urls=" + peer,
                                     "--initial-cluster=t=" + peer,
                                     "--heartbeat-interval=10",
                                     "--election-timeout=100",
                                     "--logger=zap",
                                     "--log-outputs=stderr",
                                     "--log-level=warn"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    const int rc = posix_spawn(&pid_, kSetpriv, &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
      pid_ = -1;
      return std::string("cannot start ") + kEtcd + ": " + std::strerror(rc);
    }
    // Ready when a read answers, within 10 s.
    auto probe = Client::create({.endpoints = {url_}, .request_timeout = 300ms}, loop.post());
    if (!probe) return probe.error();
    const auto end = Clock::now() + 10s;
    while (Clock::now() < end) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return "etcd exited at start; its log:\n" + log();
      }
      auto r = await<std::optional<KeyValue>>(
          loop, [&](auto done) { (*probe)->get("probe", std::move(done)); });
      if (r && ::waitpid(pid_, &status, WNOHANG) == 0) return "";  // ours answered, still runs
      std::this_thread::sleep_for(50ms);
    }
    return "etcd did not answer within 10 s; its log:\n" + log();
  }

  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  const std::string& url() const { return url_; }
  std::string log() const {
    std::ifstream in(log_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

 private:
  std::string dir_, url_, log_;
  pid_t pid_ = -1;
};

class EtcdClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string why = etcd_.start(loop_);
    ASSERT_EQ(why, "") << "etcd must start for this test";
    auto c = Client::create({.endpoints = {etcd_.url()}, .request_timeout = 1000ms}, loop_.post());
    ASSERT_TRUE(c.ok()) << c.error();
    client_ = std::move(c).value();
  }
  void TearDown() override {
    client_.reset();
    etcd_.kill();
  }

  Result<LeaseId> grant(std::chrono::seconds ttl) {
    return await<LeaseId>(loop_, [&](auto done) { client_->grant(ttl, std::move(done)); });
  }
  Result<std::chrono::seconds> keep_alive(LeaseId id) {
    return await<std::chrono::seconds>(
        loop_, [&](auto done) { client_->keep_alive(id, std::move(done)); });
  }
  Result<void> revoke(LeaseId id) {
    return await<void>(loop_, [&](auto done) { client_->revoke(id, std::move(done)); });
  }
  Result<Revision> put(std::string key, std::string value, LeaseId lease = 0) {
    return await<Revision>(loop_, [&](auto done) {
      client_->put({std::move(key), std::move(value), lease}, std::move(done));
    });
  }
  Result<std::optional<KeyValue>> get(std::string key) {
    return await<std::optional<KeyValue>>(
        loop_, [&](auto done) { client_->get(std::move(key), std::move(done)); });
  }
  Result<Range> get_prefix(std::string prefix) {
    return await<Range>(
        loop_, [&](auto done) { client_->get_prefix(std::move(prefix), std::move(done)); });
  }
  Result<void> remove(std::string key) {
    return await<void>(loop_, [&](auto done) { client_->remove(std::move(key), std::move(done)); });
  }
  Result<TxnResult> txn(Txn t) {
    return await<TxnResult>(loop_, [&](auto done) { client_->txn(std::move(t), std::move(done)); });
  }

  Loop loop_;
  testing::TempDir dir_;
  EtcdServer etcd_{dir_.sub("")};
  std::unique_ptr<Client> client_;
};

TEST_F(EtcdClientTest, LeaseGrantKeepAliveRevoke) {
  auto id = grant(5s);
  ASSERT_TRUE(id.ok()) << id.error();
  EXPECT_GT(*id, 0);

  for (int i = 0; i < 3; ++i) {  // the same stream serves several rounds
    auto ttl = keep_alive(*id);
    ASSERT_TRUE(ttl.ok()) << ttl.error();
    EXPECT_GE(ttl->count(), 4);
    EXPECT_LE(ttl->count(), 5);
  }
  auto other = grant(7s);
  ASSERT_TRUE(other.ok()) << other.error();
  auto ttl = keep_alive(*other);
  ASSERT_TRUE(ttl.ok()) << ttl.error();
  EXPECT_EQ(ttl->count(), 7);

  auto revoked = revoke(*id);
  ASSERT_TRUE(revoked.ok()) << revoked.error();
  auto gone = keep_alive(*id);
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.code(), Errc::not_found) << gone.error();
  auto again = revoke(*id);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.code(), Errc::not_found) << again.error();
  EXPECT_NE(again.error().find(etcd_.url()), std::string::npos) << again.error();
}

TEST_F(EtcdClientTest, ExpiredLeaseTakesItsKeys) {
  auto id = grant(1s);
  ASSERT_TRUE(id.ok()) << id.error();
  ASSERT_TRUE(put("/tandem/member/m1/active", "node-a", *id).ok());
  auto held = get("/tandem/member/m1/active");
  ASSERT_TRUE(held.ok()) << held.error();
  ASSERT_TRUE(held->has_value());
  EXPECT_EQ((*held)->lease, *id);
  EXPECT_EQ((*held)->value, "node-a");

  // No keep-alive: etcd revokes the lease after its TTL (checked every 0.5 s) and deletes the key.
  const auto start = Clock::now();
  bool gone = false;
  while (!gone && Clock::now() - start < 6s) {
    auto r = get("/tandem/member/m1/active");
    ASSERT_TRUE(r.ok()) << r.error();
    gone = !r->has_value();
    if (!gone) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(gone) << "the key outlived its lease by more than 6 s";
  EXPECT_GE(Clock::now() - start, 500ms) << "the key went before the lease could expire";
  auto ttl = keep_alive(*id);
  ASSERT_FALSE(ttl.ok());
  EXPECT_EQ(ttl.code(), Errc::not_found) << ttl.error();
}

Txn create_if_absent(const std::string& key, const std::string& value, LeaseId lease) {
  Txn t;
  t.compares.push_back({.key = key,
                        .target = Compare::Target::create_revision,
                        .op = Compare::Op::equal,
                        .number = 0});
  t.success.push_back(Put{key, value, lease});
  t.failure.push_back(Get{key});
  return t;
}

TEST_F(EtcdClientTest, CreateIfAbsentSucceedsOnceAndReturnsTheHolder) {
  auto a = grant(10s);
  auto b = grant(10s);
  ASSERT_TRUE(a.ok() && b.ok());
  auto first = txn(create_if_absent("/tandem/member/m1/active", "node-a", *a));
  ASSERT_TRUE(first.ok()) << first.error();
  EXPECT_TRUE(first->succeeded);
  ASSERT_EQ(first->responses.size(), 1u);
  EXPECT_TRUE(first->responses[0].empty());
  EXPECT_GT(first->revision, 0);

  auto second = txn(create_if_absent("/tandem/member/m1/active", "node-b", *b));
  ASSERT_TRUE(second.ok()) << second.error();
  EXPECT_FALSE(second->succeeded);
  ASSERT_EQ(second->responses.size(), 1u);
  ASSERT_EQ(second->responses[0].size(), 1u);
  const KeyValue& holder = second->responses[0][0];
  EXPECT_EQ(holder.value, "node-a");
  EXPECT_EQ(holder.lease, *a);
  EXPECT_EQ(holder.create_revision, first->revision);
  EXPECT_EQ(second->revision, first->revision);  // nothing written

  auto now = get("/tandem/member/m1/active");
  ASSERT_TRUE(now.ok() && now->has_value());
  EXPECT_EQ((*now)->value, "node-a");
}

TEST_F(EtcdClientTest, CompareAndSwapOnModRevision) {
  auto r1 = put("/tandem/member/m1/record", "{\"sessions\":1}");
  ASSERT_TRUE(r1.ok()) << r1.error();
  auto seen = get("/tandem/member/m1/record");
  ASSERT_TRUE(seen.ok() && seen->has_value());
  EXPECT_EQ((*seen)->mod_revision, *r1);

  auto swap = [&](Revision expected, std::string value) {
    Txn t;
    t.compares.push_back({.key = "/tandem/member/m1/record",
                          .target = Compare::Target::mod_revision,
                          .op = Compare::Op::equal,
                          .number = expected});
    t.success.push_back(Put{"/tandem/member/m1/record", std::move(value)});
    return txn(std::move(t));
  };
  auto ok = swap((*seen)->mod_revision, "{\"sessions\":2}");
  ASSERT_TRUE(ok.ok()) << ok.error();
  EXPECT_TRUE(ok->succeeded);
  EXPECT_GT(ok->revision, *r1);

  auto stale = swap((*seen)->mod_revision, "{\"sessions\":3}");  // the old revision again
  ASSERT_TRUE(stale.ok()) << stale.error();
  EXPECT_FALSE(stale->succeeded);

  auto now = get("/tandem/member/m1/record");
  ASSERT_TRUE(now.ok() && now->has_value());
  EXPECT_EQ((*now)->value, "{\"sessions\":2}");
  EXPECT_EQ((*now)->mod_revision, ok->revision);
  EXPECT_EQ((*now)->version, 2);

  // A value compare, for completeness: not equal to what is there.
  Txn t;
  t.compares.push_back({.key = "/tandem/member/m1/record",
                        .target = Compare::Target::value,
                        .op = Compare::Op::not_equal,
                        .text = "{\"sessions\":2}"});
  t.success.push_back(Delete{"/tandem/member/m1/record"});
  auto v = txn(std::move(t));
  ASSERT_TRUE(v.ok()) << v.error();
  EXPECT_FALSE(v->succeeded);
}

TEST_F(EtcdClientTest, PutGetPrefixRemove) {
  ASSERT_TRUE(put("/tandem/member/a/record", "A").ok());
  ASSERT_TRUE(put("/tandem/member/b/record", "B").ok());
  auto last = put("/tandem/other", "X");
  ASSERT_TRUE(last.ok()) << last.error();

  auto a = get("/tandem/member/a/record");
  ASSERT_TRUE(a.ok()) << a.error();
  ASSERT_TRUE(a->has_value());
  EXPECT_EQ((*a)->value, "A");
  EXPECT_EQ((*a)->version, 1);
  auto missing = get("/tandem/member/zzz");
  ASSERT_TRUE(missing.ok()) << missing.error();
  EXPECT_FALSE(missing->has_value());

  auto range = get_prefix("/tandem/member/");
  ASSERT_TRUE(range.ok()) << range.error();
  ASSERT_EQ(range->kvs.size(), 2u);
  EXPECT_EQ(range->kvs[0].key, "/tandem/member/a/record");
  EXPECT_EQ(range->kvs[1].key, "/tandem/member/b/record");
  EXPECT_EQ(range->revision, *last);

  ASSERT_TRUE(remove("/tandem/member/a/record").ok());
  auto after = get("/tandem/member/a/record");
  ASSERT_TRUE(after.ok());
  EXPECT_FALSE(after->has_value());
  auto range2 = get_prefix("/tandem/member/");
  ASSERT_TRUE(range2.ok());
  ASSERT_EQ(range2->kvs.size(), 1u);
  EXPECT_EQ(range2->kvs[0].key, "/tandem/member/b/record");
  EXPECT_GT(range2->revision, *last);
  EXPECT_TRUE(remove("/tandem/member/never").ok());  // deleting nothing is not an error
}

struct Seen {
  std::vector<WatchEvent> events;
  std::vector<Error> ends;
  int batches = 0;
};

std::unique_ptr<Watch> watch_into(Client& c, const std::string& prefix, Revision from, Seen& seen) {
  return c.watch_prefix(
      prefix, from,
      [&seen](std::vector<WatchEvent> batch) {
        ++seen.batches;
        for (auto& e : batch) seen.events.push_back(std::move(e));
      },
      [&seen](Error e) { seen.ends.push_back(std::move(e)); });
}

TEST_F(EtcdClientTest, WatchPrefixSeesPutsAndDeletesInOrderAndFromARevision) {
  auto before = get_prefix("/tandem/member/");
  ASSERT_TRUE(before.ok()) << before.error();
  Seen live;
  auto watch = watch_into(*client_, "/tandem/member/", before->revision + 1, live);

  auto r1 = put("/tandem/member/a/record", "1");
  ASSERT_TRUE(put("/tandem/outside", "x").ok());
  ASSERT_TRUE(put("/tandem/member/a/record", "2").ok());
  ASSERT_TRUE(remove("/tandem/member/a/record").ok());
  auto r4 = put("/tandem/member/b/record", "3");
  ASSERT_TRUE(r1.ok() && r4.ok());
  ASSERT_TRUE(loop_.run_until([&] { return live.events.size() >= 4; }, 5s))
      << "saw " << live.events.size() << " events";

  auto check = [&](const std::vector<WatchEvent>& ev) {
    ASSERT_EQ(ev.size(), 4u);
    EXPECT_EQ(ev[0].kind, WatchEvent::Kind::put);
    EXPECT_EQ(ev[0].kv.value, "1");
    EXPECT_EQ(ev[0].kv.mod_revision, *r1);
    EXPECT_EQ(ev[1].kind, WatchEvent::Kind::put);
    EXPECT_EQ(ev[1].kv.value, "2");
    EXPECT_EQ(ev[2].kind, WatchEvent::Kind::remove);
    EXPECT_EQ(ev[2].kv.key, "/tandem/member/a/record");
    EXPECT_EQ(ev[3].kind, WatchEvent::Kind::put);
    EXPECT_EQ(ev[3].kv.key, "/tandem/member/b/record");
    EXPECT_EQ(ev[3].kv.mod_revision, *r4);
    for (std::size_t i = 1; i < ev.size(); ++i)
      EXPECT_GT(ev[i].kv.mod_revision, ev[i - 1].kv.mod_revision);
  };
  check(live.events);
  EXPECT_TRUE(live.ends.empty());

  // A watch that starts at r1 replays the same history.
  Seen replay;
  auto later = watch_into(*client_, "/tandem/member/", *r1, replay);
  ASSERT_TRUE(loop_.run_until([&] { return replay.events.size() >= 4; }, 5s));
  check(replay.events);

  // From the last revision only: the one event.
  Seen tail;
  auto last = watch_into(*client_, "/tandem/member/", *r4, tail);
  ASSERT_TRUE(loop_.run_until([&] { return !tail.events.empty(); }, 5s));
  loop_.run_for(200ms);
  ASSERT_EQ(tail.events.size(), 1u);
  EXPECT_EQ(tail.events[0].kv.mod_revision, *r4);
}

TEST_F(EtcdClientTest, WatchEndsWhenEtcdIsKilled) {
  auto now = get_prefix("/tandem/");
  ASSERT_TRUE(now.ok()) << now.error();
  Seen seen;
  auto watch = watch_into(*client_, "/tandem/", now->revision + 1, seen);
  // The watch is up once it delivers an event.
  ASSERT_TRUE(put("/tandem/x", "1").ok());
  ASSERT_TRUE(loop_.run_until([&] { return !seen.events.empty(); }, 5s));

  etcd_.kill();
  const auto start = Clock::now();
  ASSERT_TRUE(loop_.run_until([&] { return !seen.ends.empty(); }, 5s)) << "no on_end in 5 s";
  EXPECT_LT(Clock::now() - start, 3s);
  EXPECT_EQ(seen.ends[0].code, Errc::unavailable) << seen.ends[0].message;
  EXPECT_NE(seen.ends[0].message.find(etcd_.url()), std::string::npos) << seen.ends[0].message;
  loop_.run_for(300ms);
  EXPECT_EQ(seen.ends.size(), 1u);

  // The next requests fail as unavailable, quickly.
  auto r = get("/tandem/x");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), Errc::unavailable) << r.error();
}

TEST_F(EtcdClientTest, KeepAliveStreamBrokenByEtcdDeathAnswersAnError) {
  auto id = grant(5s);
  ASSERT_TRUE(id.ok()) << id.error();
  ASSERT_TRUE(keep_alive(*id).ok());
  etcd_.kill();
  const auto start = Clock::now();
  auto ttl = keep_alive(*id);
  ASSERT_FALSE(ttl.ok());
  EXPECT_TRUE(ttl.code() == Errc::unavailable || ttl.code() == Errc::timeout) << ttl.error();
  EXPECT_LT(Clock::now() - start, 1500ms);
}

TEST(EtcdClientDeadEndpointTest, RequestsAnswerAnErrorWithinTheTimeout) {
  Loop loop;
  const std::string url = "http://127.0.0.1:" + std::to_string(free_port());
  auto c = Client::create({.endpoints = {url}, .request_timeout = 500ms}, loop.post());
  ASSERT_TRUE(c.ok()) << c.error();
  Client& client = **c;

  auto start = Clock::now();
  auto r = await<std::optional<KeyValue>>(
      loop, [&](auto done) { client.get("k", done); }, 3s);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.code() == Errc::unavailable || r.code() == Errc::timeout) << r.error();
  EXPECT_NE(r.error().find(url), std::string::npos) << r.error();
  EXPECT_LT(Clock::now() - start, 800ms);

  start = Clock::now();
  auto k = await<std::chrono::seconds>(
      loop, [&](auto done) { client.keep_alive(1, done); }, 3s);
  ASSERT_FALSE(k.ok());
  EXPECT_TRUE(k.code() == Errc::unavailable || k.code() == Errc::timeout) << k.error();
  EXPECT_LT(Clock::now() - start, 800ms);

  Seen seen;
  auto watch = watch_into(client, "/", 0, seen);
  ASSERT_TRUE(loop.run_until([&] { return !seen.ends.empty(); }, 3s));
  EXPECT_EQ(seen.ends[0].code, Errc::unavailable) << seen.ends[0].message;
}

TEST_F(EtcdClientTest, AFailedRequestSendsTheNextToTheNextEndpoint) {
  const std::string dead = "http://127.0.0.1:" + std::to_string(free_port());
  auto c =
      Client::create({.endpoints = {dead, etcd_.url()}, .request_timeout = 500ms}, loop_.post());
  ASSERT_TRUE(c.ok()) << c.error();
  Client& client = **c;
  auto first = await<Revision>(loop_, [&](auto done) { client.put({"k", "v"}, done); });
  ASSERT_FALSE(first.ok());
  EXPECT_NE(first.error().find(dead), std::string::npos) << first.error();
  auto second = await<Revision>(loop_, [&](auto done) { client.put({"k", "v"}, done); });
  ASSERT_TRUE(second.ok()) << second.error();
  auto third = await<Revision>(loop_, [&](auto done) { client.put({"k", "w"}, done); });
  ASSERT_TRUE(third.ok()) << third.error();  // stays on the endpoint that answers
  EXPECT_GT(*third, *second);
}

TEST_F(EtcdClientTest, CallbacksRunOnTheExecutorNeverInsideTheCall) {
  const auto test_thread = std::this_thread::get_id();
  bool inside = false, ran = false, wrong_place = false;
  auto check = [&] {
    ran = true;
    wrong_place = wrong_place || inside || std::this_thread::get_id() != test_thread;
  };
  inside = true;
  client_->put({"k", "v"}, [&](Result<Revision>) { check(); });
  inside = false;
  ASSERT_TRUE(loop_.run_until([&] { return ran; }, 5s));
  EXPECT_FALSE(wrong_place);

  // Also for an error answered at once (a lease that does not exist).
  ran = false;
  inside = true;
  client_->keep_alive(12345, [&](Result<std::chrono::seconds> r) {
    EXPECT_EQ(r.code(), Errc::not_found) << r.error();
    check();
  });
  inside = false;
  ASSERT_TRUE(loop_.run_until([&] { return ran; }, 5s));
  EXPECT_FALSE(wrong_place);
}

TEST_F(EtcdClientTest, NoCallbackRunsAfterTheClientOrTheWatchIsDestroyed) {
  auto id = grant(5s);
  ASSERT_TRUE(id.ok()) << id.error();

  // A watch destroyed while the client lives: its events are not delivered.
  int after_watch = 0;
  auto watch = client_->watch_prefix(
      "/d/", 0, [&](std::vector<WatchEvent>) { ++after_watch; }, [&](Error) { ++after_watch; });
  watch.reset();
  ASSERT_TRUE(put("/d/1", "x").ok());
  loop_.run_for(300ms);
  EXPECT_EQ(after_watch, 0);

  // Requests of every kind in flight, then the client goes: none of their callbacks runs, even
  // though their answers (or cancellations) arrive and the executor keeps running.
  int after_client = 0;
  auto count = [&](auto) { ++after_client; };
  client_->put({"/d/2", "y"}, count);
  client_->get("/d/2", count);
  client_->get_prefix("/d/", count);
  client_->keep_alive(*id, count);
  client_->grant(5s, count);
  client_->txn(create_if_absent("/d/3", "z", 0), count);
  auto live_watch = client_->watch_prefix(
      "/d/", 1, [&](std::vector<WatchEvent>) { ++after_client; }, [&](Error) { ++after_client; });
  client_.reset();
  loop_.run_for(500ms);
  live_watch.reset();  // a watch may outlive its client
  loop_.run_for(200ms);
  EXPECT_EQ(after_client, 0);
}

}  // namespace
}  // namespace tandem::etcd
