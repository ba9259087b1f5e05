#pragma once
// What a tandem-load run counts, and its summary as text and JSON. Pure.
#include <cstddef>
#include <map>
#include <string>
#include <vector>

namespace tandem::load {

// Final outcome of one token's CONNECT (after retries).
enum class ConnectOutcome { ok, unauthorized, unavailable, other_status, connection_failed };

struct Stats {
  bool resume = false;         // --resume-from run (no logins)
  bool redirect_only = false;  // --redirect-only run: the first request only, to a director
  bool interrupted = false;    // SIGINT/SIGTERM before the plan was done
  std::size_t planned = 0;     // sessions (or tokens) to do
  double elapsed_s = 0;

  std::size_t logins_ok = 0;
  std::size_t logins_failed = 0;
  double login_window_s = 0;  // first login started .. last login finished
  std::vector<double> login_ms;

  std::size_t connect_attempts = 0;
  std::size_t connect_retries = 0;
  std::map<ConnectOutcome, std::size_t> connects;  // final outcome per token
  std::vector<double> connect_ms;  // successful CONNECTs: TCP connect .. "200" head received

  std::size_t sessions_ok = 0;  // logged in (and, with --connect, tunnel up)
  std::size_t sessions_failed = 0;

  std::size_t tunnels_up = 0;
  std::size_t tunnels_lost = 0;  // ended by the server or the network before we released them
  std::size_t keepalives_sent = 0;
  std::size_t dpd_answered = 0;
  std::size_t frames_received = 0;
  // --dtls: associations set up, failed (handshake or no offer), lost while held.
  bool dtls = false;
  std::size_t dtls_up = 0;
  std::size_t dtls_failed = 0;
  std::size_t dtls_lost = 0;

  // Redirects followed (--follow-redirect) or received (--redirect-only, where the window and
  // the latencies, TCP connect .. Location parsed, are the figure).
  std::size_t redirects = 0;
  double redirect_window_s = 0;
  std::vector<double> redirect_ms;
  // Sessions per server that issued their token ("ip:port"); --redirect-only: per member named.
  std::map<std::string, std::size_t> landed;

  std::map<std::string, std::size_t> errors;  // message -> times seen

  std::size_t connect_count(ConnectOutcome o) const;
};

const char* to_string(ConnectOutcome o);

// Nearest-rank percentile (p in 0..100) of unsorted samples; 0 for none.
double percentile(std::vector<double> samples, double p);

std::string summary_text(const Stats& s);
std::string summary_json(const Stats& s);

}  // namespace tandem::load
