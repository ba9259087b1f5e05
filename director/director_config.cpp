#include "director/director_config.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <string_view>
#include <utility>

#include "base/address.hpp"
#include "node/config/config.hpp"

namespace tandem::director {
namespace {

// Operator text shown back inside an error: printable, short.
std::string quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s.substr(0, 80)) out += (c >= 0x20 && c < 0x7f && c != '"') ? c : '?';
  return out + (s.size() > 80 ? "...\"" : "\"");
}

std::string describe(const toml::node& n) {
  if (const auto* s = n.as_string()) return quote(s->get());
  if (const auto* i = n.as_integer()) return std::to_string(i->get());
  if (const auto* b = n.as_boolean()) return b->get() ? "true" : "false";
  if (n.is_table()) return "a table";
  if (n.is_array()) return "an array";
  return "another type";
}

class Reader {
 public:
  explicit Reader(std::string source) : source_(std::move(source)) {}
  Result<DirectorConfig> read(const toml::table& root);

 private:
  void error(const std::string& path, const std::string& message, const toml::node* at) {
    std::string m = source_ + ": " + (path.empty() ? "" : path + ": ") + message;
    const std::size_t line = at != nullptr ? at->source().begin.line : 0;
    if (line > 0) m += " (line " + std::to_string(line) + ")";
    errors_.emplace_back(line, std::move(m));
  }
  void expected(const std::string& path, std::string_view shape, const toml::node& got) {
    error(path, "expected " + std::string(shape) + ", got " + describe(got), &got);
  }
  void check_keys(const toml::table& t, const std::string& prefix,
                  std::initializer_list<std::string_view> known) {
    for (const auto& [key, node] : t) {
      if (std::find(known.begin(), known.end(), key.str()) == known.end())
        error("", "unknown key '" + (prefix.empty() ? "" : prefix + ".") + std::string(key.str()) +
                      "'",
              &node);
    }
  }
  const toml::table* table(const toml::table& root, std::string_view key) {
    const toml::node* n = root.get(key);
    if (n == nullptr) return nullptr;
    if (!n->is_table()) expected(std::string(key), "a table", *n);
    return n->as_table();
  }
  template <class Valid>
  void string_key(const toml::table& t, const std::string& prefix, std::string_view key,
                  std::string& out, std::string_view shape, Valid valid) {
    const toml::node* n = t.get(key);
    if (n == nullptr) return;
    const auto* s = n->as_string();
    if (s == nullptr || s->get().find('\0') != std::string::npos || !valid(s->get()))
      return expected(prefix + "." + std::string(key), shape, *n);
    out = s->get();
  }
  void path_key(const toml::table& t, const std::string& prefix, std::string_view key,
                std::string& out) {
    string_key(t, prefix, key, out, "a path of 1-4096 bytes",
               [](const std::string& s) { return !s.empty() && s.size() <= 4096; });
  }
  void duration_key(const toml::table& t, const std::string& prefix, std::string_view key,
                    Duration& out, bool allow_zero) {
    const toml::node* n = t.get(key);
    if (n == nullptr) return;
    Result<Duration> d = fail("");
    if (const auto* i = n->as_integer()) {
      if (i->get() >= 0 && i->get() <= INT64_MAX / 1000) d = Duration(std::chrono::seconds(i->get()));
    } else if (const auto* s = n->as_string()) {
      d = config::parse_duration(s->get());
    }
    const std::string path = prefix + "." + std::string(key);
    if (!d || (!allow_zero && d->count() == 0))
      return expected(path, allow_zero ? "a duration (\"15s\", \"1m\", \"500ms\")"
                                       : "a duration above zero (\"15s\", \"1m\", \"500ms\")",
                      *n);
    out = *d;
  }

  std::string source_;
  std::vector<std::pair<std::size_t, std::string>> errors_;
};

Result<DirectorConfig> Reader::read(const toml::table& root) {
  DirectorConfig c;
  c.source = source_;
  check_keys(root, "", {"director", "tls", "arbiter", "log"});

  if (const auto* t = table(root, "director")) {
    check_keys(*t, "director", {"listen", "metrics_listen", "silent_after"});
    const char* kListen = "\"ip:port\" (an IPv4 address and a port 1-65535)";
    string_key(*t, "director", "listen", c.listen, kListen, net::valid_listen);
    string_key(*t, "director", "metrics_listen", c.metrics_listen, kListen, net::valid_listen);
    duration_key(*t, "director", "silent_after", c.silent_after, false);
  }

  const auto* tls = table(root, "tls");
  if (tls != nullptr) {
    check_keys(*tls, "tls", {"certificate", "private_key", "expiry_warning"});
    path_key(*tls, "tls", "certificate", c.tls_certificate);
    path_key(*tls, "tls", "private_key", c.tls_private_key);
    duration_key(*tls, "tls", "expiry_warning", c.tls_expiry_warning, true);
  }
  // No self-signed fallback: clients pin or trust one identity for the cluster, which the
  // director has to present as the members do.
  if (c.tls_certificate.empty() || c.tls_private_key.empty())
    error("tls", "certificate and private_key are required", tls);

  const auto* arbiter = table(root, "arbiter");
  if (arbiter != nullptr) {
    check_keys(*arbiter, "arbiter", {"endpoints", "ca", "certificate", "private_key"});
    if (const toml::node* n = arbiter->get("endpoints")) {
      const auto* a = n->as_array();
      if (a == nullptr) {
        expected("arbiter.endpoints", "an array of \"http://host:port\" strings", *n);
      } else {
        for (std::size_t i = 0; i < a->size(); ++i) {
          const toml::node& e = *a->get(i);
          const auto* s = e.as_string();
          if (s == nullptr || !net::valid_etcd_endpoint(s->get())) {
            expected("arbiter.endpoints[" + std::to_string(i) + "]",
                     "\"http://host:port\" or \"https://host:port\"", e);
          } else {
            c.endpoints.push_back(s->get());
          }
        }
      }
    }
    path_key(*arbiter, "arbiter", "ca", c.arbiter_ca);
    path_key(*arbiter, "arbiter", "certificate", c.arbiter_certificate);
    path_key(*arbiter, "arbiter", "private_key", c.arbiter_private_key);
    if (c.arbiter_certificate.empty() != c.arbiter_private_key.empty())
      error("arbiter", "certificate and private_key must be given together", arbiter);
    const bool any_https = std::any_of(c.endpoints.begin(), c.endpoints.end(),
                                       [](const std::string& e) { return e.starts_with("https"); });
    if (any_https && c.arbiter_ca.empty())
      error("arbiter.ca", "required with https endpoints (the etcd servers' CA)", arbiter);
  }
  if (c.endpoints.empty() && errors_.empty())
    error("arbiter.endpoints", "required: at least one etcd endpoint", arbiter);

  if (const auto* t = table(root, "log")) {
    check_keys(*t, "log", {"level"});
    string_key(*t, "log", "level", c.log_level, "one of debug, info, warn, error",
               [](const std::string& s) {
                 return s == "debug" || s == "info" || s == "warn" || s == "error";
               });
  }

  if (errors_.empty()) return c;
  std::stable_sort(errors_.begin(), errors_.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string all;
  for (const auto& e : errors_) all += (all.empty() ? "" : "\n") + e.second;
  return fail(Errc::invalid, all);
}

}  // namespace

Result<DirectorConfig> parse_director_config(const std::string& toml_text,
                                             const std::string& source) {
  toml::table root;
  try {
    root = toml::parse(toml_text, source);
  } catch (const toml::parse_error& e) {
    std::string what(e.description());
    for (char& ch : what) {
      if (static_cast<unsigned char>(ch) < 0x20) ch = '?';
    }
    return fail(Errc::invalid, source + ": line " + std::to_string(e.source().begin.line) +
                                   ", column " + std::to_string(e.source().begin.column) + ": " +
                                   what);
  }
  return Reader(source).read(root);
}

Result<DirectorConfig> load_director_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(Errc::io, "cannot read config file " + path);
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return fail(Errc::io, "cannot read config file " + path);
  return parse_director_config(text.str(), path);
}

}  // namespace tandem::director
