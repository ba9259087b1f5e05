#pragma once
// The daemon's configuration: a plain value built by load_config() from TOML.
// Every key has a default (config/defaults.hpp); unknown keys and bad values are errors
// that name the key and the file.
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.hpp"
#include "base/result.hpp"
#include "node/auth/certificate_login.hpp"
#include "node/config/radius_config.hpp"
#include "node/dtls/dtls_mode.hpp"
#include "node/profile/xml_profile.hpp"

namespace tandem::config {

struct Policy {
  std::string name;
  Duration idle_timeout;
  Duration session_timeout;       // 0 = none
  Duration disconnected_timeout;  // defaults to idle_timeout (S8)
  Duration dpd_interval;          // 0 = off
  Duration keepalive;             // 0 = off
  // Every rekey_interval the client opens a new TLS connection and re-CONNECTs with its token
  // (X-CSTP-Rekey-Method: new-tunnel), which renews TLS and DTLS keys (docs/rekey.md). 0 = never.
  Duration rekey_interval{};
  int mtu;
  int simultaneous_logins;  // 0 = unlimited
  // Traffic policy (docs/traffic-policy.md): what a client of this policy may reach through the
  // tunnel. Split-include CIDRs (the [pool] routes unless the policy sets its own; empty = full
  // tunnel), CIDRs excluded from either, and whether clients may reach each other.
  std::vector<std::string> routes;
  std::vector<std::string> exclude_routes;
  // The same for IPv6 (docs/ipv6.md), each family on its own: routes6 empty = every IPv6
  // destination. Unused when [pool] has no ipv6.
  std::vector<std::string> routes6;
  std::vector<std::string> exclude_routes6;
  bool client_to_client = false;
  // What the client is told about the networks behind the tunnel (docs/group-networks.md),
  // checked at load (config/group_network.hpp) and sent at every CONNECT of the policy's
  // sessions: DNS servers ([pool] dns unless the policy names its own), the domains those
  // servers resolve for it (split DNS), its search domain(s) ("" = none, else space-separated),
  // and a banner shown after login ("" = none; may span lines).
  std::vector<std::string> dns;
  std::vector<std::string> split_dns;
  std::string default_domain;
  std::string banner;
  // When legacy DTLS 1.2 (Cisco Secure Client's mode) is used instead of PSK-NEGOTIATE
  // (docs/dtls-modes.md).
  dtls::LegacyDtls dtls_legacy = dtls::LegacyDtls::fallback;
  // Sent to the client on CONNECT (docs/cisco-clients.md). Cisco Secure Client honours them;
  // openconnect ignores both.
  bool client_bypass_protocol = false;  // X-CSTP-Client-Bypass-Protocol
  bool disable_always_on_vpn = false;   // X-CSTP-Disable-Always-On-VPN
};

struct TunnelGroup {
  std::string name;
  std::string policy;  // name of a Policy
  // The users who may log in to this group; nullopt = every user of the users file.
  std::optional<std::vector<std::string>> users;
  // The AnyConnect XML profile announced to this group's clients at login and served to them
  // (docs/cisco-clients.md). `profile_path` is from the file; `profile` is read by load_config
  // (parse_config leaves it null). Empty path = no profile.
  std::string profile_path;
  std::shared_ptr<const profile::XmlProfile> profile;
  // Client certificates (docs/client-certificates.md): whether the group asks for one, and
  // which field of it is the username.
  auth::CertificateMode certificate = auth::CertificateMode::off;
  auth::CertificateUser certificate_user = auth::CertificateUser::cn;
  // Who checks the password: the users file, or the [radius] servers (docs/radius.md).
  GroupAuth auth = GroupAuth::users;

  // True when `user` may use this group (docs/traffic-policy.md).
  bool admits(std::string_view user) const;
};

// [peer]: the other node of this member. Absent = a standalone node (still persistent).
struct Peer {
  bool enabled = false;
  // The other node's id. Only a peer whose replication certificate names it (CN or a DNS
  // subjectAltName) may follow this node, hand over to it or speak for the peer at all.
  std::string node_id;
  std::string listen;   // "ip:port" our replication server listens on
  std::string address;  // "ip:port" of the peer's replication server
  std::string ca;       // CA that signed both nodes' certificates (mutual TLS)
  std::string certificate;
  std::string private_key;
  int priority = 100;      // breaks ties when both nodes start at once (higher wins)
  Duration poll_interval;  // heartbeat period
  Duration hold_time;      // silence after which the standby promotes itself

  bool operator==(const Peer&) const = default;
};

// [arbiter]: etcd decides which node of the pair may serve (docs/arbiter.md). Absent = the
// pair runs on heartbeats alone, and a cut link between the nodes gives two actives.
struct Arbiter {
  bool enabled = false;
  std::vector<std::string> endpoints;        // "http://host:port" / "https://host:port"
  std::string ca, certificate, private_key;  // for https endpoints
  Duration lease_ttl;                        // the active key's lease

  bool operator==(const Arbiter&) const = default;
};

// [member]: the member this node belongs to, as directors see it (with [arbiter]).
struct Member {
  std::string id;   // both nodes of a pair the same; the arbiter key is /tandem/member/<id>/active
  std::string url;  // where directors send new clients; default https://<service address>:<port>/
  int capacity;     // sessions the member is sized for: placement uses sessions/capacity

  bool operator==(const Member&) const = default;
};

// [limits]: what one address, one user or one session may hold or try before the node refuses
// it (docs/limits.md). For the per-address, per-user and per-session counts, 0 = no limit.
struct Limits {
  int connections_per_address;     // connections not yet tunnels (handshake, login, CONNECT)
  int tls_handshakes;              // TLS handshakes in progress, in total (>= 1)
  int tls_handshakes_per_address;  //   ... from one address
  Duration login_deadline;         // accept -> login done or CONNECT with a token
  int logins_in_flight_per_address;
  int login_failures_per_user_address;  // failures before back-off, per (user, address)
  int login_failures_per_address;       //   ... per address, any user
  int login_failures_per_user;          //   ... per user, from addresses it never logged in from
  Duration login_backoff_initial;
  Duration login_backoff_max;
  Duration login_forget_after;  // a key's failures are forgotten after this long without one
  int login_throttle_entries;   // bound on each of the throttle's tables
  int dtls_handshakes;          // DTLS handshakes in progress, in total (>= 1)
  int dtls_handshakes_per_session;
  // Sessions on the node (docs/limits.md, "Sessions"): -1 = derived from memory, 0 = no limit.
  int max_sessions;

  bool operator==(const Limits&) const = default;
};

struct Config {
  std::string source;  // file path, or "<built-in defaults>"

  // [node]
  std::string node_id;
  std::string listen;  // "ip:port"
  std::string admin_socket;
  std::string state_dir;
  std::string log_level;  // debug|info|warn|error
  std::string tun_name;
  // The TUN device with TCP offloads (docs/data-plane.md, "TUN offloads"); false = one packet
  // per read, as before.
  bool tun_offload = true;
  // Threads the data plane runs on, the I/O thread included (docs/data-plane.md, "Every core");
  // 0 = one per CPU this process may run on.
  int data_threads = 0;
  // The member's service address (moves with the active role), "ip/prefix" on an interface;
  // empty = the node's own address serves (single node). inside_*: the same on the inside
  // network, where the pool is routed to; inside_address6 ("fd00:99::1/64", on
  // inside_interface too) is where the inside network routes the IPv6 pool (docs/ipv6.md).
  std::string service_address;
  std::string service_interface;
  std::string inside_address;
  std::string inside_address6;
  std::string inside_interface;
  std::string metrics_listen;  // "ip:port" for Prometheus text; empty = off

  // [tls]; empty = self-signed certificate made in state_dir
  std::string tls_certificate;
  std::string tls_private_key;
  // A certificate (client-facing or [peer]) with less than this left is logged as a warning;
  // 0 = never. Reloadable.
  Duration tls_expiry_warning;
  // Client certificates (docs/client-certificates.md): the CAs they must chain to (PEM; empty =
  // no certificate is asked for) and the CRLs they are checked against (PEM; empty = none).
  // Reloadable.
  std::string tls_client_ca;
  std::string tls_client_crl;

  // [auth]
  std::string users_file;

  // [pool]
  std::string pool_ipv4;  // CIDR
  // IPv6 inside the tunnel (docs/ipv6.md): a network of prefix 64..126; empty = IPv4 only.
  std::string pool_ipv6;
  std::vector<std::string> dns;      // IPv4 and IPv6 addresses
  std::vector<std::string> routes;   // split-include CIDRs; empty = full tunnel
  std::vector<std::string> routes6;  // IPv6 split-include CIDRs; empty = full tunnel for IPv6

  // [process]: the user (and group) tandemd becomes once its ports, TUN device and keys are
  // open (docs/privileges.md). Empty = stays root, with a warning. Restart to change.
  std::string run_as_user;
  std::string run_as_group;  // empty = the user's primary group

  Peer peer;
  Arbiter arbiter;
  Member member;
  Limits limits;
  // [radius] (docs/radius.md). Restart to change, except class_policy (reloadable).
  RadiusSettings radius;

  std::map<std::string, Policy> policies;            // always has "default"
  std::map<std::string, TunnelGroup> tunnel_groups;  // always has "default"
};

// Built-in defaults: a standalone node.
Config default_config();
Limits default_limits();

// Parse TOML text; `source` names the file in error messages.
Result<Config> parse_config(const std::string& toml_text, const std::string& source);

// Read and parse a file.
Result<Config> load_config(const std::string& path);

// "30s", "30m", "1h", "1500ms", "2d", "0", "none" (= 0). Pure.
Result<Duration> parse_duration(const std::string& text);

}  // namespace tandem::config
