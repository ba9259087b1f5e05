// Writes the generated part of the seed corpus (the rest is captured from openconnect by
// capture_openconnect.py, or copied from deploy/examples):
//   fuzz_make_seeds tests/fuzz/corpus
// Binary seeds are made here, from the same code the node uses to make those bytes, so that they
// stay valid when a format changes: rerun it and commit the result.
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "base/log.hpp"
#include "node/cstp/frame.hpp"
#include "node/dtls/client_hello.hpp"
#include "node/dtls/dtls_endpoint.hpp"
#include "node/session/session_record.hpp"
#include "replication_script.pb.h"

namespace {

using Bytes = std::vector<std::uint8_t>;
namespace fs = std::filesystem;
namespace proto = tandem::proto;
fs::path out_dir;

void write(const std::string& rel, const void* data, std::size_t size) {
  const fs::path p = out_dir / rel;
  fs::create_directories(p.parent_path());
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
  std::printf("%-48s %6zu bytes\n", rel.c_str(), size);
}
void write(const std::string& rel, const Bytes& b) { write(rel, b.data(), b.size()); }
void write(const std::string& rel, const std::string& s) { write(rel, s.data(), s.size()); }

void put(Bytes& b, std::uint64_t v, int width) {
  for (int i = width - 1; i >= 0; --i) b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}
Bytes str(std::string_view s) { return Bytes(s.begin(), s.end()); }

// --- CSTP -----------------------------------------------------------------------------------

void cstp() {
  using tandem::cstp::encode;
  using tandem::cstp::Type;
  Bytes ip = {0x45, 0x00, 0x00, 0x54, 0x12, 0x34, 0x40, 0x00, 0x40, 0x01, 0x00, 0x00, 10,   77,
              0,    2,    10,   77,   0,    1,    0x08, 0x00, 0xf7, 0xff, 0x00, 0x01, 0x00, 0x01};
  ip.resize(84, 0x61);
  write("cstp_frames/data.bin", encode(Type::data, ip));
  write("cstp_frames/dpd_request.bin", encode(Type::dpd_request));
  write("cstp_frames/dpd_response.bin", encode(Type::dpd_response));
  write("cstp_frames/keepalive.bin", encode(Type::keepalive));
  const Bytes bye = cat({{0xb0}, str("Client logout")});
  write("cstp_frames/disconnect_logout.bin", encode(Type::disconnect, bye));
  write("cstp_frames/disconnect_back_soon.bin",
        encode(Type::disconnect, cat({{0x00}, str("bye\0")})));
  write("cstp_frames/terminate.bin", encode(Type::terminate));
  write("cstp_frames/compressed.bin", encode(Type::compressed, Bytes(40, 0x11)));
  // A session's worth in one stream: what cstp_tunnel.cpp reads between two TLS records.
  write("cstp_frames/mixed_stream.bin",
        cat({encode(Type::keepalive), encode(Type::data, ip),
             encode(Type::dpd_request, Bytes(1, 0)), encode(Type::data, Bytes(1400, 0x45)),
             encode(Type::dpd_response), encode(Type::disconnect, bye)}));
  // A frame cut in its header, as TLS may deliver it.
  const Bytes cut = encode(Type::data, ip);
  write("cstp_frames/truncated.bin", Bytes(cut.begin(), cut.begin() + 5));
}

// --- DTLS -----------------------------------------------------------------------------------

Bytes app_id() {
  Bytes id(32);
  for (std::size_t i = 0; i < id.size(); ++i) id[i] = static_cast<std::uint8_t>(0xA0 + i);
  return id;
}

// As in tests/unit/dtls_test.cpp: the §5.2 layout with few extensions.
Bytes handmade_hello(const Bytes& session_id, const Bytes& cookie) {
  Bytes body;
  put(body, 0xFEFD, 2);
  body.insert(body.end(), 32, 0x5A);
  put(body, session_id.size(), 1);
  body.insert(body.end(), session_id.begin(), session_id.end());
  put(body, cookie.size(), 1);
  body.insert(body.end(), cookie.begin(), cookie.end());
  put(body, 4, 2);
  put(body, 0x00A9, 2);
  put(body, 0x008D, 2);
  put(body, 1, 1);
  put(body, 0, 1);
  put(body, 9, 2);
  put(body, 0xFF01, 2);
  put(body, 1, 2);
  put(body, 0, 1);
  put(body, 0x0023, 2);
  put(body, 0, 2);
  Bytes d;
  put(d, 0x16, 1);
  put(d, 0xFEFF, 2);
  put(d, 0, 2);
  put(d, cookie.empty() ? 0 : 1, 6);
  put(d, 12 + body.size(), 2);
  put(d, 0x01, 1);
  put(d, body.size(), 3);
  put(d, cookie.empty() ? 0 : 1, 2);
  put(d, 0, 3);
  put(d, body.size(), 3);
  d.insert(d.end(), body.begin(), body.end());
  return d;
}

const std::array<std::uint8_t, 32> kKey = {1,   8,   15,  22,  29,  36,  43,  50,  57,  64,  71,
                                           78,  85,  92,  99,  106, 113, 120, 127, 134, 141, 148,
                                           155, 162, 169, 176, 183, 190, 197, 204, 211, 218};

unsigned int psk_cb(SSL*, const char*, char* identity, unsigned int max_identity,
                    unsigned char* psk, unsigned int max_psk) {
  if (max_identity < 4 || max_psk < 32) return 0;
  std::memcpy(identity, "psk", 4);
  std::memcpy(psk, kKey.data(), 32);
  return 32;
}

// An OpenSSL DTLS 1.2 PSK client against a DtlsEndpoint: its ClientHello, and its second flight.
void dtls() {
  const std::string sep = "|DGRAM|";
  const Bytes hello = handmade_hello(app_id(), {});
  write("dtls/handmade_hello.bin", hello);
  write("dtls/handmade_hello_cookie.bin", handmade_hello(app_id(), Bytes(32, 0xC0)));
  write("dtls/hello_then_cookie.bin",
        cat({hello, str(sep), handmade_hello(app_id(), Bytes(32, 0xC0))}));
  write("dtls/hello_verify_request.bin",
        tandem::dtls::build_hello_verify_request(7, Bytes(32, 0xC0)));

  SSL_CTX* cctx = SSL_CTX_new(DTLS_client_method());
  SSL_CTX_set_min_proto_version(cctx, DTLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(cctx, DTLS1_2_VERSION);
  SSL_CTX_set_cipher_list(cctx,
                          "PSK-AES256-GCM-SHA384:PSK-AES128-GCM-SHA256:PSK-CHACHA20-POLY1305");
  SSL_CTX_set_psk_client_callback(cctx, psk_cb);
  SSL* ssl = SSL_new(cctx);
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  BIO_set_mem_eof_return(in, -1);
  SSL_set_bio(ssl, in, out);
  SSL_set_options(ssl, SSL_OP_NO_QUERY_MTU);
  SSL_set_mtu(ssl, 1400);
  SSL_set_connect_state(ssl);
  auto take = [&] {
    Bytes b(static_cast<std::size_t>(BIO_ctrl_pending(out)));
    if (!b.empty()) BIO_read(out, b.data(), static_cast<int>(b.size()));
    return b;
  };
  SSL_do_handshake(ssl);
  const Bytes ch = take();
  write("dtls/openssl_client_hello.bin", ch);

  auto ctx = tandem::dtls::make_server_context();
  tandem::dtls::DtlsEndpoint server(ctx->get(), kKey, tandem::TimePoint{});
  server.feed(ch);
  Bytes d;
  while (server.pop_outgoing(d)) {
    BIO_write(in, d.data(), static_cast<int>(d.size()));
    SSL_do_handshake(ssl);
  }
  const Bytes flight = take();  // ClientKeyExchange, ChangeCipherSpec, Finished
  write("dtls/openssl_handshake.bin", cat({ch, str(sep), flight}));
  server.feed(flight);
  while (server.pop_outgoing(d)) {
    BIO_write(in, d.data(), static_cast<int>(d.size()));
    SSL_do_handshake(ssl);
  }
  const Bytes dpd = {0x03, 0, 0, 0, 0};
  SSL_write(ssl, dpd.data(), static_cast<int>(dpd.size()));
  write("dtls/openssl_handshake_and_record.bin", cat({ch, str(sep), flight, str(sep), take()}));
  // Plaintext as the established endpoint's client seals it (the fuzzer's "sealed" records).
  write("dtls/plaintext_records.bin",
        cat({Bytes{0x00, 0x45, 0x00, 0x00, 0x1c}, str(sep), Bytes{0x03}, str(sep), Bytes{0x07}}));
  SSL_free(ssl);
  SSL_CTX_free(cctx);
}

// --- session records ---------------------------------------------------------------------

proto::SessionRecord typical_record(std::uint64_t index) {
  tandem::session::Session s;
  s.index = index;
  s.user = "alice";
  s.tunnel_group = "default";
  s.policy = "default";
  s.ip = 0x0a4d0000u + static_cast<std::uint32_t>(index);
  s.token_hash.fill(0x5c);
  s.login_time_unix = 1'760'000'000;
  s.public_ip = "192.0.2.7";
  s.public_port = 50123;
  s.client_type = "Open AnyConnect VPN Agent v9.01-3";
  s.counters = {123456, 654321, 100, 200, 1, 2};
  s.resumes = 2;
  s.ssl_info.public_ip = "192.0.2.7";
  s.ssl_info.public_port = 50123;
  s.ssl_info.local_port = 443;
  s.ssl_info.encapsulation = "TLSv1.3";
  s.ssl_info.cipher = "TLS_AES_256_GCM_SHA384";
  s.ssl_info.connected_at_unix = 1'760'000'001;
  return tandem::session::to_record(s);
}

void session_records() {
  write("session_record/typical.bin", typical_record(42).SerializeAsString());
  proto::SessionRecord r = typical_record(7);
  r.set_username(std::string("b\xc3\xa9la\xff\xfe\x01\x1b[31m", 12));  // not UTF-8, controls
  r.set_client_type(std::string(600, 'A') + "\xe2\x82");               // long, cut mid-character
  auto* dtls = r.add_tunnels();
  dtls->set_kind(proto::TunnelRecord::DTLS);
  dtls->set_encapsulation("DTLSv1.2");
  dtls->set_cipher("PSK-AES256-GCM-SHA384");
  write("session_record/hostile_text.bin", r.SerializeAsString());
  proto::SessionRecord minimal;
  minimal.set_index(1);
  minimal.set_token_hash(std::string(32, '\0'));
  write("session_record/minimal.bin", minimal.SerializeAsString());
  proto::SessionRecord inactive = typical_record(1000);
  inactive.clear_tunnels();
  inactive.set_inactive_since_unix_ms(1'760'000'100'000);
  inactive.set_token_hash("short");
  write("session_record/inactive_short_hash.bin", inactive.SerializeAsString());
}

// --- replication scripts -----------------------------------------------------------------

proto::Change upsert(std::uint64_t seq, std::uint64_t epoch, std::uint64_t index) {
  proto::Change c;
  c.set_seq(seq);
  c.set_epoch(epoch);
  *c.mutable_upsert() = typical_record(index);
  c.set_at_unix_ms(1'760'000'000'000 + static_cast<std::int64_t>(seq));
  return c;
}
proto::Change removal(std::uint64_t seq, std::uint64_t epoch, std::uint64_t index) {
  proto::Change c;
  c.set_seq(seq);
  c.set_epoch(epoch);
  c.set_remove_index(index);
  return c;
}

class Script {
 public:
  explicit Script(std::uint64_t active_epoch) { s_.set_active_epoch(active_epoch); }
  Script& stored(std::uint64_t index) {
    *s_.add_stored() = typical_record(index);
    return *this;
  }
  Script& stored_epoch(std::uint64_t e) {
    s_.set_stored_epoch(e);
    return *this;
  }
  Script& heartbeat(std::uint64_t epoch, std::uint64_t last_seq) {
    auto* n = s_.add_steps()->mutable_message()->mutable_heartbeat()->mutable_node();
    n->set_node_id("node-a");
    n->set_role(proto::ROLE_ACTIVE);
    n->set_epoch(epoch);
    n->set_priority(100);
    n->set_last_sequence(last_seq);
    n->set_last_epoch(epoch);
    n->set_accepting_logins(true);
    s_.mutable_steps(s_.steps_size() - 1)
        ->mutable_message()
        ->mutable_heartbeat()
        ->set_beat(++beat_);
    return *this;
  }
  Script& change(const proto::Change& c) {
    *s_.add_steps()->mutable_message()->mutable_change() = c;
    return *this;
  }
  Script& snapshot(std::vector<std::uint64_t> indexes, bool last, std::uint64_t seq,
                   std::uint64_t epoch) {
    auto* snap = s_.add_steps()->mutable_message()->mutable_snapshot();
    for (auto i : indexes) *snap->add_sessions() = typical_record(i);
    snap->set_last(last);
    if (last) {
      snap->set_last_sequence(seq);
      snap->set_last_epoch(epoch);
      snap->set_epoch(epoch);
      snap->set_next_session_index(100);
    }
    return *this;
  }
  Script& take_over(std::uint64_t epoch) {
    auto* n = s_.add_steps()->mutable_message()->mutable_take_over();
    n->set_node_id("node-a");
    n->set_role(proto::ROLE_ACTIVE);
    n->set_epoch(epoch);
    return *this;
  }
  Script& advance(std::uint32_t ms) {
    s_.add_steps()->set_advance_ms(ms);
    return *this;
  }
  Script& reconnect() {
    s_.add_steps()->set_reconnect(true);
    return *this;
  }
  // The arbiter's answers.
  Script& arbiter() {
    s_.set_arbiter(true);
    return *this;
  }
  Script& campaign(bool won, std::uint64_t revision) {
    auto* r = s_.add_steps()->mutable_campaign_result();
    r->set_won(won);
    r->set_revision(revision);
    return *this;
  }
  Script& lease(std::uint32_t ms) {
    s_.add_steps()->set_lease_ms(ms);
    return *this;
  }
  Script& key_lost() {
    s_.add_steps()->set_key_lost(true);
    return *this;
  }
  Script& resigned(bool ok) {
    s_.add_steps()->set_resigned(ok);
    return *this;
  }
  // The promoted node's own standby (node-a, which handed over or went silent).
  Script& follower_start(std::uint64_t epoch, std::uint64_t last_seq) {
    auto* n = s_.add_steps()->mutable_follower_start();
    n->set_node_id("node-a");
    n->set_role(proto::ROLE_STANDBY);
    n->set_epoch(epoch);
    n->set_priority(100);
    n->set_last_sequence(last_seq);
    n->set_last_epoch(last_seq == 0 ? 0 : epoch);
    return *this;
  }
  Script& follower_ack(std::uint64_t seq) {
    s_.add_steps()->mutable_follower_message()->set_ack(seq);
    return *this;
  }
  Script& follower_promoted(std::uint64_t epoch) {
    auto* n = s_.add_steps()->mutable_follower_message()->mutable_promoted();
    n->set_node_id("node-a");
    n->set_role(proto::ROLE_ACTIVE);
    n->set_epoch(epoch);
    return *this;
  }
  Script& echo() {
    s_.add_steps()->set_echo_beat(true);
    return *this;
  }
  Script& handover() {
    s_.add_steps()->set_begin_handover(true);
    return *this;
  }
  Script& follower_gone() {
    s_.add_steps()->set_follower_gone(true);
    return *this;
  }
  void save(const std::string& name) {
    write("replication/" + name + ".bin", s_.SerializeAsString());
  }

 private:
  tandem::fuzz::Script s_;
  std::uint64_t beat_ = 0;
};

void replication() {
  Script(3)
      .heartbeat(3, 3)
      .change(upsert(1, 3, 1))
      .change(upsert(2, 3, 2))
      .change(removal(3, 3, 1))
      .heartbeat(3, 3)
      .save("changes");
  Script(3)
      .snapshot({1, 2, 3}, false, 0, 0)
      .snapshot({4, 5}, true, 10, 3)
      .change(upsert(11, 3, 6))
      .save("snapshot_in_chunks");
  Script(3).change(upsert(1, 3, 1)).heartbeat(3, 1).take_over(3).heartbeat(4, 1).save("take_over");
  Script(3).change(upsert(5, 3, 1)).reconnect().change(upsert(1, 3, 1)).save("gap_then_reconnect");
  Script(5).stored_epoch(5).stored(1).stored(9).change(upsert(1, 4, 2)).save("stale_epoch");
  Script(3).heartbeat(3, 0).advance(1500).heartbeat(3, 0).advance(2500).save("hold_time");
  Script(3)
      .stored(1)
      .stored(2)
      .stored(50)
      .snapshot({2, 3}, true, 7, 3)
      .change(removal(8, 3, 2))
      .save("snapshot_replaces_stored");
  proto::Change bad = upsert(1, 3, 0);  // index 0: refused
  Script(3).change(bad).reconnect().change(upsert(1, 3, 1)).save("bad_record");
  // Without an arbiter: the promoted node takes its own standby and hands back.
  Script(3)
      .change(upsert(1, 3, 1))
      .heartbeat(3, 1)
      .take_over(3)
      .follower_start(3, 1)
      .advance(250)
      .echo()
      .follower_ack(1)
      .handover()
      .follower_promoted(9)
      .save("take_over_then_hand_back");
  // With an arbiter: a silent active, a campaign lost then won, the lease, the key lost.
  Script(3)
      .arbiter()
      .heartbeat(3, 0)
      .advance(2100)
      .campaign(false, 0)
      .advance(300)
      .lease(1700)
      .campaign(true, 600)
      .advance(100)
      .lease(1700)
      .key_lost()
      .advance(100)
      .save("arbiter_silent_active");
  // With an arbiter: a take-over won in etcd, a standby that vouches, a handover that resigns.
  Script(3)
      .arbiter()
      .change(upsert(1, 3, 1))
      .heartbeat(3, 1)
      .take_over(3)
      .lease(1700)
      .campaign(true, 700)
      .follower_start(3, 1)
      .advance(200)
      .echo()
      .key_lost()
      .campaign(true, 710)
      .lease(1700)
      .handover()
      .advance(200)
      .echo()
      .resigned(true)
      .follower_promoted(800)
      .save("arbiter_take_over_and_hand_back");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
    return 2;
  }
  out_dir = argv[1];
  tandem::log::set_level(tandem::log::Level::error);
  cstp();
  dtls();
  session_records();
  replication();
  return 0;
}
