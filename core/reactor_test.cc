// SPDX-License-Identifier: GPL-2.0-or-later
// The reactor on real loopback sockets: accept, multishot receive, send, timers, posts, pause.
#include "core/reactor.h"

#include <dirent.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <thread>
#include <vector>

#include "core/io_uring_probe.h"
#include "core/reactor_pool.h"
#include "core/socket_address.h"
#include "core/socket_stream.h"
#include "gtest/gtest.h"

namespace kensa {
namespace {

class ReactorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::Status s = CheckIoUringSupport();
    if (!s.ok()) GTEST_SKIP() << s;
  }
};

// Echoes what it receives, doubling nothing: proves receive->send ordering and close.
class Echo : public SocketStream::Handler {
 public:
  explicit Echo(std::shared_ptr<SocketStream> s) : s_(std::move(s)) {}
  void OnReceive(std::string_view b) override { s_->Send(b); }
  void OnStreamClosed(int) override { s_->Close(true); delete this; }
  std::shared_ptr<SocketStream> s_;
};

int ConnectTo(const SocketAddress& a) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  EXPECT_EQ(connect(fd, a.get(), a.length), 0);
  return fd;
}

TEST_F(ReactorTest, EchoesManyConnectionsAndLargePayloads) {
  auto addr = ParseSocketAddress("127.0.0.1:0");
  ASSERT_TRUE(addr.ok());
  auto lfd = OpenListenSocket(*addr, 128);
  ASSERT_TRUE(lfd.ok());
  SocketAddress bound;
  bound.length = sizeof bound.storage;
  getsockname(*lfd, reinterpret_cast<sockaddr*>(&bound.storage), &bound.length);

  ReactorOptions opts;
  opts.recv_buffer_count = 64;  // small, to exercise buffer exhaustion
  opts.recv_buffer_size = 4096;
  auto pool = ReactorPool::Start(1, opts, false, [&](Reactor& r) {
    r.Accept(*lfd, [&r](int fd) {
      if (fd < 0) return;
      auto s = SocketStream::Create(&r, fd);
      s->Start(new Echo(s));
    });
    return absl::OkStatus();
  });
  ASSERT_TRUE(pool.ok()) << pool.status();

  std::vector<std::thread> clients;
  std::atomic<int> good{0};
  for (int c = 0; c < 8; ++c) {
    clients.emplace_back([&, c] {
      int fd = ConnectTo(bound);
      std::string payload(1 << 20, 'a' + c);
      for (size_t i = 0; i < payload.size(); i += 7) payload[i] = static_cast<char>(i);
      std::thread writer([&] {
        size_t off = 0;
        while (off < payload.size()) {
          ssize_t n = write(fd, payload.data() + off, std::min<size_t>(65536, payload.size() - off));
          if (n <= 0) return;
          off += n;
        }
        shutdown(fd, SHUT_WR);
      });
      std::string got;
      char buf[65536];
      ssize_t n;
      while ((n = read(fd, buf, sizeof buf)) > 0) got.append(buf, n);
      writer.join();
      close(fd);
      if (got == payload) good++;
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(good.load(), 8);
  (*pool)->StopAll();
  (*pool)->Join();
  close(*lfd);
}

// A handler that, on the first bytes, pauses its receive and closes with a flush of a large
// reply: the pause's cancel lands while the reply is still being sent, the way a POP3
// session's last "+OK" raced its close under load. The whole reply must arrive.
class ReplyThenClose : public SocketStream::Handler {
 public:
  ReplyThenClose(std::shared_ptr<SocketStream> s, size_t bytes) : s_(std::move(s)), bytes_(bytes) {}
  void OnReceive(std::string_view) override {
    s_->PauseReceive();
    s_->Send(std::string(bytes_, 'r'));
    s_->Send("+OK bye\r\n");
    s_->Close(true);
  }
  void OnStreamClosed(int) override {}
  std::shared_ptr<SocketStream> s_;
  size_t bytes_;
};

TEST_F(ReactorTest, CloseWithFlushSurvivesAReceiveEndingMeanwhile) {
  auto addr = ParseSocketAddress("127.0.0.1:0");
  ASSERT_TRUE(addr.ok());
  auto lfd = OpenListenSocket(*addr, 16);
  ASSERT_TRUE(lfd.ok());
  SocketAddress bound;
  bound.length = sizeof bound.storage;
  getsockname(*lfd, reinterpret_cast<sockaddr*>(&bound.storage), &bound.length);
  constexpr size_t kReply = 8 << 20;  // more than the socket buffers hold: the send waits
  std::vector<std::unique_ptr<ReplyThenClose>> handlers;
  auto pool = ReactorPool::Start(1, ReactorOptions{}, false, [&](Reactor& r) {
    r.Accept(*lfd, [&r, &handlers, kReply](int fd) {
      if (fd < 0) return;
      auto s = SocketStream::Create(&r, fd);
      handlers.push_back(std::make_unique<ReplyThenClose>(s, kReply));
      s->Start(handlers.back().get());
    });
    return absl::OkStatus();
  });
  ASSERT_TRUE(pool.ok()) << pool.status();
  for (int round = 0; round < 5; ++round) {
    int fd = ConnectTo(bound);
    ASSERT_EQ(write(fd, "QUIT\r\n", 6), 6);
    usleep(20000);  // let the cancel land before the client reads
    std::string got;
    char buf[65536];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) got.append(buf, n);
    close(fd);
    EXPECT_EQ(got.size(), kReply + 9) << round;
    EXPECT_EQ(got.substr(got.size() > 9 ? got.size() - 9 : 0), "+OK bye\r\n") << round;
  }
  (*pool)->StopAll();
  (*pool)->Join();
  close(*lfd);
}

TEST_F(ReactorTest, TimersFireInOrderAndCancelledOnesNever) {
  std::vector<int> fired;
  std::atomic<bool> done{false};
  auto pool = ReactorPool::Start(1, ReactorOptions{}, false, [&](Reactor& r) {
    r.RunAfter(absl::Milliseconds(30), [&] { fired.push_back(3); });
    r.RunAfter(absl::Milliseconds(10), [&] { fired.push_back(1); });
    Reactor::TimerId t = r.RunAfter(absl::Milliseconds(20), [&] { fired.push_back(2); });
    r.CancelTimer(t);
    r.RunAfter(absl::Milliseconds(60), [&] { done = true; });
    return absl::OkStatus();
  });
  ASSERT_TRUE(pool.ok());
  while (!done) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  (*pool)->StopAll();
  (*pool)->Join();
  EXPECT_EQ(fired, (std::vector<int>{1, 3}));
}

TEST_F(ReactorTest, PostsFromOtherThreadsAllRunOnTheReactorThread) {
  std::atomic<int> ran{0};
  std::atomic<int> wrong_thread{0};
  auto pool = ReactorPool::Start(2, ReactorOptions{}, false,
                                 [](Reactor&) { return absl::OkStatus(); });
  ASSERT_TRUE(pool.ok());
  std::vector<std::thread> posters;
  for (int t = 0; t < 4; ++t) {
    posters.emplace_back([&, t] {
      for (int i = 0; i < 10000; ++i) {
        Reactor& r = (*pool)->reactor((t + i) % 2);
        r.Post([&, rp = &r] {
          if (Reactor::Current() != rp) wrong_thread++;
          ran++;
        });
      }
    });
  }
  for (auto& t : posters) t.join();
  while (ran < 40000) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  (*pool)->StopAll();
  (*pool)->Join();
  EXPECT_EQ(wrong_thread.load(), 0);
}

int HighestOpenFd() {
  int highest = 2;
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) return 1024;
  while (dirent* e = readdir(d)) highest = std::max(highest, std::atoi(e->d_name));
  closedir(d);
  return highest;
}

// Returns once the reactor has run a posted task, so its first submission (the accept's) is in
// the kernel: an accept being armed holds a descriptor slot for a moment, which a FillToLimit()
// racing it would miss, leaving one descriptor free.
void WaitForTheLoop(Reactor& r) {
  std::atomic<bool> ran{false};
  r.Post([&ran] { ran = true; });
  while (!ran.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

// At the descriptor limit the kernel fails an accept with EMFILE before it looks for a
// connection, so re-arming it at once failed again in a busy loop (a core at 100 %, a log line
// each time). The accept must stay paused until its owner resumes it, then take the client
// that waited in the backlog.
// A loopback listener and a client socket made while descriptors are still free, then the
// process's descriptor limit lowered to what is open plus a margin; FillToLimit() uses up the
// rest (from the limit's point of view, the machine is out of descriptors). The destructor
// gives everything back.
class AtDescriptorLimit {
 public:
  AtDescriptorLimit() {
    auto addr = ParseSocketAddress("127.0.0.1:0");
    auto fd = OpenListenSocket(*addr, 16);
    listener = fd.ok() ? *fd : -1;
    bound.length = sizeof bound.storage;
    getsockname(listener, reinterpret_cast<sockaddr*>(&bound.storage), &bound.length);
    client = socket(AF_INET, SOCK_STREAM, 0);  // made now: later there is no descriptor
    getrlimit(RLIMIT_NOFILE, &saved_);
    rlimit low = saved_;
    low.rlim_cur = std::min<rlim_t>(saved_.rlim_cur, HighestOpenFd() + 64);
    lowered_ = setrlimit(RLIMIT_NOFILE, &low) == 0;
    limit_ = low.rlim_cur;
  }
  ~AtDescriptorLimit() {
    for (int fd : filler_) close(fd);
    setrlimit(RLIMIT_NOFILE, &saved_);
    if (client >= 0) close(client);
    if (listener >= 0) close(listener);
  }
  bool ok() const { return listener >= 0 && client >= 0 && lowered_; }
  // Returns the errno of the dup that failed (EMFILE when the limit was reached).
  int FillToLimit() {
    for (rlim_t i = 0; i < limit_; ++i) {
      int fd = dup(listener);
      if (fd < 0) return errno;
      filler_.push_back(fd);
    }
    return 0;
  }
  void FreeOne() {
    close(filler_.back());
    filler_.pop_back();
  }
  bool Connect() { return connect(client, bound.get(), bound.length) == 0; }

  int listener = -1;
  int client = -1;
  SocketAddress bound;

 private:
  rlimit saved_{};
  rlim_t limit_ = 0;
  bool lowered_ = false;
  std::vector<int> filler_;
};

TEST_F(ReactorTest, AcceptAtTheDescriptorLimitPausesUntilResumed) {
  // The accept captures the limit when it is armed: lower it before the reactor starts.
  AtDescriptorLimit limit;
  ASSERT_TRUE(limit.ok());

  std::atomic<int> failures{0};
  std::atomic<int> accepted{0};
  uint64_t accept_id = 0;
  ReactorOptions opts;
  opts.recv_buffer_count = 64;
  opts.recv_buffer_size = 4096;
  auto pool = ReactorPool::Start(1, opts, false, [&](Reactor& r) {
    accept_id = r.Accept(limit.listener, [&](int fd) {
      if (fd >= 0) {
        accepted++;
        close(fd);
      } else if (fd != -ECANCELED) {
        failures++;
      }
    });
    return absl::OkStatus();
  });
  ASSERT_TRUE(pool.ok()) << pool.status();
  WaitForTheLoop((*pool)->reactor(0));

  EXPECT_EQ(limit.FillToLimit(), EMFILE);
  ASSERT_TRUE(limit.Connect());  // waits in the backlog
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_GE(failures.load(), 1);
  EXPECT_LE(failures.load(), 2) << "the failed accept was re-armed in a loop";
  EXPECT_EQ(accepted.load(), 0);

  // A descriptor is free again; the owner resumes and the waiting client is accepted.
  limit.FreeOne();
  Reactor& r = (*pool)->reactor(0);
  r.Post([&r, &accept_id] { r.ResumeAccept(accept_id); });
  for (int i = 0; i < 200 && accepted.load() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(accepted.load(), 1);
  const int failures_before_stop = failures.load();
  (*pool)->StopAll();
  (*pool)->Join();
  EXPECT_LE(failures_before_stop, 3);
}

int OpenDescriptors() {
  int n = 0;
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) return -1;
  while (readdir(d) != nullptr) ++n;
  closedir(d);
  return n - 3;  // ".", ".." and the directory's own descriptor
}

// Connections that queued while the loop was busy are taken one at a time: the kernel never
// installs a descriptor for the whole backlog at once, which at the limit would take those
// kept for the spool and the scans (a multishot accept did: 32 at once here).
TEST_F(ReactorTest, ABacklogIsAcceptedOneDescriptorAtATime) {
  constexpr int kClients = 32;
  auto addr = ParseSocketAddress("127.0.0.1:0");
  ASSERT_TRUE(addr.ok());
  auto lfd = OpenListenSocket(*addr, 128);
  ASSERT_TRUE(lfd.ok());
  SocketAddress bound;
  bound.length = sizeof bound.storage;
  getsockname(*lfd, reinterpret_cast<sockaddr*>(&bound.storage), &bound.length);

  std::atomic<int> accepted{0};
  std::atomic<int> most_open{0};
  auto pool = ReactorPool::Start(1, ReactorOptions{}, false, [&](Reactor& r) {
    r.Accept(*lfd, [&](int fd) {
      if (fd < 0) return;
      most_open = std::max(most_open.load(), OpenDescriptors());
      close(fd);
      accepted++;
    });
    return absl::OkStatus();
  });
  ASSERT_TRUE(pool.ok()) << pool.status();
  Reactor& r = (*pool)->reactor(0);
  std::atomic<bool> busy{false};
  r.Post([&busy] {  // the loop is busy while the clients connect
    busy = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  });
  while (!busy.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));

  std::vector<int> clients;
  for (int i = 0; i < kClients; ++i) clients.push_back(ConnectTo(bound));
  // Every client and the listener are open here; an accept adds its one descriptor on top.
  const int before = OpenDescriptors();
  for (int i = 0; i < 300 && accepted.load() < kClients; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(accepted.load(), kClients);
  EXPECT_LE(most_open.load(), before + 1) << "the backlog took descriptors all at once";
  for (int fd : clients) close(fd);
  (*pool)->StopAll();
  (*pool)->Join();
  close(*lfd);
}

// Cancelling a paused accept (a drain while at the limit) still ends it with -ECANCELED.
TEST_F(ReactorTest, CancellingAPausedAcceptEndsIt) {
  AtDescriptorLimit limit;
  ASSERT_TRUE(limit.ok());

  std::atomic<int> failures{0};
  std::atomic<int> cancelled{0};
  uint64_t accept_id = 0;
  ReactorOptions opts;
  opts.recv_buffer_count = 64;
  opts.recv_buffer_size = 4096;
  auto pool = ReactorPool::Start(1, opts, false, [&](Reactor& r) {
    accept_id = r.Accept(limit.listener, [&](int fd) {
      if (fd == -ECANCELED) {
        cancelled++;
      } else if (fd < 0) {
        failures++;
      } else {
        close(fd);
      }
    });
    return absl::OkStatus();
  });
  ASSERT_TRUE(pool.ok()) << pool.status();
  WaitForTheLoop((*pool)->reactor(0));
  EXPECT_EQ(limit.FillToLimit(), EMFILE);
  ASSERT_TRUE(limit.Connect());
  for (int i = 0; i < 200 && failures.load() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_GE(failures.load(), 1);
  Reactor& r = (*pool)->reactor(0);
  r.Post([&r, &accept_id] {
    r.Cancel(accept_id);
    r.ResumeAccept(accept_id);  // ignored: it is being cancelled
  });
  for (int i = 0; i < 200 && cancelled.load() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(cancelled.load(), 1);
  (*pool)->StopAll();
  (*pool)->Join();
}

}  // namespace
}  // namespace kensa
