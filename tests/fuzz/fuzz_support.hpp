#pragma once
// Shared by the fuzz targets: invariant checks that abort with a message (libFuzzer then saves
// the input as a crash file), a quiet logger, deterministic chunking, and a scratch directory.
#include <google/protobuf/stubs/logging.h>
#include <stdlib.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "base/log.hpp"

// An invariant of the code under test. A failure prints what broke and aborts: a finding.
#define FUZZ_CHECK(cond, ...)                                                                   \
  do {                                                                                          \
    if (!(cond)) ::tandem::fuzz::failed(__FILE__, __LINE__, #cond, ::std::string(__VA_ARGS__)); \
  } while (0)

namespace tandem::fuzz {

[[noreturn]] inline void failed(const char* file, int line, const char* cond,
                                const std::string& detail) {
  std::fprintf(stderr, "\n==FUZZ_CHECK== %s:%d: %s\n", file, line, cond);
  if (!detail.empty()) std::fprintf(stderr, "==FUZZ_CHECK== %s\n", detail.c_str());
  std::fflush(stderr);
  std::abort();
}

// Every target runs millions of inputs, and most of them make the code under test log a refusal.
// Levels above `error` print nothing; the targets check results, not log lines. Protobuf's own
// complaints (a `string` field that is not UTF-8 when parsing) are silenced too.
inline void quiet_logs() {
  log::set_level(static_cast<log::Level>(static_cast<int>(log::Level::error) + 1));
  google::protobuf::SetLogHandler(
      [](google::protobuf::LogLevel, const char*, int, const std::string&) {});
}

// Deterministic pseudo-random numbers from the input itself (splitmix64 over an FNV-1a seed): the
// same input always takes the same path, so every crash file reproduces.
class Rng {
 public:
  explicit Rng(std::string_view seed) {
    std::uint64_t h = 0xcbf29ce484222325ULL;
    for (unsigned char c : seed) h = (h ^ c) * 0x100000001b3ULL;
    state_ = h;
  }
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  std::size_t below(std::size_t n) { return n == 0 ? 0 : static_cast<std::size_t>(next() % n); }

 private:
  std::uint64_t state_;
};

// Cuts `total` bytes into chunk sizes as a network would deliver them: single bytes, small
// pieces, and now and then a large one.
inline std::vector<std::size_t> chunk_sizes(std::size_t total, Rng& rng) {
  std::vector<std::size_t> out;
  while (total > 0) {
    std::size_t n;
    switch (rng.below(4)) {
      case 0:
        n = 1;
        break;
      case 1:
        n = 1 + rng.below(8);
        break;
      case 2:
        n = 1 + rng.below(64);
        break;
      default:
        n = 1 + rng.below(4096);
        break;
    }
    n = std::min(n, total);
    out.push_back(n);
    total -= n;
  }
  return out;
}

// A directory for the process's lifetime, removed at a normal exit: under $TANDEM_FUZZ_SCRATCH
// (run.sh points it at a directory it removes, crash or not), else on tmpfs when there is one
// (RocksDB's syncs cost nothing there).
class ScratchDir {
 public:
  ScratchDir() {
    namespace fs = std::filesystem;
    std::error_code ec;
    const char* env = std::getenv("TANDEM_FUZZ_SCRATCH");
    const fs::path base = env != nullptr && *env != '\0'     ? fs::path(env)
                          : fs::is_directory("/dev/shm", ec) ? fs::path("/dev/shm")
                                                             : fs::temp_directory_path();
    std::string tmpl = (base / "tandem-fuzz-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) failed(__FILE__, __LINE__, "mkdtemp", tmpl);
    path_ = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline std::string_view as_chars(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace tandem::fuzz
