// tandemctl: the operator's command line for a Tandem node.
//
//   tandemctl [--socket PATH] COMMAND [ARGS...]
//
// Commands are rows in kCommands; each parses its own arguments. Commands that talk to a running
// tandemd (status, show sessions, logoff, failover, reload) will use `Globals::socket`, the
// daemon's admin socket; passwd works on the users file directly and needs no daemon.
#include <openssl/crypto.h>
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "node/auth/users.hpp"
#include "node/config/defaults.hpp"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

struct Globals {
  std::string socket = tandem::defaults::kAdminSocket;
};

using Args = std::vector<std::string_view>;  // what follows the command name

struct Command {
  std::string_view name;
  std::string_view synopsis;
  std::string_view summary;
  int (*run)(const Globals&, const Args&);
};

int cmd_passwd(const Globals& globals, const Args& args);

constexpr Command kCommands[] = {
    {"passwd", "passwd [--users-file FILE] USER",
     "Set USER's password in the users file, adding USER if new. The password is the\n"
     "      first line of stdin; on a terminal it is asked for twice.",
     cmd_passwd},
};

void usage(std::FILE* out) {
  std::fprintf(out,
               "usage: tandemctl [--socket PATH] COMMAND [ARGS...]\n"
               "       tandemctl --help\n\n"
               "  --socket PATH   the daemon's admin socket (default %s)\n\n"
               "commands:\n",
               tandem::defaults::kAdminSocket);
  for (const Command& c : kCommands) {
    std::fprintf(out, "  %.*s\n      %.*s\n", static_cast<int>(c.synopsis.size()),
                 c.synopsis.data(), static_cast<int>(c.summary.size()), c.summary.data());
  }
  std::fprintf(out, "\ndefaults: --users-file %s\n", tandem::defaults::kUsersFile);
}

int usage_error(const std::string& message) {
  std::fprintf(stderr, "tandemctl: %s\n\n", message.c_str());
  usage(stderr);
  return kExitUsage;
}

// Accepts "--name VALUE" and "--name=VALUE"; advances `i` past what it used. nullopt when
// args[i] is not this option; a missing value is reported through `missing`.
std::optional<std::string> take_option(const Args& args, std::size_t& i, std::string_view name,
                                       bool& missing) {
  const std::string_view a = args[i];
  if (a == name) {
    if (i + 1 >= args.size()) {
      missing = true;
      return std::nullopt;
    }
    i += 1;
    return std::string(args[i]);
  }
  if (a.size() > name.size() && a.substr(0, name.size()) == name && a[name.size()] == '=') {
    return std::string(a.substr(name.size() + 1));
  }
  return std::nullopt;
}

// Turns terminal echo off for its lifetime, so a typed password is not shown.
class NoEcho {
 public:
  NoEcho() : active_(::tcgetattr(STDIN_FILENO, &saved_) == 0) {
    if (!active_) return;
    termios quiet = saved_;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  }
  ~NoEcho() {
    if (active_) ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_);
  }
  NoEcho(const NoEcho&) = delete;
  NoEcho& operator=(const NoEcho&) = delete;

 private:
  termios saved_{};
  bool active_;
};

// One line from stdin without its line ending; false at end of input.
bool read_line(std::string& out) {
  if (!std::getline(std::cin, out)) return false;
  if (!out.empty() && out.back() == '\r') out.pop_back();
  return true;
}

void wipe(std::string& s) {
  OPENSSL_cleanse(s.data(), s.size());
  s.clear();
}

// The password: the first line of stdin, or asked for twice when stdin is a terminal.
std::optional<std::string> read_password(const std::string& user, std::string& error) {
  std::string first;
  if (::isatty(STDIN_FILENO) == 0) {
    if (read_line(first)) return first;
    error = "no password on stdin";
    return std::nullopt;
  }
  std::string second;
  {
    const NoEcho no_echo;
    std::fprintf(stderr, "New password for %s: ", user.c_str());
    const bool got_first = read_line(first);
    std::fprintf(stderr, "\nRetype new password: ");
    const bool got_second = got_first && read_line(second);
    std::fprintf(stderr, "\n");
    if (!got_second) error = "no password entered";
  }
  if (error.empty() && first != second) error = "the passwords do not match";
  wipe(second);
  if (!error.empty()) {
    wipe(first);
    return std::nullopt;
  }
  return first;
}

int cmd_passwd(const Globals& /*globals: passwd needs no daemon*/, const Args& args) {
  std::string users_file = tandem::defaults::kUsersFile;
  std::vector<std::string> positional;
  bool options_done = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view a = args[i];
    if (options_done || a.empty() || a[0] != '-') {
      positional.emplace_back(a);
      continue;
    }
    bool missing = false;
    if (a == "--") {
      options_done = true;  // so a user name may start with '-'
    } else if (a == "--help" || a == "-h") {
      usage(stdout);
      return kExitOk;
    } else if (auto v = take_option(args, i, "--users-file", missing)) {
      users_file = *v;
    } else if (missing) {
      return usage_error("passwd: --users-file needs a FILE");
    } else {
      return usage_error("passwd: unknown option '" + std::string(a) + "'");
    }
  }
  if (positional.size() != 1) return usage_error("passwd: expected exactly one USER");
  const std::string& user = positional[0];
  if (users_file.empty()) return usage_error("passwd: --users-file is empty");
  if (!tandem::auth::valid_username(user)) {
    return usage_error("passwd: invalid user name '" + user +
                       "' (1-64 characters of A-Z a-z 0-9 . _ @ + -)");
  }

  std::string error;
  auto password = read_password(user, error);
  if (!password) {
    std::fprintf(stderr, "tandemctl: passwd: %s\n", error.c_str());
    return kExitFailed;
  }
  if (password->empty()) {
    std::fprintf(stderr, "tandemctl: passwd: refusing an empty password\n");
    return kExitFailed;
  }
  auto set = tandem::auth::set_user_password(users_file, user, *password);
  wipe(*password);
  if (!set) {
    std::fprintf(stderr, "tandemctl: passwd: %s\n", set.error().c_str());
    return kExitFailed;
  }
  std::printf("user %s set in %s\n", user.c_str(), users_file.c_str());
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  const Args argv_all(argv + 1, argv + argc);
  Globals globals;
  std::size_t i = 0;
  // Global options come before the command; the command parses the rest.
  for (; i < argv_all.size() && !argv_all[i].empty() && argv_all[i][0] == '-'; ++i) {
    const std::string_view a = argv_all[i];
    bool missing = false;
    if (a == "--help" || a == "-h") {
      usage(stdout);
      return kExitOk;
    }
    if (auto v = take_option(argv_all, i, "--socket", missing)) {
      globals.socket = *v;
    } else if (missing) {
      return usage_error("--socket needs a PATH");
    } else {
      return usage_error("unknown option '" + std::string(a) + "'");
    }
  }
  if (i == argv_all.size()) return usage_error("no command given");
  const std::string_view name = argv_all[i];
  const Args rest(argv_all.begin() + static_cast<std::ptrdiff_t>(i) + 1, argv_all.end());
  for (const Command& c : kCommands) {
    if (c.name == name) return c.run(globals, rest);
  }
  return usage_error("unknown command '" + std::string(name) + "'");
}
