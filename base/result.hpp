#pragma once
// A value or an error: the return type of every parser, loader and store operation.
// (std::expected is C++23; g++ 12 does not have it.) An error has a code, for the caller's
// decisions, and a message, for people: code never branches on the text.
#include <string>
#include <utility>
#include <variant>

namespace tandem {

enum class Errc {
  failed,   // anything without a more specific code
  invalid,  // malformed or out-of-range input
  not_found,
  io,           // the disk or the OS refused
  corrupt,      // stored data that does not parse
  gap,          // a change after a missing one: catch up first
  duplicate,    // a change already applied
  stale_epoch,  // from an epoch below ours: the sender is fenced
  fenced,       // we may no longer write in this epoch
  wrong_role,   // asked of a node in the other role
  busy,         // already in progress
  unavailable,  // the peer or a resource is not there now
  timeout,
};
const char* to_string(Errc code) noexcept;

struct Error {
  std::string message;
  Errc code = Errc::failed;
};

template <class T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT: implicit on purpose
  Result(Error error) : v_(std::move(error)) {}  // NOLINT
  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  const std::string& error() const { return std::get<1>(v_).message; }
  Errc code() const { return std::get<1>(v_).code; }
  const Error& failure() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// Success with nothing to return.
template <>
class Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT
  bool ok() const noexcept { return ok_; }
  explicit operator bool() const noexcept { return ok_; }
  const std::string& error() const { return error_.message; }
  Errc code() const { return error_.code; }
  const Error& failure() const { return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

inline Error fail(std::string message) { return Error{std::move(message), Errc::failed}; }
inline Error fail(Errc code, std::string message) { return Error{std::move(message), code}; }

}  // namespace tandem
