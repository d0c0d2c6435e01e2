// SPDX-License-Identifier: GPL-2.0-or-later
// One load-generating worker: a single io_uring ring driving many SMTP client connections, each
// a small state machine with at most one operation (connect, sendmsg or recv) in flight, so a
// connection is only ever closed when the kernel no longer holds it. No call blocks: the loop
// waits on the ring with a short timeout so that back-off retries, stall detection and the
// run's deadline are checked even when nothing completes.
#ifndef KENSA_BENCH_SMTP_LOAD_H_
#define KENSA_BENCH_SMTP_LOAD_H_

#include <liburing.h>
#include <netinet/in.h>
#include <sys/uio.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "bench/bench_message.h"
#include "bench/smtp_reply.h"

namespace kensa::bench {

struct LoadOptions {
  sockaddr_in server{};
  int connections = 1;
  int64_t per_connection = 0;  // 0 = as many as are left
  bool pipelining = false;
  bool bdat = false;
  std::string from, to, helo;
  int64_t reply_timeout_ns = 0;
  int64_t deadline_ns = 0;  // CLOCK_MONOTONIC
  int64_t max_connect_failures = 0;
  // Connection i opens i x this after the start: a server with a short listen queue (clamsmtpd
  // listens with a backlog of 5) loses connections opened all at once, and a lost one waits
  // for a greeting that never comes.
  int64_t connect_spacing_ns = 0;
};

// Shared by every worker: messages are claimed one at a time, so the total is exact however
// many connections fail and come back.
struct LoadShared {
  int64_t total = 0;
  int64_t claim_until_ns = 0;  // CLOCK_MONOTONIC; 0 = no time limit on starting messages
  std::atomic<int64_t> next{0};
  std::atomic<int64_t> connect_failures{0};
  std::atomic<bool> stop{false};
  // Claims a message number, or -1 when all are taken or the time for new ones is over.
  int64_t Claim() {
    if (!InTime()) return -1;
    int64_t n = next.fetch_add(1);
    return n < total ? n : -1;
  }
  bool Left() const { return next.load() < total && InTime(); }

 private:
  bool InTime() const;
};

struct LoadStats {
  int64_t ok = 0, failed = 0, bytes_ok = 0;
  int64_t sessions = 0, drops = 0, connect_failures = 0;
  std::vector<uint32_t> latency_us;  // per ok message, DATA/BDAT sent -> final 250
  // per ok message, the body's last byte handed to the kernel -> final 250: what the server
  // spends on the message after it has it (scan, fsync), plus reading what the socket buffers
  std::vector<uint32_t> eod_latency_us;
  std::string first_error;
};

class LoadWorker {
 public:
  LoadWorker(const LoadOptions& options, LoadShared* shared, const MessageFactory* factory);
  ~LoadWorker();
  // Runs until every message is claimed and done, or the deadline / stop flag. False only when
  // the ring could not be set up (error in stats().first_error).
  bool Run();
  const LoadStats& stats() const { return stats_; }

 private:
  enum class Op : uint8_t { kNone, kConnect, kSend, kRecv };
  enum class Step : uint8_t {
    kIdle, kBackoff, kConnecting, kGreeting, kEhlo, kMail, kRcpt, kData, kBody,
    kPipeData, kPipeBdat, kRset, kQuit, kDone
  };
  struct Conn {
    int index = 0;
    int fd = -1;
    Op op = Op::kNone;
    Step step = Step::kIdle;
    bool cancel_sent = false;
    bool greeted = false;
    bool pipelining = false, chunking = false;
    int64_t msg = -1;  // claimed, not yet finished
    bool msg_failed = false;
    int64_t on_session = 0;
    int failures_in_row = 0;
    int64_t retry_at_ns = 0, last_io_ns = 0, data_start_ns = 0, eod_ns = 0;
    size_t expect = 0;
    ReplyReader reader;
    std::deque<Reply> replies;
    std::string cmd, headers, tokens, tail;  // what the segments below point into
    std::vector<std::string_view> body;      // this message's body segments
    std::vector<iovec> iov;
    size_t iov_first = 0;
    msghdr mh{};
    char rbuf[16384];
  };

  io_uring_sqe* Sqe();
  void Connect(Conn& c);
  // One write: `parts`, then (with_body) the message's body segments, then `after`.
  void Send(Conn& c, Step next_step, size_t expect, std::initializer_list<std::string_view> parts,
            bool with_body = false, std::string_view after = {});
  void PrepareMessage(Conn& c);
  void PostRecv(Conn& c);
  void OnCompletion(Conn& c, int res);
  void OnReplies(Conn& c);
  void StartNext(Conn& c);
  void Rset(Conn& c);
  void FinishMessage(Conn& c, bool ok);
  void Drop(Conn& c, const std::string& why);
  void Tick(int64_t now);
  bool AllDone() const;

  LoadOptions opt_;
  LoadShared* shared_;
  const MessageFactory* factory_;
  io_uring ring_{};
  bool ring_ok_ = false;
  std::vector<Conn> conns_;
  LoadStats stats_;
};

int64_t MonotonicNs();

}  // namespace kensa::bench

#endif  // KENSA_BENCH_SMTP_LOAD_H_
