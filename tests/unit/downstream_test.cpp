// The downstream carrier (docs/roaming.md): the pure rule, and the session table applying it on
// the events the tunnels report.
#include "node/session/downstream.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>

#include "node/session/session_table.hpp"

namespace tandem::session {
namespace {

using namespace std::chrono_literals;

TEST(NextDownstream, WithoutDtlsItIsAlwaysCstp) {
  for (std::size_t i = 0; i < kCarrierEvents; ++i) {
    const auto e = static_cast<CarrierEvent>(i);
    EXPECT_EQ(next_downstream(Carrier::dtls, e, false), Carrier::ssl) << to_string(e);
    EXPECT_EQ(next_downstream(Carrier::ssl, e, false), Carrier::ssl) << to_string(e);
  }
}

TEST(NextDownstream, FollowsTheCarrierOfTheClientsData) {
  EXPECT_EQ(next_downstream(Carrier::dtls, CarrierEvent::data_over_ssl, true), Carrier::ssl);
  EXPECT_EQ(next_downstream(Carrier::ssl, CarrierEvent::data_over_dtls, true), Carrier::dtls);
  EXPECT_EQ(next_downstream(Carrier::ssl, CarrierEvent::data_over_ssl, true), Carrier::ssl);
  EXPECT_EQ(next_downstream(Carrier::dtls, CarrierEvent::data_over_dtls, true), Carrier::dtls);
}

TEST(NextDownstream, AHandshakeAloneMovesNothing) {
  EXPECT_EQ(next_downstream(Carrier::ssl, CarrierEvent::dtls_attached, true), Carrier::ssl);
  EXPECT_EQ(next_downstream(Carrier::dtls, CarrierEvent::dtls_attached, true), Carrier::dtls);
}

TEST(NextDownstream, ASendFailureOrALostAssociationFallsBackToCstp) {
  EXPECT_EQ(next_downstream(Carrier::dtls, CarrierEvent::dtls_send_failed, true), Carrier::ssl);
  // A replacement already attached is used from the client's first record on it.
  EXPECT_EQ(next_downstream(Carrier::dtls, CarrierEvent::dtls_detached, true), Carrier::ssl);
}

class Quiet : public Transport {
 public:
  bool send_packet(std::span<const std::uint8_t>) override { return true; }
  void close(EndReason, bool) override { closed = true; }
  void send_dpd_request() override {}
  bool closed = false;
};

class DownstreamTableTest : public ::testing::Test {
 protected:
  FakeClock clock;
  SessionTable table{AddressPool(*net::parse_cidr("10.77.0.0/29")), clock};
  SessionRef s;
  std::shared_ptr<Quiet> ssl = std::make_shared<Quiet>();

  void SetUp() override {
    auto r = table.create({"alice", "default", "default", "10.200.0.2", 4000, "oc", 0});
    ASSERT_TRUE(r.ok());
    s = r->session;
    table.attach_ssl(s, ssl, {});
  }
  std::shared_ptr<Quiet> dtls_up() {
    auto t = std::make_shared<Quiet>();
    table.attach_dtls(s, t, {});
    return t;
  }
  void data(Carrier c) {
    table.frame_from_client(s, c);
    table.data_from_client(s, c, 84);
  }
  std::uint64_t switches(CarrierEvent e) const {
    return table.carrier_switches()[static_cast<std::size_t>(e)];
  }
};

// openconnect may still send a few packets over CSTP just after its DTLS handshake: the
// downstream settles on DTLS with the first DTLS record, whatever came before.
TEST_F(DownstreamTableTest, StartUpRaceSettlesOnDtlsWithTheClientsFirstDtlsRecord) {
  EXPECT_EQ(s->downstream, Carrier::ssl);
  dtls_up();
  EXPECT_EQ(s->downstream, Carrier::ssl);  // handshake done, no DTLS data yet
  data(Carrier::ssl);
  data(Carrier::ssl);
  EXPECT_EQ(s->downstream, Carrier::ssl);
  data(Carrier::dtls);
  EXPECT_EQ(s->downstream, Carrier::dtls);
  EXPECT_EQ(switches(CarrierEvent::data_over_dtls), 1u);
  EXPECT_EQ(switches(CarrierEvent::data_over_ssl), 0u);  // CSTP data before DTLS moved nothing
}

TEST_F(DownstreamTableTest, CstpDataWhileOnDtlsMovesAtOnceAndDtlsDataMovesBack) {
  auto d = dtls_up();
  data(Carrier::dtls);
  ASSERT_EQ(s->downstream, Carrier::dtls);
  // The client's network dropped: it lost its DTLS socket and carries on over CSTP.
  data(Carrier::ssl);
  EXPECT_EQ(s->downstream, Carrier::ssl);
  EXPECT_FALSE(d->closed);  // the association stays until DPD or a replacement ends it
  EXPECT_EQ(switches(CarrierEvent::data_over_ssl), 1u);
  data(Carrier::dtls);  // back on the same association
  EXPECT_EQ(s->downstream, Carrier::dtls);
  EXPECT_EQ(switches(CarrierEvent::data_over_dtls), 2u);
}

TEST_F(DownstreamTableTest, KeepalivesAndDpdMoveNothing) {
  dtls_up();
  data(Carrier::dtls);
  table.frame_from_client(s, Carrier::ssl);  // a CSTP keepalive, sent while DTLS carries data
  EXPECT_EQ(s->downstream, Carrier::dtls);
  data(Carrier::ssl);
  table.frame_from_client(s, Carrier::dtls);  // a DTLS DPD on the old association
  EXPECT_EQ(s->downstream, Carrier::ssl);
}

TEST_F(DownstreamTableTest, ANewAssociationCarriesFromItsFirstRecord) {
  auto old_one = dtls_up();
  data(Carrier::dtls);
  data(Carrier::ssl);        // network dropped
  auto new_one = dtls_up();  // the client's new handshake replaced the old association
  EXPECT_TRUE(old_one->closed);
  EXPECT_EQ(s->dtls.get(), new_one.get());
  EXPECT_EQ(s->downstream, Carrier::ssl);
  data(Carrier::dtls);
  EXPECT_EQ(s->downstream, Carrier::dtls);
}

TEST_F(DownstreamTableTest, ReplacingTheAssociationWhileOnDtlsWaitsForTheNewOne) {
  dtls_up();
  data(Carrier::dtls);
  dtls_up();  // a ClientHello from a new port: the old association is gone
  EXPECT_EQ(s->downstream, Carrier::ssl);
  EXPECT_EQ(switches(CarrierEvent::dtls_detached), 1u);
}

TEST_F(DownstreamTableTest, ASendFailureMovesToCstpUntilTheNextDtlsRecord) {
  auto d = dtls_up();
  data(Carrier::dtls);
  table.dtls_send_failed(s, d.get());
  EXPECT_EQ(s->downstream, Carrier::ssl);
  EXPECT_EQ(switches(CarrierEvent::dtls_send_failed), 1u);
  table.dtls_send_failed(s, d.get());  // no change, not counted again
  EXPECT_EQ(switches(CarrierEvent::dtls_send_failed), 1u);
  data(Carrier::dtls);
  EXPECT_EQ(s->downstream, Carrier::dtls);
  Quiet stranger;  // a replaced association's late failure is ignored
  table.dtls_send_failed(s, &stranger);
  EXPECT_EQ(s->downstream, Carrier::dtls);
}

TEST_F(DownstreamTableTest, DtlsGoingAwayFallsBackAndIsCounted) {
  auto d = dtls_up();
  data(Carrier::dtls);
  table.detach_dtls(s, d.get(), EndReason::transport_error);
  EXPECT_EQ(s->downstream, Carrier::ssl);
  EXPECT_EQ(switches(CarrierEvent::dtls_detached), 1u);
}

TEST_F(DownstreamTableTest, DtlsDpdFallsBackAndIsCounted) {
  config::Policy p;
  p.dpd_interval = 10s;
  p.idle_timeout = 3600s;
  p.disconnected_timeout = 3600s;
  p.session_timeout = 0s;
  auto d = dtls_up();
  data(Carrier::dtls);
  clock.advance(25s);
  data(Carrier::ssl);
  data(Carrier::dtls);  // keeps DTLS's last_rx fresh ...
  ASSERT_EQ(s->downstream, Carrier::dtls);
  clock.advance(21s);  // ... until the client goes quiet on DTLS for 2 x DPD
  table.frame_from_client(s, Carrier::ssl);
  table.run_timers([&p](const Session&) -> const config::Policy& { return p; });
  EXPECT_TRUE(d->closed);
  EXPECT_EQ(s->dtls, nullptr);
  EXPECT_EQ(s->downstream, Carrier::ssl);
  EXPECT_EQ(switches(CarrierEvent::dtls_detached), 1u);
}

TEST_F(DownstreamTableTest, ANewSslConnectionStartsOnCstp) {
  dtls_up();
  data(Carrier::dtls);
  table.attach_ssl(s, std::make_shared<Quiet>(), {});  // a resume
  EXPECT_EQ(s->dtls, nullptr);
  EXPECT_EQ(s->downstream, Carrier::ssl);
}

}  // namespace
}  // namespace tandem::session
