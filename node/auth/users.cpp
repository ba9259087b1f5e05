#include "node/auth/users.hpp"

#include <crypt.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace tandem::auth {
namespace {

// struct crypt_data is ~32 KiB: too big for a coroutine or thread stack, so it lives on the heap,
// zeroed as libxcrypt requires, and wiped on release because it holds the passphrase.
struct CryptDataDeleter {
  void operator()(crypt_data* d) const {
    OPENSSL_cleanse(d, sizeof(*d));
    delete d;
  }
};
using CryptData = std::unique_ptr<crypt_data, CryptDataDeleter>;
CryptData make_crypt_data() { return CryptData(new crypt_data{}); }

// A std::string copy of the password (crypt needs NUL termination) that is wiped when dropped.
struct Phrase {
  std::string text;
  explicit Phrase(std::string_view p) : text(p) {}
  ~Phrase() { OPENSSL_cleanse(text.data(), text.size()); }
  Phrase(const Phrase&) = delete;
  Phrase& operator=(const Phrase&) = delete;
};

// Strong methods only: "$y$" yescrypt (the default), "$gy$" gost-yescrypt, "$7$" scrypt,
// "$2b$" bcrypt, "$6$" sha512crypt. Legacy DES would silently cut passwords to 8 characters.
bool supported_hash(const std::string& hash) {
  static constexpr const char* kPrefixes[] = {"$y$", "$gy$", "$7$", "$2b$", "$6$"};
  bool known = false;
  for (const char* p : kPrefixes) known = known || hash.rfind(p, 0) == 0;
  return known && hash.find_first_of(": \t\r\n") == std::string::npos &&
         crypt_checksalt(hash.c_str()) == CRYPT_SALT_OK;
}

// A hash of a password nobody knows, so that an unknown user costs the same as a wrong password.
const std::string& dummy_hash() {
  static const std::string hash = [] {
    auto h = hash_password("tandem-no-such-user");
    return h ? h.value() : std::string("$y$j9T$TandemDummySalt$");
  }();
  return hash;
}

enum class ReadStatus { ok, missing, failed };

ReadStatus read_file(const std::string& path, std::string& out, std::string& error) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error = std::strerror(errno);
    return errno == ENOENT ? ReadStatus::missing : ReadStatus::failed;
  }
  char buf[8192];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      error = std::strerror(errno);
      ::close(fd);
      return ReadStatus::failed;
    }
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return ReadStatus::ok;
}

std::string_view trim_right(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

std::string_view trim_left(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  return s;
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// Write `data` to `path` so that readers see the old file or the new one, never a torn one.
Result<bool> replace_file(const std::string& path, const std::string& data) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return fail("cannot create " + tmp + ": " + std::strerror(errno));
  auto abandon = [&](const std::string& what) {
    const std::string message = what + " " + tmp + ": " + std::strerror(errno);
    ::close(fd);
    ::unlink(tmp.c_str());
    return fail(message);
  };
  if (::fchmod(fd, 0600) != 0) return abandon("cannot chmod");  // a stale tmp may have had more
  // Keep the owner and group of the file being replaced, so a daemon that reads it through its
  // group still can; but never let it become world-readable.
  struct stat old {};
  if (::stat(path.c_str(), &old) == 0) {
    if (::fchown(fd, old.st_uid, old.st_gid) != 0 && errno != EPERM) return abandon("cannot chown");
    if (::fchmod(fd, (old.st_mode & 0770) | 0600) != 0) return abandon("cannot chmod");
  }
  if (!write_all(fd, data)) return abandon("cannot write");
  if (::fsync(fd) != 0) return abandon("cannot fsync");
  if (::close(fd) != 0) {
    const std::string message = "cannot close " + tmp + ": " + std::strerror(errno);
    ::unlink(tmp.c_str());
    return fail(message);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string message =
        "cannot rename " + tmp + " to " + path + ": " + std::strerror(errno);
    ::unlink(tmp.c_str());
    return fail(message);
  }
  // The rename itself is only durable once the directory is synced; failure here is not fatal.
  const std::size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "."
                          : slash == 0               ? "/"
                                                     : path.substr(0, slash);
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return true;
}

}  // namespace

Result<std::string> hash_password(std::string_view password) {
  if (password.find('\0') != std::string_view::npos) return fail("password contains a NUL byte");
  if (password.size() >= CRYPT_MAX_PASSPHRASE_SIZE) {
    return fail("password is longer than " + std::to_string(CRYPT_MAX_PASSPHRASE_SIZE - 1) +
                " bytes");
  }
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  // nullptr prefix: libxcrypt's default method and cost; random salt from the OS.
  if (crypt_gensalt_rn(nullptr, 0, nullptr, 0, setting, sizeof(setting)) == nullptr) {
    return fail(std::string("crypt_gensalt failed: ") + std::strerror(errno));
  }
  const Phrase phrase(password);
  auto data = make_crypt_data();
  const char* out = crypt_rn(phrase.text.c_str(), setting, data.get(), sizeof(crypt_data));
  if (out == nullptr || out[0] == '*') {
    return fail(std::string("crypt failed: ") + std::strerror(errno));
  }
  return std::string(out);
}

bool verify_password(std::string_view password, const std::string& hash) {
  if (password.find('\0') != std::string_view::npos) return false;
  if (password.size() >= CRYPT_MAX_PASSPHRASE_SIZE) return false;
  if (!supported_hash(hash)) return false;
  const Phrase phrase(password);
  auto data = make_crypt_data();
  const char* out = crypt_rn(phrase.text.c_str(), hash.c_str(), data.get(), sizeof(crypt_data));
  // crypt_rn returns null on failure; an output starting with '*' is a failure token.
  if (out == nullptr || out[0] == '*') return false;
  const std::size_t n = std::strlen(out);
  return n == hash.size() && CRYPTO_memcmp(out, hash.data(), n) == 0;
}

bool valid_username(std::string_view user) {
  if (user.empty() || user.size() > 64) return false;
  for (char c : user) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '@' || c == '+' || c == '-';
    if (!ok) return false;
  }
  return true;
}

Result<UserDb> UserDb::load(const std::string& path) {
  std::string text;
  std::string error;
  if (read_file(path, text, error) != ReadStatus::ok) {
    return fail("cannot read users file " + path + ": " + error);
  }
  // Made now, at startup, so that not even the first unknown user at login costs an extra hash.
  (void)dummy_hash();
  return parse(text, path);
}

Result<UserDb> UserDb::parse(std::string_view text, const std::string& source) {
  UserDb db;
  std::map<std::string, std::size_t, std::less<>> first_line;
  std::size_t line_no = 0;
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    ++line_no;
    const std::string where = source + ": line " + std::to_string(line_no) + ": ";

    line = trim_right(line);
    if (trim_left(line).empty() || trim_left(line).front() == '#') continue;
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) return fail(where + "expected 'name:hash'");
    const std::string name(line.substr(0, colon));
    std::string hash(line.substr(colon + 1));
    if (!valid_username(name)) {
      return fail(where + "invalid user name '" + name +
                  "' (1-64 characters of A-Z a-z 0-9 . _ @ + -)");
    }
    const bool disabled = !hash.empty() && hash.front() == '!';
    if (disabled) hash.erase(0, 1);
    if (!(disabled && hash.empty()) && !supported_hash(hash)) {
      return fail(where + "user '" + name +
                  "': not a supported password hash (use yescrypt \"$y$...\" or sha512crypt "
                  "\"$6$...\", e.g. from `tandemctl passwd`; a leading '!' disables the user)");
    }
    if (const auto it = first_line.find(name); it != first_line.end()) {
      return fail(where + "duplicate user '" + name + "' (first on line " +
                  std::to_string(it->second) + ")");
    }
    first_line.emplace(name, line_no);
    db.users_.emplace(name, Entry{std::move(hash), disabled});
  }
  return db;
}

bool UserDb::check(std::string_view user, std::string_view password) const {
  const auto it = users_.find(user);
  if (it == users_.end() || it->second.disabled) {
    (void)verify_password(password, dummy_hash());
    return false;
  }
  return verify_password(password, it->second.hash);
}

bool UserDb::has(std::string_view user) const { return users_.find(user) != users_.end(); }

bool UserDb::enabled(std::string_view user) const {
  const auto it = users_.find(user);
  return it != users_.end() && !it->second.disabled;
}

bool UserDb::disabled(std::string_view user) const {
  const auto it = users_.find(user);
  return it != users_.end() && it->second.disabled;
}

void UserDb::set(const std::string& user, const std::string& hash) { users_[user].hash = hash; }

bool UserDb::set_enabled(std::string_view user, bool enabled) {
  const auto it = users_.find(user);
  if (it == users_.end()) return false;
  it->second.disabled = !enabled;
  return true;
}

bool UserDb::erase(std::string_view user) {
  const auto it = users_.find(user);
  if (it == users_.end()) return false;
  users_.erase(it);
  return true;
}

std::string UserDb::serialize() const {
  std::string out =
      "# Tandem users: one 'name:hash' per line (crypt(3)); set with tandemctl passwd.\n"
      "# A '!' before the hash disables the user (tandemctl disable / enable).\n";
  for (const auto& [name, entry] : users_)
    out += name + ':' + (entry.disabled ? "!" : "") + entry.hash + '\n';
  return out;
}

Result<bool> set_user_password(const std::string& path, const std::string& user,
                               std::string_view password) {
  if (!valid_username(user)) {
    return fail("invalid user name '" + user + "' (1-64 characters of A-Z a-z 0-9 . _ @ + -)");
  }
  if (password.empty()) return fail("empty password");
  UserDb db;
  std::string text;
  std::string error;
  switch (read_file(path, text, error)) {
    case ReadStatus::ok: {
      auto parsed = UserDb::parse(text, path);
      if (!parsed) return fail(parsed.error());
      db = std::move(parsed).value();
      break;
    }
    case ReadStatus::missing:
      break;  // first user: the file is created
    case ReadStatus::failed:
      return fail("cannot read users file " + path + ": " + error);
  }
  auto hash = hash_password(password);
  if (!hash) return fail(hash.error());
  db.set(user, hash.value());
  return replace_file(path, db.serialize());
}

Result<bool> set_user_state(const std::string& path, const std::string& user, UserChange change) {
  std::string text;
  std::string error;
  if (read_file(path, text, error) != ReadStatus::ok)
    return fail("cannot read users file " + path + ": " + error);
  auto parsed = UserDb::parse(text, path);
  if (!parsed) return fail(parsed.error());
  UserDb db = std::move(parsed).value();
  if (!db.has(user)) return fail("no user '" + user + "' in " + path);
  bool changed = true;
  switch (change) {
    case UserChange::enable:
      changed = db.disabled(user);
      db.set_enabled(user, true);
      break;
    case UserChange::disable:
      changed = db.enabled(user);
      db.set_enabled(user, false);
      break;
    case UserChange::remove:
      db.erase(user);
      break;
  }
  if (!changed) return false;
  auto written = replace_file(path, db.serialize());
  if (!written) return fail(written.error());
  return true;
}

}  // namespace tandem::auth
