// SPDX-License-Identifier: GPL-2.0-or-later
// The endpoint over a real loopback socket: a scrape gets the collector's text; an address
// that cannot be bound is an error, not an exception.
#include "metrics/metrics_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "metrics/kensa_collector.h"

namespace kensa::metrics {
namespace {

using ::testing::HasSubstr;

// One HTTP/1.0 GET; the whole response, or "" when the connection failed. Bounded by a
// 5-second receive timeout.
std::string HttpGet(int port, const std::string& path) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string out;
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    const std::string req = absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
    if (send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
      char buf[4096];
      for (ssize_t n; (n = recv(fd, buf, sizeof buf, 0)) > 0;) out.append(buf, n);
    }
  }
  close(fd);
  return out;
}

class MetricsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    queued_ = counters_.Register("messages_queued_total", "messages spooled (250)");
    counters_.Resize(1);
    counters_.Add(0, queued_, 7);
    MetricSources s;
    s.counters = &counters_;
    s.process_start = absl::Now();
    collector_ = std::make_shared<KensaCollector>(s);
  }

  CounterSet counters_;
  int queued_ = 0;
  std::shared_ptr<KensaCollector> collector_;
};

TEST_F(MetricsServerTest, ServesTheCollectorOnMetrics) {
  absl::StatusOr<std::unique_ptr<MetricsServer>> server =
      MetricsServer::Start("127.0.0.1:0", collector_);
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_EQ((*server)->ports().size(), 1u);
  const int port = (*server)->ports()[0];
  ASSERT_GT(port, 0);
  const std::string response = HttpGet(port, "/metrics");
  EXPECT_THAT(response, HasSubstr("200 OK"));
  EXPECT_THAT(response, HasSubstr("kensa_messages_queued_total{reactor=\"0\"} 7"));
  // Read at scrape time: a later count shows in the next scrape.
  counters_.Add(0, queued_, 1);
  EXPECT_THAT(HttpGet(port, "/metrics"), HasSubstr("kensa_messages_queued_total{reactor=\"0\"} 8"));
}

TEST_F(MetricsServerTest, AnAddressInUseIsAnErrorNamingTheKey) {
  absl::StatusOr<std::unique_ptr<MetricsServer>> first =
      MetricsServer::Start("127.0.0.1:0", collector_);
  ASSERT_TRUE(first.ok()) << first.status();
  const std::string taken = absl::StrCat("127.0.0.1:", (*first)->ports()[0]);
  absl::StatusOr<std::unique_ptr<MetricsServer>> second = MetricsServer::Start(taken, collector_);
  ASSERT_FALSE(second.ok());
  EXPECT_THAT(std::string(second.status().message()), HasSubstr("metrics.address"));
  EXPECT_THAT(std::string(second.status().message()), HasSubstr(taken));
}

}  // namespace
}  // namespace kensa::metrics
