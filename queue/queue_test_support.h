// SPDX-License-Identifier: GPL-2.0-or-later
// Tests only. ScriptedNextHop: an SMTP server on 127.0.0.1 (one thread per connection) whose
// replies a test chooses, recording what it was sent. QueueTestBed: one running reactor with
// a temporary spool shard, its directory syncer, a worker and delivery counters, where queue
// files are written with SpoolWriter as the SMTP side writes them.
#ifndef KENSA_QUEUE_QUEUE_TEST_SUPPORT_H_
#define KENSA_QUEUE_QUEUE_TEST_SUPPORT_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/counters.h"
#include "core/reactor_pool.h"
#include "core/reactor_test_support.h"
#include "core/worker.h"
#include "queue/delivery_counters.h"
#include "queue/delivery_settings.h"
#include "spool/dir_syncer.h"
#include "spool/queue_id.h"
#include "spool/spool_shard.h"
#include "spool/spool_writer.h"

namespace kensa::queue {

// Polls `done` every 5 ms until it holds or `timeout` passes; whether it held.
inline bool WaitFor(const std::function<bool()>& done, absl::Duration timeout = absl::Seconds(5)) {
  const absl::Time end = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() > end) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

class ScriptedNextHop {
 public:
  struct Transaction {
    std::string sender;
    std::vector<std::string> recipients;  // those answered 250
    std::string data;                     // dot-stuffing undone, without the final "."
    absl::Time mail_time;                 // when its MAIL command arrived
  };

  // Set before Start(). Reply to RCPT TO:<address>; called on the connection threads.
  std::function<std::string(const std::string& address)> rcpt_reply = [](const std::string&) {
    return std::string("250 2.1.5 Ok");
  };
  std::string data_reply = "250 2.0.0 Ok: queued";
  // How long the final dot waits for its reply: keeps connections busy at the same time.
  absl::Duration hold_data_reply = absl::ZeroDuration();

  ScriptedNextHop() = default;
  ScriptedNextHop(const ScriptedNextHop&) = delete;
  ScriptedNextHop& operator=(const ScriptedNextHop&) = delete;
  ~ScriptedNextHop() { Stop(); }

  absl::Status Start() {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0) return absl::InternalError("socket");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        listen(listen_fd_, 64) != 0 ||
        getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      return absl::InternalError("bind/listen");
    }
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { AcceptLoop(); });
    return absl::OkStatus();
  }

  void Stop() {
    stop_ = true;
    if (acceptor_.joinable()) acceptor_.join();
    std::vector<std::thread> sessions;
    {
      std::lock_guard<std::mutex> lock(mu_);
      sessions.swap(sessions_);
    }
    for (std::thread& t : sessions) t.join();
    if (listen_fd_ >= 0) close(listen_fd_);
    listen_fd_ = -1;
  }

  uint16_t port() const { return port_; }
  std::string uri() const { return absl::StrCat("smtp://127.0.0.1:", port_); }
  int connections() const { return connections_; }
  int max_concurrent() const { return max_concurrent_; }
  std::vector<Transaction> transactions() const {
    std::lock_guard<std::mutex> lock(mu_);
    return transactions_;
  }
  size_t transaction_count() const {
    std::lock_guard<std::mutex> lock(mu_);
    return transactions_.size();
  }

 private:
  // A session ends on QUIT, EOF, Stop(), or after this long whatever the client does.
  static constexpr absl::Duration kSessionLimit = absl::Seconds(20);

  void AcceptLoop() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (poll(&p, 1, 20) <= 0) continue;
      int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      ++connections_;
      const int now = ++active_;
      int seen = max_concurrent_;
      while (now > seen && !max_concurrent_.compare_exchange_weak(seen, now)) {
      }
      std::lock_guard<std::mutex> lock(mu_);
      sessions_.emplace_back([this, fd] {
        Serve(fd);
        close(fd);
        --active_;
      });
    }
  }

  static void Reply(int fd, std::string_view line) {
    std::string out(line);
    out += "\r\n";
    (void)!send(fd, out.data(), out.size(), MSG_NOSIGNAL);
  }

  void Serve(int fd) {
    const absl::Time end = absl::Now() + kSessionLimit;
    Reply(fd, "220 scripted ESMTP");
    std::string in;
    Transaction t;
    bool in_data = false;
    while (!stop_ && absl::Now() < end) {
      size_t eol = in.find("\r\n");
      if (eol == std::string::npos) {
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, 20) <= 0) continue;
        char buf[65536];
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0) return;
        in.append(buf, static_cast<size_t>(n));
        continue;
      }
      std::string line = in.substr(0, eol);
      in.erase(0, eol + 2);
      if (in_data) {
        if (line == ".") {
          in_data = false;
          absl::SleepFor(hold_data_reply);
          {
            std::lock_guard<std::mutex> lock(mu_);
            transactions_.push_back(t);
          }
          t = Transaction();
          Reply(fd, data_reply);
        } else {
          t.data += absl::StartsWith(line, ".") ? line.substr(1) : line;
          t.data += "\r\n";
        }
        continue;
      }
      if (absl::StartsWithIgnoreCase(line, "EHLO") || absl::StartsWithIgnoreCase(line, "LHLO")) {
        Reply(fd, "250 scripted");
      } else if (absl::StartsWithIgnoreCase(line, "MAIL FROM:<")) {
        t = Transaction();
        t.sender = line.substr(11, line.find('>') - 11);
        t.mail_time = absl::Now();
        Reply(fd, "250 2.1.0 Ok");
      } else if (absl::StartsWithIgnoreCase(line, "RCPT TO:<")) {
        std::string address = line.substr(9, line.find('>') - 9);
        std::string reply = rcpt_reply(address);
        if (reply[0] == '2') t.recipients.push_back(address);
        Reply(fd, reply);
      } else if (absl::StartsWithIgnoreCase(line, "DATA")) {
        in_data = true;
        Reply(fd, "354 End data with <CR><LF>.<CR><LF>");
      } else if (absl::StartsWithIgnoreCase(line, "QUIT")) {
        Reply(fd, "221 2.0.0 Bye");
        return;
      } else {
        Reply(fd, "250 2.0.0 Ok");  // RSET, NOOP
      }
    }
  }

  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0}, active_{0}, max_concurrent_{0};
  std::thread acceptor_;
  mutable std::mutex mu_;
  std::vector<std::thread> sessions_;      // guarded by mu_
  std::vector<Transaction> transactions_;  // guarded by mu_
};

// A port on 127.0.0.1 where nothing listens (bound, then closed).
inline uint16_t RefusingPort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::abort();  // no loopback: nothing in these tests can run
  }
  close(fd);
  return ntohs(addr.sin_port);
}

class QueueTestBed {
 public:
  // Fails (and the test should stop) when the spool or the reactor cannot be set up.
  absl::Status SetUp() {
    char tmpl[] = "/tmp/kensaqueueXXXXXX";
    if (mkdtemp(tmpl) == nullptr) return absl::InternalError("mkdtemp");
    dir_ = tmpl;
    absl::StatusOr<spool::SpoolShard> shard = spool::SpoolShard::Open(dir_, 0);
    if (!shard.ok()) return shard.status();
    spool_ = std::make_unique<spool::SpoolShard>(std::move(*shard));
    ids_ = DeliveryCounters::Register(counters_);
    counters_.Resize(1);
    metric_ids_ = QueueMetrics::Register(histograms_, gauges_);
    histograms_.Resize(1);
    gauges_.Resize(1);
    worker_ = std::make_unique<Worker>("queue-test");
    absl::StatusOr<std::unique_ptr<ReactorPool>> pool =
        ReactorPool::Start(1, ReactorOptions{}, false, [this](Reactor& r) {
          reactor_ = &r;
          syncer_ = std::make_unique<spool::DirSyncer>(&r, spool_->dir_fd());
          return absl::OkStatus();
        });
    if (!pool.ok()) return pool.status();
    pool_ = std::move(*pool);
    return absl::OkStatus();
  }

  // `destroy_on_reactor` runs first, on the reactor (what the test built there goes there).
  void TearDown(const std::function<void()>& destroy_on_reactor = [] {}) {
    if (pool_ != nullptr) {
      Run([&] {
        destroy_on_reactor();
        syncer_.reset();
      });
      // Jobs still queued finish and post to a reactor that is still running.
      worker_.reset();
      pool_->StopAll();
      pool_->Join();
    }
    worker_.reset();
    spool_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  void Run(const std::function<void()>& step) { RunOnReactor(*reactor_, step); }

  DeliveryEnvironment Environment(const net::NextHop& hop) {
    DeliveryEnvironment env;
    env.reactor = reactor_;
    env.worker = worker_.get();
    env.spool = spool_.get();
    env.routes.local = hop;
    env.routes.relay = hop;
    env.routes.outbound = hop;
    env.routes.is_local_domain = [](std::string_view d) { return d == "example.test"; };
    env.counters = &counters_;
    env.counter_row = 0;
    env.counter_ids = ids_;
    env.histograms = &histograms_;
    env.gauges = &gauges_;
    env.metric_ids = metric_ids_;
    return env;
  }

  static spool::QueueEnvelope Envelope(std::string sender, std::vector<std::string> recipients) {
    spool::QueueEnvelope env;
    env.queue_id = spool::NewQueueId(0);
    env.arrival_unix_micros = absl::ToUnixMicros(absl::Now());
    env.sender = std::move(sender);
    for (std::string& r : recipients) env.recipients.push_back({std::move(r), "", ""});
    env.client_address = "192.0.2.1";
    env.helo = "client.example.org";
    env.protocol = "ESMTP";
    env.trace_header =
        absl::StrCat("Received: from client.example.org by test id ", env.queue_id, "\r\n");
    return env;
  }

  // Writes and commits a queue file as the SMTP side does; its path, or an error.
  absl::StatusOr<std::string> Spool(const spool::QueueEnvelope& env, std::string_view content) {
    std::promise<absl::Status> committed;
    std::string path;
    Run([&] {
      auto w = spool::SpoolWriter::Create(reactor_, syncer_.get(), *spool_, env);
      if (!w.ok()) {
        committed.set_value(w.status());
        return;
      }
      path = (*w)->path();
      for (size_t off = 0; off < content.size(); off += spool::SpoolWriter::kWriteChunk) {
        (*w)->Append(content.substr(off, spool::SpoolWriter::kWriteChunk));
      }
      (*w)->Commit([&committed](absl::Status s) { committed.set_value(s); });
    });
    absl::Status s = committed.get_future().get();
    if (!s.ok()) return s;
    return path;
  }

  // Queue files left in the shard directory.
  size_t QueueFiles() const {
    size_t n = 0;
    for (const auto& e : std::filesystem::directory_iterator(spool_->dir())) {
      if (e.is_regular_file()) ++n;
    }
    return n;
  }

  uint64_t Count(int id) const { return counters_.Sum(id); }
  const DeliveryCounters& ids() const { return ids_; }
  const QueueMetrics& metric_ids() const { return metric_ids_; }
  const HistogramSet& histograms() const { return histograms_; }
  const GaugeSet& gauges() const { return gauges_; }
  Reactor* reactor() { return reactor_; }
  Worker& worker() { return *worker_; }
  spool::SpoolShard& spool() { return *spool_; }

 private:
  std::string dir_;
  std::unique_ptr<spool::SpoolShard> spool_;
  CounterSet counters_;
  DeliveryCounters ids_;
  HistogramSet histograms_;
  GaugeSet gauges_;
  QueueMetrics metric_ids_;
  std::unique_ptr<Worker> worker_;
  std::unique_ptr<ReactorPool> pool_;
  Reactor* reactor_ = nullptr;
  std::unique_ptr<spool::DirSyncer> syncer_;
};

}  // namespace kensa::queue

#endif  // KENSA_QUEUE_QUEUE_TEST_SUPPORT_H_
