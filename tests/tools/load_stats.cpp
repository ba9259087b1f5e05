#include "tests/tools/load_stats.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace tandem::load {
namespace {

constexpr ConnectOutcome kOutcomes[] = {ConnectOutcome::ok, ConnectOutcome::unauthorized,
                                        ConnectOutcome::unavailable, ConnectOutcome::other_status,
                                        ConnectOutcome::connection_failed};

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

double rate(std::size_t n, double seconds) {
  return seconds > 0 ? static_cast<double>(n) / seconds : 0;
}

const char* mode(const Stats& s) {
  return s.resume ? "resume" : s.redirect_only ? "redirect" : "login";
}

std::string count_map(const std::map<std::string, std::size_t>& m, const char* sep, bool quoted) {
  std::string out;
  for (const auto& [key, count] : m) {
    out += (out.empty() ? "" : sep) + (quoted ? json_string(key) + ": " : key + " ") +
           std::to_string(count);
  }
  return out;
}

}  // namespace

std::size_t Stats::connect_count(ConnectOutcome o) const {
  auto it = connects.find(o);
  return it == connects.end() ? 0 : it->second;
}

const char* to_string(ConnectOutcome o) {
  switch (o) {
    case ConnectOutcome::ok:
      return "200";
    case ConnectOutcome::unauthorized:
      return "401";
    case ConnectOutcome::unavailable:
      return "503";
    case ConnectOutcome::other_status:
      return "other";
    case ConnectOutcome::connection_failed:
      return "connection_failed";
  }
  return "?";
}

double percentile(std::vector<double> samples, double p) {
  if (samples.empty()) return 0;
  std::sort(samples.begin(), samples.end());
  auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(samples.size())));
  return samples[std::clamp<std::size_t>(rank, 1, samples.size()) - 1];
}

std::string summary_text(const Stats& s) {
  std::string out = "tandem-load summary (" + std::string(mode(s)) +
                    (s.interrupted ? ", interrupted" : "") + ")\n";
  auto line = [&](const std::string& name, const std::string& value) {
    std::string padded = name;
    padded.resize(std::max<std::size_t>(padded.size(), 18), ' ');
    out += "  " + padded + value + "\n";
  };
  line("sessions", std::to_string(s.sessions_ok) + " ok, " + std::to_string(s.sessions_failed) +
                       " failed, of " + std::to_string(s.planned));
  if (s.redirect_only || s.redirects > 0) {
    line("redirects",
         std::to_string(s.redirects) +
             (s.redirect_only ? ", " + fixed(rate(s.redirects, s.redirect_window_s), 1) +
                                    "/s over " + fixed(s.redirect_window_s, 2) + " s"
                              : " followed"));
  }
  if (s.redirect_only) {
    line("redirect latency", "p50 " + fixed(percentile(s.redirect_ms, 50), 1) + " ms, p99 " +
                                 fixed(percentile(s.redirect_ms, 99), 1) + " ms");
  }
  if (!s.landed.empty()) line("landed", count_map(s.landed, ", ", false));
  if (!s.resume && !s.redirect_only) {
    line("logins", std::to_string(s.logins_ok) + " ok, " + std::to_string(s.logins_failed) +
                       " failed, " + fixed(rate(s.logins_ok, s.login_window_s), 1) + "/s over " +
                       fixed(s.login_window_s, 2) + " s");
    line("login latency", "p50 " + fixed(percentile(s.login_ms, 50), 1) + " ms, p99 " +
                              fixed(percentile(s.login_ms, 99), 1) + " ms");
  }
  if (s.connect_attempts > 0) {
    std::string outcomes;
    for (auto o : kOutcomes) {
      outcomes += (outcomes.empty() ? "" : ", ") + std::string(to_string(o)) + " " +
                  std::to_string(s.connect_count(o));
    }
    line("connects", outcomes + " (" + std::to_string(s.connect_attempts) + " attempts, " +
                         std::to_string(s.connect_retries) + " retries)");
    line("connect latency", "p50 " + fixed(percentile(s.connect_ms, 50), 1) + " ms, p99 " +
                                fixed(percentile(s.connect_ms, 99), 1) + " ms");
    line("tunnels", std::to_string(s.tunnels_up) + " up, " + std::to_string(s.tunnels_lost) +
                        " lost while held; " + std::to_string(s.keepalives_sent) +
                        " keepalives sent, " + std::to_string(s.dpd_answered) + " DPD answered, " +
                        std::to_string(s.frames_received) + " frames received");
    if (s.dtls)
      line("dtls", std::to_string(s.dtls_up) + " up, " + std::to_string(s.dtls_failed) +
                       " failed, " + std::to_string(s.dtls_lost) + " lost while held");
  }
  line("elapsed", fixed(s.elapsed_s, 2) + " s");
  for (const auto& [message, count] : s.errors) line("error x" + std::to_string(count), message);
  return out;
}

std::string summary_json(const Stats& s) {
  std::string out = "{\n";
  auto field = [&](const std::string& name, const std::string& value) {
    out += "  " + json_string(name) + ": " + value + ",\n";
  };
  field("mode", json_string(mode(s)));
  field("interrupted", s.interrupted ? "true" : "false");
  field("planned", std::to_string(s.planned));
  field("sessions_ok", std::to_string(s.sessions_ok));
  field("sessions_failed", std::to_string(s.sessions_failed));
  field("logins_ok", std::to_string(s.logins_ok));
  field("logins_failed", std::to_string(s.logins_failed));
  field("logins_per_second", fixed(rate(s.logins_ok, s.login_window_s), 2));
  field("login_p50_ms", fixed(percentile(s.login_ms, 50), 2));
  field("login_p99_ms", fixed(percentile(s.login_ms, 99), 2));
  std::string outcomes = "{";
  for (auto o : kOutcomes) {
    outcomes += (outcomes.size() > 1 ? ", " : "") + json_string(to_string(o)) + ": " +
                std::to_string(s.connect_count(o));
  }
  field("connects", outcomes + "}");
  field("connect_attempts", std::to_string(s.connect_attempts));
  field("connect_retries", std::to_string(s.connect_retries));
  field("connect_p50_ms", fixed(percentile(s.connect_ms, 50), 2));
  field("connect_p99_ms", fixed(percentile(s.connect_ms, 99), 2));
  field("tunnels_up", std::to_string(s.tunnels_up));
  field("tunnels_lost", std::to_string(s.tunnels_lost));
  field("keepalives_sent", std::to_string(s.keepalives_sent));
  field("dpd_answered", std::to_string(s.dpd_answered));
  field("frames_received", std::to_string(s.frames_received));
  field("dtls_up", std::to_string(s.dtls_up));
  field("dtls_failed", std::to_string(s.dtls_failed));
  field("dtls_lost", std::to_string(s.dtls_lost));
  field("redirects", std::to_string(s.redirects));
  field("redirects_per_second", fixed(rate(s.redirects, s.redirect_window_s), 2));
  field("redirect_window_s", fixed(s.redirect_window_s, 3));
  field("redirect_p50_ms", fixed(percentile(s.redirect_ms, 50), 2));
  field("redirect_p99_ms", fixed(percentile(s.redirect_ms, 99), 2));
  field("landed", "{" + count_map(s.landed, ", ", true) + "}");
  field("elapsed_s", fixed(s.elapsed_s, 3));
  std::string errors = "{";
  for (const auto& [message, count] : s.errors) {
    errors += (errors.size() > 1 ? ", " : "") + json_string(message) + ": " + std::to_string(count);
  }
  out += "  \"errors\": " + errors + "}\n}\n";
  return out;
}

}  // namespace tandem::load
