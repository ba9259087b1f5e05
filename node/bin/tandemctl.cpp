// tandemctl: the operator's command line for a Tandem node.
//
//   tandemctl [--socket PATH] COMMAND [ARGS...]
//
// Commands are rows in kCommands; each parses its own arguments. Commands that talk to a running
// tandemd (status, show sessions, logoff, failover, drain, undrain, reload) use
// `Globals::socket`, the daemon's admin socket, through admin::AdminClient; passwd, disable,
// enable and deluser work on the users file and need no daemon.
// Exit codes: 0 done, 1 the daemon or the connection said no (reason on stderr), 2 usage.
#include <openssl/crypto.h>
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "node/admin/admin_client.hpp"
#include "node/admin/ctl_args.hpp"
#include "node/admin/format.hpp"
#include "node/auth/users.hpp"
#include "node/config/defaults.hpp"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

struct Globals {
  std::string socket = tandem::defaults::kAdminSocket;
};

using Args = tandem::admin::CtlArgs;  // what follows the command name
using tandem::admin::take_option;

struct Command {
  std::string_view name;
  std::string_view synopsis;
  std::string_view summary;
  int (*run)(const Globals&, const Args&);
};

int cmd_status(const Globals& globals, const Args& args);
int cmd_show(const Globals& globals, const Args& args);
int cmd_logoff(const Globals& globals, const Args& args);
int cmd_failover(const Globals& globals, const Args& args);
int cmd_drain(const Globals& globals, const Args& args);
int cmd_undrain(const Globals& globals, const Args& args);
int cmd_reload(const Globals& globals, const Args& args);
int cmd_passwd(const Globals& globals, const Args& args);
int cmd_disable(const Globals& globals, const Args& args);
int cmd_enable(const Globals& globals, const Args& args);
int cmd_deluser(const Globals& globals, const Args& args);

constexpr Command kCommands[] = {
    {"status", "status [--json]",
     "The node: role, peer, member and arbiter, draining, sessions, tunnels, address pool.",
     cmd_status},
    {"show", "show sessions [--detail] [FILTER...] [--json]",
     "List sessions, in brief or (--detail) every field of each session and tunnel.\n"
     "      FILTER (combined with AND): --index N, --user U, --protocol ssl|dtls,\n"
     "      --tunnel-group G, --inactive (no SSL tunnel: waiting for the client to resume).",
     cmd_show},
    {"logoff", "logoff (FILTER... | --all) [--json]",
     "End the chosen sessions now: connected clients are told and exit, tokens stop\n"
     "      working, addresses are freed. FILTER as for show sessions.",
     cmd_logoff},
    {"failover", "failover [--json]", "Hand the active role to the standby (drill).", cmd_failover},
    {"drain", "drain [--json]",
     "Take no new sessions on this node: new logins are refused and, with [member], the\n"
     "      member record tells directors to send no new clients. Connected clients stay and\n"
     "      may resume. Not kept across a restart of tandemd.",
     cmd_drain},
    {"undrain", "undrain [--json]", "Take new sessions again after a drain.", cmd_undrain},
    {"reload", "reload [--json]",
     "Re-read the configuration and users file; a refused file leaves the running one.",
     cmd_reload},
    {"passwd", "passwd [--users-file FILE] USER",
     "Set USER's password in the users file, adding USER if new. The password is the\n"
     "      first line of stdin; on a terminal it is asked for twice. A disabled user\n"
     "      stays disabled.",
     cmd_passwd},
    {"disable", "disable [--users-file FILE] USER",
     "Disable USER in the users file ('!' before the hash; the password is kept): logins\n"
     "      are refused, and the next reload ends USER's sessions.",
     cmd_disable},
    {"enable", "enable [--users-file FILE] USER",
     "Enable a disabled USER again, with the password USER had.", cmd_enable},
    {"deluser", "deluser [--users-file FILE] USER",
     "Remove USER from the users file; the next reload ends USER's sessions.", cmd_deluser},
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

int help() {
  usage(stdout);
  return kExitOk;
}

int usage_error(const std::string& message) {
  std::fprintf(stderr, "tandemctl: %s\n\n", message.c_str());
  usage(stderr);
  return kExitUsage;
}

// ---------------------------------------------------------------------------------------------
// Commands that talk to tandemd

using tandem::admin::AdminClient;

int failed(const std::string& message) {
  std::fprintf(stderr, "tandemctl: %s\n", message.c_str());
  return kExitFailed;
}

// Prints a reply as JSON (the stable schema of docs/admin-json.md) or as text.
template <class Reply, class Text>
int print_reply(const tandem::Result<Reply>& reply, bool json, Text text) {
  if (!reply) return failed(reply.error());
  std::string out;
  if (json) {
    auto j = tandem::admin::to_json(*reply);
    if (!j) return failed(j.error());
    out = std::move(*j);
  } else {
    out = text(*reply);
  }
  std::fputs(out.c_str(), stdout);
  return std::fflush(stdout) == 0 ? kExitOk : kExitFailed;
}

// Connects, makes one call and prints its reply.
template <class Call, class Text>
int call_daemon(const Globals& globals, bool json, Call call, Text text) {
  auto client = AdminClient::connect(globals.socket);
  if (!client) return failed(client.error());
  return print_reply(call(**client), json, text);
}

// The options of a command whose only one is --json. nullopt: go on; a value: exit with it.
std::optional<int> parse_json_only(std::string_view cmd, const Args& args, bool& json) {
  for (const std::string_view a : args) {
    if (a == "--json") {
      json = true;
    } else if (a == "--help" || a == "-h") {
      usage(stdout);
      return kExitOk;
    } else {
      return usage_error(std::string(cmd) + ": unexpected argument '" + std::string(a) + "'");
    }
  }
  return std::nullopt;
}

int cmd_status(const Globals& globals, const Args& args) {
  bool json = false;
  if (auto exit = parse_json_only("status", args, json)) return *exit;
  return call_daemon(
      globals, json, [](AdminClient& c) { return c.status(); },
      [](const auto& r) { return tandem::admin::format_status(r); });
}

int cmd_show(const Globals& globals, const Args& args) {
  if (args.empty() || args[0] != "sessions") {
    if (!args.empty() && (args[0] == "--help" || args[0] == "-h")) return help();
    return usage_error("show: expected 'show sessions'");
  }
  auto sel = tandem::admin::parse_selection(Args(args.begin() + 1, args.end()),
                                            tandem::admin::SelectionFor::show);
  if (!sel) return usage_error(sel.error());
  if (sel->help) return help();
  tandem::proto::ShowSessionsRequest request;
  *request.mutable_filter() = sel->filter;
  const bool detail = sel->detail;
  return call_daemon(
      globals, sel->json, [&](AdminClient& c) { return c.show_sessions(request); },
      [&](const auto& r) {
        return detail ? tandem::admin::format_sessions_detail(r)
                      : tandem::admin::format_sessions_brief(r);
      });
}

int cmd_logoff(const Globals& globals, const Args& args) {
  auto sel = tandem::admin::parse_selection(args, tandem::admin::SelectionFor::logoff);
  if (!sel) return usage_error(sel.error());
  if (sel->help) return help();
  tandem::proto::LogoffRequest request;
  *request.mutable_filter() = sel->filter;
  request.set_all(sel->all);
  return call_daemon(
      globals, sel->json, [&](AdminClient& c) { return c.logoff(request); },
      [](const auto& r) { return tandem::admin::format_logoff(r); });
}

int cmd_failover(const Globals& globals, const Args& args) {
  bool json = false;
  if (auto exit = parse_json_only("failover", args, json)) return *exit;
  return call_daemon(
      globals, json, [](AdminClient& c) { return c.failover(); },
      [](const auto& r) { return r.result() + '\n'; });
}

int drain_command(std::string_view name, bool draining, const Globals& globals, const Args& args) {
  bool json = false;
  if (auto exit = parse_json_only(name, args, json)) return *exit;
  return call_daemon(
      globals, json, [draining](AdminClient& c) { return c.drain(draining); },
      [](const auto& r) { return tandem::admin::format_drain(r); });
}

int cmd_drain(const Globals& globals, const Args& args) {
  return drain_command("drain", true, globals, args);
}

int cmd_undrain(const Globals& globals, const Args& args) {
  return drain_command("undrain", false, globals, args);
}

int cmd_reload(const Globals& globals, const Args& args) {
  bool json = false;
  if (auto exit = parse_json_only("reload", args, json)) return *exit;
  return call_daemon(
      globals, json, [](AdminClient& c) { return c.reload(); },
      [](const auto& r) { return r.result() + '\n'; });
}

// ---------------------------------------------------------------------------------------------
// passwd

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

// What the users-file commands take: [--users-file FILE] USER.
struct UserArgs {
  std::string users_file = tandem::defaults::kUsersFile;
  std::string user;
};

// nullopt with `exit_code` set when the command is done (--help) or refused (usage).
std::optional<UserArgs> parse_user_args(std::string_view command, const Args& args,
                                        int& exit_code) {
  const std::string name(command);
  UserArgs out;
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
      exit_code = kExitOk;
      return std::nullopt;
    } else if (auto v = take_option(args, i, "--users-file", missing)) {
      out.users_file = *v;
    } else if (missing) {
      exit_code = usage_error(name + ": --users-file needs a FILE");
      return std::nullopt;
    } else {
      exit_code = usage_error(name + ": unknown option '" + std::string(a) + "'");
      return std::nullopt;
    }
  }
  if (positional.size() != 1) {
    exit_code = usage_error(name + ": expected exactly one USER");
    return std::nullopt;
  }
  out.user = positional[0];
  if (out.users_file.empty()) {
    exit_code = usage_error(name + ": --users-file is empty");
    return std::nullopt;
  }
  if (!tandem::auth::valid_username(out.user)) {
    exit_code = usage_error(name + ": invalid user name '" + out.user +
                            "' (1-64 characters of A-Z a-z 0-9 . _ @ + -)");
    return std::nullopt;
  }
  return out;
}

int cmd_passwd(const Globals& /*globals: passwd needs no daemon*/, const Args& args) {
  int exit_code = kExitOk;
  auto parsed = parse_user_args("passwd", args, exit_code);
  if (!parsed) return exit_code;
  const std::string& user = parsed->user;
  const std::string& users_file = parsed->users_file;

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
  if (auto db = tandem::auth::UserDb::load(users_file); db && db->disabled(user))
    std::printf("user %s is disabled: `tandemctl enable %s` lets them log in\n", user.c_str(),
                user.c_str());
  return kExitOk;
}

// disable, enable, deluser: one line of the users file, no daemon needed; a running node
// applies it at its next reload.
int change_user(std::string_view command, const Args& args, tandem::auth::UserChange change,
                const char* done) {
  int exit_code = kExitOk;
  auto parsed = parse_user_args(command, args, exit_code);
  if (!parsed) return exit_code;
  auto changed = tandem::auth::set_user_state(parsed->users_file, parsed->user, change);
  if (!changed) {
    std::fprintf(stderr, "tandemctl: %.*s: %s\n", static_cast<int>(command.size()), command.data(),
                 changed.error().c_str());
    return kExitFailed;
  }
  std::printf("user %s %s %s%s; reload tandemd to apply it (tandemctl reload)\n",
              parsed->user.c_str(), done, parsed->users_file.c_str(),
              *changed ? "" : " (it already was)");
  return kExitOk;
}

int cmd_disable(const Globals& /*no daemon*/, const Args& args) {
  return change_user("disable", args, tandem::auth::UserChange::disable, "disabled in");
}
int cmd_enable(const Globals& /*no daemon*/, const Args& args) {
  return change_user("enable", args, tandem::auth::UserChange::enable, "enabled in");
}
int cmd_deluser(const Globals& /*no daemon*/, const Args& args) {
  return change_user("deluser", args, tandem::auth::UserChange::remove, "removed from");
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
