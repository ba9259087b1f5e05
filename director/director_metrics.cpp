#include "director/director_metrics.hpp"

#include <cstdio>

namespace tandem::director {
namespace {

void family(std::string& out, const char* name, const char* type, const char* help) {
  out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

void sample(std::string& out, const std::string& name, std::uint64_t value) {
  out += name + " " + std::to_string(value) + "\n";
}

}  // namespace

std::string render(const DirectorStats& s, const std::string& version) {
  std::string out;
  family(out, "tandem_director_info", "gauge", "Always 1; the version as a label.");
  sample(out, "tandem_director_info{version=\"" + version + "\"}", 1);
  family(out, "tandem_director_answers_total", "counter",
         "Requests answered, by outcome (redirected, or the reason of a refusal).");
  for (std::size_t i = 0; i < kOutcomes; ++i) {
    sample(out,
           std::string("tandem_director_answers_total{outcome=\"") +
               to_string(static_cast<Outcome>(i)) + "\"}",
           s.answers[i]);
  }
  family(out, "tandem_director_bad_requests_total", "counter", "Requests that did not parse.");
  sample(out, "tandem_director_bad_requests_total", s.bad_requests);
  family(out, "tandem_director_connections_refused_total", "counter",
         "Connections reset over the front door's limits.");
  sample(out, "tandem_director_connections_refused_total", s.connections_refused);
  family(out, "tandem_director_records_refused_total", "counter",
         "Member records refused (bad JSON, id mismatch, bad URL).");
  sample(out, "tandem_director_records_refused_total", s.records_refused);
  family(out, "tandem_director_etcd_resyncs_total", "counter",
         "Full reads of the member records after a watch ended.");
  sample(out, "tandem_director_etcd_resyncs_total", s.etcd_resyncs);
  family(out, "tandem_director_members", "gauge", "Members in the view.");
  sample(out, "tandem_director_members", s.members);
  family(out, "tandem_director_members_eligible", "gauge",
         "Members that may take a new client (not draining, degraded or full).");
  sample(out, "tandem_director_members_eligible", s.members_eligible);
  family(out, "tandem_director_silent", "gauge",
         "1 while etcd has not answered within silent_after (no redirects then).");
  sample(out, "tandem_director_silent", s.silent ? 1 : 0);
  family(out, "tandem_director_etcd_contact_age_seconds", "gauge",
         "Seconds since etcd last answered; -1 before the first answer.");
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f", s.seconds_since_contact);
  out += std::string("tandem_director_etcd_contact_age_seconds ") + buf + "\n";
  return out;
}

}  // namespace tandem::director
