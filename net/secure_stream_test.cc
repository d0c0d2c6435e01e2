// SPDX-License-Identifier: GPL-2.0-or-later
// SecureStream: two streams on one reactor talking over a socketpair, as a server and a
// client would: implicit TLS, STARTTLS mid-stream, garbage, close_notify, errors returned.
#include "net/secure_stream.h"

#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "core/io_uring_probe.h"
#include "core/reactor_pool.h"
#include "gmock/gmock.h"
#include "core/reactor_test_support.h"
#include "gtest/gtest.h"
#include "net/tls_test_support.h"

namespace kensa::net {
namespace {

using ::testing::HasSubstr;

// What one side saw. Written on the reactor thread, read by the test under the mutex.
struct Seen {
  std::mutex mu;
  std::string data;
  int established = 0;
  int peer_closed = 0;
  int failed = 0;
  std::string error;
  int stream_closed = 0;
};

class Recorder : public SecureStream::Handler {
 public:
  explicit Recorder(Seen* seen) : seen_(seen) {}
  // Runs on each plaintext arrival (reactor thread), after it was recorded.
  std::function<void(std::string_view)> on_data;
  void OnData(std::string_view p) override {
    {
      std::lock_guard<std::mutex> l(seen_->mu);
      seen_->data.append(p);
    }
    if (on_data) on_data(p);
  }
  void OnTlsEstablished() override { Bump(&Seen::established); }
  void OnTlsPeerClosed() override { Bump(&Seen::peer_closed); }
  void OnTlsFailed(absl::Status e) override {
    std::lock_guard<std::mutex> l(seen_->mu);
    ++seen_->failed;
    seen_->error = e.ToString();
  }
  void OnStreamClosed(int) override { Bump(&Seen::stream_closed); }

 private:
  void Bump(int Seen::*field) {
    std::lock_guard<std::mutex> l(seen_->mu);
    ++(seen_->*field);
  }
  Seen* seen_;
};

class SecureStreamTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto tls = TestTls::Create(::testing::TempDir(), "kensa_secure_stream");
    ASSERT_TRUE(tls.ok()) << tls.status();
    tls_ = tls->release();
  }
  static void TearDownTestSuite() { delete tls_; }

  void SetUp() override {
    absl::Status s = CheckIoUringSupport();
    if (!s.ok()) GTEST_SKIP() << s;
    auto pool = ReactorPool::Start(1, ReactorOptions{}, false,
                                   [](Reactor&) { return absl::OkStatus(); });
    ASSERT_TRUE(pool.ok()) << pool.status();
    pool_ = std::move(*pool);
    int fds[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
    OnReactor([&] {
      Reactor* r = &pool_->reactor(0);
      server_ = SecureStream::Create(SocketStream::Create(r, fds[0]));
      client_ = SecureStream::Create(SocketStream::Create(r, fds[1]));
    });
  }
  void TearDown() override {
    if (pool_ == nullptr) return;
    OnReactor([&] {
      server_.reset();
      client_.reset();
    });
    pool_->StopAll();
    pool_->Join();
  }

  // Runs fn on the reactor thread and waits for it.
  void OnReactor(const std::function<void()>& fn) { RunOnReactor(pool_->reactor(0), fn); }
  // Waits (bounded) until pred holds for the side's record.
  static bool WaitFor(Seen& seen, std::function<bool(const Seen&)> pred) {
    for (int i = 0; i < 1000; ++i) {  // 5 s
      {
        std::lock_guard<std::mutex> l(seen.mu);
        if (pred(seen)) return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  }

  static TestTls* tls_;
  std::unique_ptr<ReactorPool> pool_;
  std::shared_ptr<SecureStream> server_;
  std::shared_ptr<SecureStream> client_;
  Seen server_seen_;
  Seen client_seen_;
  Recorder server_rec_{&server_seen_};
  Recorder client_rec_{&client_seen_};
};

TestTls* SecureStreamTest::tls_ = nullptr;

TEST_F(SecureStreamTest, ImplicitTlsCarriesDataBothWays) {
  // Large enough to take many records and socket buffers.
  const std::string big(300 * 1024, 'x');
  server_rec_.on_data = [&](std::string_view p) {
    if (p.find("PING") != std::string_view::npos) {
      EXPECT_TRUE(server_->Send("PONG\r\n").ok());
    }
  };
  OnReactor([&] {
    ASSERT_TRUE(server_->StartTlsServer(*tls_->server).ok());
    server_->Start(&server_rec_);
    client_->Start(&client_rec_);
    ASSERT_TRUE(client_->StartTlsClient(*tls_->client, "mx.example.org").ok());
    // Written before the handshake finished: held, then sent encrypted.
    EXPECT_TRUE(client_->Send(big).ok());
    EXPECT_TRUE(client_->Send("PING\r\n").ok());
  });
  ASSERT_TRUE(WaitFor(client_seen_, [](const Seen& s) { return s.data == "PONG\r\n"; }));
  ASSERT_TRUE(WaitFor(server_seen_, [&](const Seen& s) { return s.data.size() == big.size() + 6; }));
  std::lock_guard<std::mutex> l(server_seen_.mu);
  EXPECT_EQ(server_seen_.data, big + "PING\r\n");
  EXPECT_EQ(server_seen_.established, 1);
  EXPECT_EQ(server_seen_.failed, 0);
  OnReactor([&] {
    EXPECT_TRUE(server_->tls_established());
    EXPECT_THAT(server_->DescribeTls(), HasSubstr("TLSv1."));
  });
  std::lock_guard<std::mutex> lc(client_seen_.mu);
  EXPECT_EQ(client_seen_.established, 1);
}

TEST_F(SecureStreamTest, StartTlsMidStreamKeepsPlaintextBeforeAndDataAfter) {
  // The server answers STARTTLS in the clear, then switches; the client switches on that
  // answer and sends its next command, which must arrive decrypted and whole.
  server_rec_.on_data = [&](std::string_view p) {
    if (p == "STARTTLS\r\n") {
      EXPECT_TRUE(server_->Send("220 go ahead\r\n").ok());
      EXPECT_TRUE(server_->StartTlsServer(*tls_->server).ok());
    }
  };
  client_rec_.on_data = [&](std::string_view p) {
    if (p == "220 go ahead\r\n") {
      EXPECT_TRUE(client_->StartTlsClient(*tls_->client, "mx.example.org").ok());
      EXPECT_TRUE(client_->Send("EHLO secure\r\n").ok());
    }
  };
  OnReactor([&] {
    server_->Start(&server_rec_);
    client_->Start(&client_rec_);
    EXPECT_TRUE(client_->Send("STARTTLS\r\n").ok());
  });
  ASSERT_TRUE(WaitFor(server_seen_, [](const Seen& s) {
    return s.data == "STARTTLS\r\nEHLO secure\r\n";
  }));
  std::lock_guard<std::mutex> l(server_seen_.mu);
  EXPECT_EQ(server_seen_.established, 1);
  std::lock_guard<std::mutex> lc(client_seen_.mu);
  EXPECT_EQ(client_seen_.data, "220 go ahead\r\n");
  EXPECT_EQ(client_seen_.established, 1);
}

TEST_F(SecureStreamTest, GarbageIsOneErrorAndSendReturnsIt) {
  OnReactor([&] {
    ASSERT_TRUE(server_->StartTlsServer(*tls_->server).ok());
    server_->Start(&server_rec_);
    client_->Start(&client_rec_);  // no TLS on this side: it sends plain text
    EXPECT_TRUE(client_->Send(std::string(64, '\x16') + "GET / HTTP/1.0\r\n\r\n").ok());
  });
  ASSERT_TRUE(WaitFor(server_seen_, [](const Seen& s) { return s.failed > 0; }));
  OnReactor([&] {
    EXPECT_TRUE(client_->Send("more garbage\r\n").ok());
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  {
    std::lock_guard<std::mutex> l(server_seen_.mu);
    EXPECT_EQ(server_seen_.failed, 1);  // reported once
    EXPECT_THAT(server_seen_.error, HasSubstr("TLS"));
    EXPECT_EQ(server_seen_.data, "");   // nothing of it passed as plaintext
  }
  OnReactor([&] {
    absl::Status s = server_->Send("220 hello\r\n");
    EXPECT_FALSE(s.ok());  // the failure is returned, not swallowed
    server_->Close(true);
    EXPECT_TRUE(server_->closed());
    EXPECT_TRUE(server_->Send("after close").ok());  // a no-op
  });
  ASSERT_TRUE(WaitFor(client_seen_, [](const Seen& s) { return s.stream_closed == 1; }));
}

TEST_F(SecureStreamTest, GracefulCloseSendsCloseNotifyAfterQueuedData) {
  OnReactor([&] {
    ASSERT_TRUE(server_->StartTlsServer(*tls_->server).ok());
    server_->Start(&server_rec_);
    client_->Start(&client_rec_);
    ASSERT_TRUE(client_->StartTlsClient(*tls_->client, "mx.example.org").ok());
  });
  ASSERT_TRUE(WaitFor(client_seen_, [](const Seen& s) { return s.established == 1; }));
  OnReactor([&] {
    EXPECT_TRUE(server_->Send("221 bye\r\n").ok());
    server_->Close(true);
  });
  ASSERT_TRUE(WaitFor(client_seen_, [](const Seen& s) { return s.peer_closed == 1; }));
  std::lock_guard<std::mutex> l(client_seen_.mu);
  EXPECT_EQ(client_seen_.data, "221 bye\r\n");  // the data came before close_notify
  EXPECT_EQ(client_seen_.failed, 0);
}

TEST_F(SecureStreamTest, StreamMayBeDroppedFromItsOwnCallback) {
  // The POP3 proxy drops its backend stream from inside the backend's callback.
  client_rec_.on_data = [&](std::string_view) {
    client_->Close(false);
    client_.reset();
  };
  OnReactor([&] {
    server_->Start(&server_rec_);
    client_->Start(&client_rec_);
    EXPECT_TRUE(server_->Send("+OK\r\n").ok());
  });
  ASSERT_TRUE(WaitFor(client_seen_, [](const Seen& s) { return s.data == "+OK\r\n"; }));
  ASSERT_TRUE(WaitFor(server_seen_, [](const Seen& s) { return s.stream_closed == 1; }));
}

}  // namespace
}  // namespace kensa::net
