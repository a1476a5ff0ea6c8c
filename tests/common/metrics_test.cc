#include "common/metrics.h"

#include <string>

#include <gtest/gtest.h>
#include <prometheus/counter.h>
#include <prometheus/histogram.h>

#include "tests/common/http_get.h"

namespace qs {
namespace {

using qs_test::HttpGet;

TEST(MetricsTest, ServesRegisteredCounter) {
  auto registry = std::make_shared<prometheus::Registry>();
  auto& family = prometheus::BuildCounter()
                     .Name("qs_test_requests_total")
                     .Help("Requests seen by the test")
                     .Register(*registry);
  family.Add({{"op", "get"}}).Increment(3);
  auto& hist = prometheus::BuildHistogram()
                   .Name("qs_test_latency_seconds")
                   .Help("Latency")
                   .Register(*registry)
                   .Add({}, LatencyBucketsSeconds());
  hist.Observe(0.001);

  Result<std::unique_ptr<MetricsServer>> server = MetricsServer::Start("127.0.0.1:0", registry);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  int port = (*server)->port();
  ASSERT_GT(port, 0);

  std::string resp = HttpGet(port, "/metrics");
  EXPECT_NE(resp.find("200 OK"), std::string::npos) << resp;
  EXPECT_NE(resp.find("qs_test_requests_total{op=\"get\"} 3"), std::string::npos) << resp;
  EXPECT_NE(resp.find("qs_test_latency_seconds_bucket{le=\"10\"} 1"), std::string::npos) << resp;
  EXPECT_NE(resp.find("qs_test_latency_seconds_count 1"), std::string::npos) << resp;

  // A second server on the same port fails with a Status, not an exception.
  Result<std::unique_ptr<MetricsServer>> again =
      MetricsServer::Start("127.0.0.1:" + std::to_string(port), registry);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), Status::Code::kUnavailable);
  EXPECT_NE(again.status().message().find(std::to_string(port)), std::string::npos)
      << again.status().message();

  // The first server still works.
  EXPECT_NE(HttpGet(port, "/metrics").find("qs_test_requests_total"), std::string::npos);
  server.value().reset();
  EXPECT_EQ(HttpGet(port, "/metrics"), "");
}

TEST(MetricsTest, ColonPortBindsAllInterfaces) {
  auto registry = std::make_shared<prometheus::Registry>();
  Result<std::unique_ptr<MetricsServer>> server = MetricsServer::Start(":0", registry);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  EXPECT_NE(HttpGet((*server)->port(), "/metrics").find("200 OK"), std::string::npos);
}

TEST(MetricsTest, InvalidBind) {
  auto registry = std::make_shared<prometheus::Registry>();
  EXPECT_FALSE(MetricsServer::Start("", registry).ok());
  EXPECT_FALSE(MetricsServer::Start("localhost:http", registry).ok());
  EXPECT_FALSE(MetricsServer::Start("127.0.0.1:70000", registry).ok());
  EXPECT_FALSE(MetricsServer::Start("127.0.0.1:0", nullptr).ok());
  Result<std::unique_ptr<MetricsServer>> bad = MetricsServer::Start("192.0.2.1:9100", registry);
  EXPECT_FALSE(bad.ok());  // address not local
}

TEST(MetricsTest, LatencyBuckets) {
  std::vector<double> b = LatencyBucketsSeconds();
  ASSERT_GE(b.size(), 10u);
  EXPECT_DOUBLE_EQ(b.front(), 50e-6);
  EXPECT_DOUBLE_EQ(b.back(), 10.0);
  for (size_t i = 1; i < b.size(); i++) EXPECT_LT(b[i - 1], b[i]);
}

}  // namespace
}  // namespace qs
