#include <gtest/gtest.h>

#include "etcd/client.hpp"

namespace tandem::etcd {
namespace {

// One reading of an [arbiter] endpoint for the daemon's etcd client and the keeper's revoke.
TEST(EtcdEndpointUrl, SchemeAndTarget) {
  auto plain = parse_endpoint_url("http://10.0.0.5:2379");
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->tls);
  EXPECT_EQ(plain->target, "10.0.0.5:2379");
  auto tls = parse_endpoint_url("https://etcd.example:2379//");
  ASSERT_TRUE(tls.ok());
  EXPECT_TRUE(tls->tls);
  EXPECT_EQ(tls->target, "etcd.example:2379");
  for (const char* bad : {"", "ftp://h:1", "http://", "https:///", "http://h:1/v3", "h:1"})
    EXPECT_FALSE(parse_endpoint_url(bad).ok()) << bad;
}

}  // namespace
}  // namespace tandem::etcd
