// SPDX-License-Identifier: GPL-2.0-or-later
// ConnectionTestBed (tests only): one real reactor with a spool shard in a temporary directory,
// the workers, caches and limits of a ConnectionEnvironment, and a socketpair whose one end is
// the connection's socket while the test speaks through the other (blocking, with a receive
// timeout, so every read is bounded). Scanning is off unless a test publishes signatures and
// subscribes someone.
#ifndef KENSA_SERVER_CONNECTION_TEST_SUPPORT_H_
#define KENSA_SERVER_CONNECTION_TEST_SUPPORT_H_

#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/io_uring_probe.h"
#include "core/reactor_pool.h"
#include "core/reactor_test_support.h"
#include "core/socket_stream.h"
#include "gtest/gtest.h"
#include "scan/clam_test_support.h"
#include "server/client_connection.h"
#include "server/connection_environment.h"

namespace kensa::testing {

// Nobody subscribed: nothing is scanned.
class NoSubscribers : public SubscriberPolicy {
 public:
  Subscription Lookup(std::string_view) const override { return {}; }
};

class ConnectionTestBed : public ::testing::Test {
 protected:
  static constexpr auto kReadTimeout = std::chrono::seconds(5);

  void SetUp() override {
    if (!CheckIoUringSupport().ok()) GTEST_SKIP() << "no io_uring";
    auto shard = spool::SpoolShard::Open(dir_.str(), 0);
    ASSERT_TRUE(shard.ok()) << shard.status();
    spool_.emplace(std::move(*shard));
    ids_ = ServerCounters::Register(counters_);
    counters_.Resize(1);
    smtp_.hostname = "mx.test";
    smtp_.local_domains = {"example.test"};
    smtp_.spool_min_free_bytes = 0;
    smtp_.scan_enabled = false;
    pop3_.hostname = "mx.test";
    pop3_.plaintext_auth = true;
    pop3_.scan_enabled = false;
    auto pool = ReactorPool::Start(1, ReactorOptions{}, false, [this](Reactor& r) {
      reactor_ = &r;
      syncer_ = std::make_unique<spool::DirSyncer>(&r, spool_->dir_fd());
      in_flight_ = std::make_unique<InFlightBytes>(&r);
      return absl::OkStatus();
    });
    ASSERT_TRUE(pool.ok()) << pool.status();
    pool_ = std::move(*pool);
    env_.reactor = reactor_;
    env_.spool = &*spool_;
    env_.syncer = syncer_.get();
    env_.worker = &worker_;
    env_.scan_worker = &scan_worker_;
    env_.scan_bytes_in_flight = in_flight_.get();
    env_.auth_worker = &auth_worker_;
    env_.limiter = &limiter_;
    env_.policy = &policy_;
    env_.signatures = &signatures_;
    env_.scan_settings = &scan_settings_;
    env_.pop3_cache = &pop3_cache_;
    env_.counters = &counters_;
    env_.ids = ids_;
    env_.smtp = &smtp_;
    env_.pop3 = &pop3_;
    // Both run on the reactor thread; the test reads them there (Run) or after the join.
    env_.enqueue = [this](const std::string& path, const std::string& id) {
      enqueued_.emplace_back(path, id);
    };
    env_.connection_finished = [this](uint64_t) {
      ++finished_;
      reactor_->Defer([this] { connection_.reset(); });
    };
  }

  void TearDown() override {
    if (pool_ != nullptr) {
      Run([this] {
        connection_.reset();
        syncer_.reset();
        in_flight_.reset();
      });
      pool_->StopAll();
      pool_->Join();
    }
    if (client_fd_ >= 0) close(client_fd_);
  }

  void Run(const std::function<void()>& step) { RunOnReactor(*reactor_, step); }

  // Admits the test's client and starts `make(env, stream, peer)`'s connection on the reactor.
  template <typename Make>
  void Connect(Make make) {
    int fds[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    client_fd_ = fds[0];
    const int server_fd = fds[1];
    timeval tv{static_cast<time_t>(kReadTimeout.count()), 0};
    setsockopt(client_fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    auto peer = ParseSocketAddress("127.0.0.1:40000");
    ASSERT_TRUE(peer.ok());
    peer_ = *peer;
    ASSERT_EQ(limiter_.TryAdmit(peer_), ConnectionLimiter::Admit::kOk);
    Run([&] {
      // Not owned: the test bed's environment outlives every connection it makes.
      std::shared_ptr<const ConnectionEnvironment> env(std::shared_ptr<void>(), &env_);
      connection_ = make(std::move(env), SocketStream::Create(reactor_, server_fd), peer_);
      connection_->Start();
    });
  }

  void Send(std::string_view bytes) {
    for (int i = 0; i < 100 && !bytes.empty(); ++i) {
      ssize_t n = send(client_fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      ASSERT_GT(n, 0) << strerror(errno);
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    ASSERT_TRUE(bytes.empty());
  }

  // recv() on the test's end, retried when a signal (the reactor's own wake-ups reach any
  // thread) interrupts it; each try waits at most kReadTimeout.
  ssize_t Recv(char* buf, size_t n) {
    ssize_t got = -1;
    for (int i = 0; i < 100; ++i) {
      got = recv(client_fd_, buf, n, 0);
      if (got >= 0 || errno != EINTR) break;
    }
    return got;
  }

  // One line, CRLF included; "" on EOF or after the receive timeout.
  std::string ReadLine() {
    std::string line;
    char c;
    while (line.size() < 64 * 1024) {
      if (Recv(&c, 1) != 1) return "";
      line += c;
      if (line.size() >= 2 && line.compare(line.size() - 2, 2, "\r\n") == 0) return line;
    }
    return line;
  }

  // An SMTP reply, all its lines; ends at the line whose fourth byte is a space.
  std::string ReadReply() {
    std::string reply;
    for (int i = 0; i < 100; ++i) {
      std::string line = ReadLine();
      reply += line;
      if (line.size() < 4 || line[3] == ' ') break;
    }
    return reply;
  }

  // True when the peer has closed: recv() sees EOF within the timeout, after any bytes left.
  bool ReadsEof() {
    char buf[4096];
    for (int i = 0; i < 1000; ++i) {
      ssize_t n = Recv(buf, sizeof buf);
      if (n == 0) return true;
      if (n < 0) return false;
    }
    return false;
  }

  // Polls (bounded) until the connection has reported itself finished and was destroyed.
  bool WaitFinished() {
    for (int i = 0; i < 500; ++i) {
      bool gone = false;
      Run([&] { gone = finished_ > 0 && connection_ == nullptr; });
      if (gone) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  scan::testing::TempDir dir_;
  std::optional<spool::SpoolShard> spool_;
  CounterSet counters_;
  ServerCounters ids_;
  SmtpConnectionSettings smtp_;
  Pop3ConnectionSettings pop3_;
  NoSubscribers policy_;
  sigs::SignatureHolder signatures_;
  scan::ScanSettings scan_settings_;
  Pop3VerdictCache pop3_cache_{100};
  ConnectionLimiter limiter_{100, 100, {}};
  // Declared after what their jobs touch: destroyed (drained and joined) before it. With
  // scanning off and no AUTH no job of theirs posts back to the reactor.
  Worker worker_{"test-work"};
  Worker scan_worker_{"test-scan"};
  Worker auth_worker_{"test-auth"};
  std::unique_ptr<ReactorPool> pool_;
  Reactor* reactor_ = nullptr;
  std::unique_ptr<spool::DirSyncer> syncer_;
  std::unique_ptr<InFlightBytes> in_flight_;
  ConnectionEnvironment env_;
  SocketAddress peer_;
  int client_fd_ = -1;
  // Reactor thread only.
  std::unique_ptr<ClientConnection> connection_;
  int finished_ = 0;
  std::vector<std::pair<std::string, std::string>> enqueued_;
};

}  // namespace kensa::testing

#endif  // KENSA_SERVER_CONNECTION_TEST_SUPPORT_H_
