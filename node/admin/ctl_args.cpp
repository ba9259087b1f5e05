#include "node/admin/ctl_args.hpp"

#include <charconv>

namespace tandem::admin {

std::optional<std::string> take_option(const CtlArgs& args, std::size_t& i, std::string_view name,
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

std::optional<std::uint64_t> parse_index(std::string_view text) {
  std::uint64_t v = 0;
  const char* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, v);
  if (text.empty() || ec != std::errc() || p != end || v == 0) return std::nullopt;
  return v;
}

Result<Selection> parse_selection(const CtlArgs& args, SelectionFor command) {
  const bool logoff = command == SelectionFor::logoff;
  const std::string cmd = logoff ? "logoff" : "show sessions";
  auto refuse = [&](const std::string& why) { return fail(cmd + ": " + why); };
  Selection sel;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string a(args[i]);
    bool missing = false;
    if (a == "--json") {
      sel.json = true;
    } else if (a == "--help" || a == "-h") {
      sel.help = true;
      return sel;
    } else if (a == "--inactive") {
      sel.filter.set_inactive(true);
      sel.filtered = true;
    } else if (!logoff && a == "--detail") {
      sel.detail = true;
    } else if (logoff && a == "--all") {
      sel.all = true;
    } else if (auto index = take_option(args, i, "--index", missing)) {
      auto n = parse_index(*index);
      if (!n) return refuse("--index takes a session index (1, 2, ...), not '" + *index + "'");
      sel.filter.set_index(*n);
      sel.filtered = true;
    } else if (auto user = take_option(args, i, "--user", missing)) {
      if (user->empty()) return refuse("--user is empty");
      sel.filter.set_user(*user);
      sel.filtered = true;
    } else if (auto protocol = take_option(args, i, "--protocol", missing)) {
      if (*protocol != "ssl" && *protocol != "dtls")
        return refuse("--protocol is ssl or dtls, not '" + *protocol + "'");
      sel.filter.set_protocol(*protocol);
      sel.filtered = true;
    } else if (auto group = take_option(args, i, "--tunnel-group", missing)) {
      if (group->empty()) return refuse("--tunnel-group is empty");
      sel.filter.set_tunnel_group(*group);
      sel.filtered = true;
    } else if (missing) {
      return refuse(a + " needs a value");
    } else {
      return refuse("unknown argument '" + a + "'");
    }
  }
  // Logging everyone off must be asked for by name, never the result of a forgotten filter.
  if (logoff && !sel.filtered && !sel.all)
    return refuse(
        "name the sessions (--index N, --user U, --protocol ssl|dtls, --tunnel-group G, "
        "--inactive) or give --all");
  if (logoff && sel.filtered && sel.all) return refuse("--all cannot be combined with a filter");
  return sel;
}

}  // namespace tandem::admin
