// SPDX-License-Identifier: GPL-2.0-or-later
#include "bench/smtp_load.h"

#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "absl/strings/str_cat.h"

namespace kensa::bench {

namespace {
constexpr uint64_t kIgnoreTag = 0;  // cancel requests: their own completion carries no news
constexpr int64_t kHardStopGraceNs = 5'000'000'000;
constexpr int kMaxBatch = 256;
}  // namespace

bool LoadShared::InTime() const {
  return claim_until_ns == 0 || MonotonicNs() < claim_until_ns;
}

int64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

LoadWorker::LoadWorker(const LoadOptions& options, LoadShared* shared,
                       const MessageFactory* factory)
    : opt_(options), shared_(shared), factory_(factory), conns_(std::max(options.connections, 0)) {
  // At most one operation and one cancel per connection can be queued between two submits.
  unsigned entries = 64;
  while (entries < 2u * conns_.size() && entries < 32768) entries <<= 1;
  io_uring_params params{};
  params.flags = IORING_SETUP_CQSIZE;
  params.cq_entries = entries * 2;
  int r = io_uring_queue_init_params(entries, &ring_, &params);
  ring_ok_ = r == 0;
  if (!ring_ok_) stats_.first_error = absl::StrCat("io_uring_queue_init: ", strerror(-r));
  for (size_t i = 0; i < conns_.size(); ++i) conns_[i].index = static_cast<int>(i);
}

LoadWorker::~LoadWorker() {
  for (Conn& c : conns_)
    if (c.fd >= 0) close(c.fd);
  if (ring_ok_) io_uring_queue_exit(&ring_);
}

io_uring_sqe* LoadWorker::Sqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  if (sqe == nullptr) {  // the queue is full: hand it to the kernel and take a fresh slot
    io_uring_submit(&ring_);
    sqe = io_uring_get_sqe(&ring_);
  }
  return sqe;
}

bool LoadWorker::Run() {
  if (!ring_ok_) return false;
  const int64_t start = MonotonicNs();
  for (Conn& c : conns_) {
    if (opt_.connect_spacing_ns <= 0 || c.index == 0) {
      Connect(c);
    } else {  // Tick() connects it when its time comes
      c.step = Step::kBackoff;
      c.retry_at_ns = start + c.index * opt_.connect_spacing_ns;
    }
  }
  io_uring_cqe* batch[kMaxBatch];
  while (!AllDone()) {
    __kernel_timespec ts{0, 20'000'000};  // the tick: back-off, stalls, deadline
    io_uring_cqe* cqe = nullptr;
    int r = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
    if (r < 0 && r != -ETIME && r != -EINTR && r != -EBUSY) {
      stats_.first_error = absl::StrCat("io_uring wait: ", strerror(-r));
      shared_->stop = true;
      break;
    }
    // Completions are copied out first, so handlers may queue new work freely.
    unsigned n = io_uring_peek_batch_cqe(&ring_, batch, kMaxBatch);
    std::vector<std::pair<uint64_t, int>> done;
    done.reserve(n);
    for (unsigned i = 0; i < n; ++i) done.emplace_back(batch[i]->user_data, batch[i]->res);
    io_uring_cq_advance(&ring_, n);
    for (auto [tag, res] : done)
      if (tag != kIgnoreTag) OnCompletion(conns_[tag - 1], res);
    int64_t now = MonotonicNs();
    Tick(now);
    if (now > opt_.deadline_ns + kHardStopGraceNs) {
      // Something ignores cancellation; the run is bounded whatever the kernel does.
      if (stats_.first_error.empty()) stats_.first_error = "hard stop after the deadline";
      for (Conn& c : conns_)
        if (c.msg >= 0) FinishMessage(c, false);
      break;
    }
  }
  return true;
}

bool LoadWorker::AllDone() const {
  for (const Conn& c : conns_)
    if (c.step != Step::kDone || c.op != Op::kNone) return false;
  return true;
}

void LoadWorker::Connect(Conn& c) {
  if (shared_->stop || !shared_->Left()) {
    c.step = Step::kDone;
    return;
  }
  c.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (c.fd < 0) {
    Drop(c, absl::StrCat("socket: ", strerror(errno)));
    return;
  }
  int one = 1;
  setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c.reader = ReplyReader();
  c.replies.clear();
  c.greeted = false;
  c.pipelining = c.chunking = false;
  c.on_session = 0;
  c.msg = -1;
  io_uring_sqe* sqe = Sqe();
  io_uring_prep_connect(sqe, c.fd, reinterpret_cast<const sockaddr*>(&opt_.server),
                        sizeof opt_.server);
  io_uring_sqe_set_data64(sqe, c.index + 1);
  c.op = Op::kConnect;
  c.step = Step::kConnecting;
  c.last_io_ns = MonotonicNs();
}

void LoadWorker::Send(Conn& c, Step next_step, size_t expect,
                      std::initializer_list<std::string_view> parts, bool with_body,
                      std::string_view after) {
  c.iov.clear();
  c.iov_first = 0;
  auto add = [&c](std::string_view p) {
    if (!p.empty()) c.iov.push_back(iovec{const_cast<char*>(p.data()), p.size()});
  };
  for (std::string_view p : parts) add(p);
  if (with_body)
    for (std::string_view p : c.body) add(p);
  add(after);
  c.step = next_step;
  c.expect = expect;
  c.mh = msghdr{};
  c.mh.msg_iov = c.iov.data();
  c.mh.msg_iovlen = c.iov.size();
  io_uring_sqe* sqe = Sqe();
  io_uring_prep_sendmsg(sqe, c.fd, &c.mh, MSG_NOSIGNAL);
  io_uring_sqe_set_data64(sqe, c.index + 1);
  c.op = Op::kSend;
}

void LoadWorker::PostRecv(Conn& c) {
  io_uring_sqe* sqe = Sqe();
  io_uring_prep_recv(sqe, c.fd, c.rbuf, sizeof c.rbuf, 0);
  io_uring_sqe_set_data64(sqe, c.index + 1);
  c.op = Op::kRecv;
}

void LoadWorker::OnCompletion(Conn& c, int res) {
  Op op = c.op;
  c.op = Op::kNone;
  c.last_io_ns = MonotonicNs();
  bool cancelled = c.cancel_sent;
  c.cancel_sent = false;
  if (shared_->stop) {
    Drop(c, "stopped (deadline or too many connect failures)");
    return;
  }
  if (res == -ECANCELED || (cancelled && res < 0)) {
    Drop(c, "no reply within --reply_timeout_s");
    return;
  }
  switch (op) {
    case Op::kNone:
      return;
    case Op::kConnect:
      if (res < 0) {
        Drop(c, absl::StrCat("connect: ", strerror(-res)));
        return;
      }
      c.step = Step::kGreeting;
      c.expect = 1;
      PostRecv(c);
      return;
    case Op::kSend: {
      if (res < 0) {
        Drop(c, absl::StrCat("send: ", strerror(-res)));
        return;
      }
      // A short send: skip what went out and send the rest of the segments.
      size_t n = static_cast<size_t>(res);
      while (n > 0 && c.iov_first < c.iov.size()) {
        iovec& v = c.iov[c.iov_first];
        if (n >= v.iov_len) {
          n -= v.iov_len;
          ++c.iov_first;
        } else {
          v.iov_base = static_cast<char*>(v.iov_base) + n;
          v.iov_len -= n;
          n = 0;
        }
      }
      if (c.iov_first < c.iov.size()) {
        c.mh.msg_iov = c.iov.data() + c.iov_first;
        c.mh.msg_iovlen = c.iov.size() - c.iov_first;
        io_uring_sqe* sqe = Sqe();
        io_uring_prep_sendmsg(sqe, c.fd, &c.mh, MSG_NOSIGNAL);
        io_uring_sqe_set_data64(sqe, c.index + 1);
        c.op = Op::kSend;
        return;
      }
      // The whole write is with the kernel; for a write that carried the body, that is the end
      // of the data as the client sees it.
      if (c.step == Step::kBody || c.step == Step::kPipeBdat) c.eod_ns = c.last_io_ns;
      if (c.replies.size() >= c.expect)
        OnReplies(c);
      else
        PostRecv(c);
      return;
    }
    case Op::kRecv:
      if (res == 0 && c.step == Step::kQuit) {  // closed without its 221: just as good
        close(c.fd);
        c.fd = -1;
        Connect(c);
        return;
      }
      if (res <= 0) {
        Drop(c, res == 0 ? "server closed the connection" : absl::StrCat("recv: ", strerror(-res)));
        return;
      }
      if (!c.reader.Feed(std::string_view(c.rbuf, res), &c.replies)) {
        Drop(c, "server sent something that is not an SMTP reply");
        return;
      }
      if (c.replies.size() >= c.expect)
        OnReplies(c);
      else
        PostRecv(c);
      return;
  }
}

void LoadWorker::OnReplies(Conn& c) {
  std::vector<Reply> r;
  for (size_t i = 0; i < c.expect; ++i) {
    r.push_back(std::move(c.replies.front()));
    c.replies.pop_front();
  }
  auto ok2 = [](const Reply& x) { return x.code / 100 == 2; };
  for (const Reply& x : r)
    if (x.code == 421 && c.step != Step::kQuit) {
      Drop(c, absl::StrCat("server: ", x.text));
      return;
    }
  switch (c.step) {
    case Step::kGreeting:
      if (r[0].code != 220) {
        Drop(c, absl::StrCat("greeting: ", r[0].text));
        return;
      }
      c.cmd = absl::StrCat("EHLO ", opt_.helo, "\r\n");
      Send(c, Step::kEhlo, 1, {c.cmd});
      return;
    case Step::kEhlo:
      if (r[0].code != 250) {
        Drop(c, absl::StrCat("EHLO: ", r[0].text));
        return;
      }
      c.greeted = true;
      c.failures_in_row = 0;
      c.pipelining = opt_.pipelining && HasEhloKeyword(r[0].text, "PIPELINING");
      c.chunking = opt_.bdat && HasEhloKeyword(r[0].text, "CHUNKING");
      ++stats_.sessions;
      StartNext(c);
      return;
    case Step::kMail:
      if (!ok2(r[0])) break;
      c.cmd = absl::StrCat("RCPT TO:<", opt_.to, ">\r\n");
      Send(c, Step::kRcpt, 1, {c.cmd});
      return;
    case Step::kRcpt:
      if (!ok2(r[0])) break;
      c.data_start_ns = MonotonicNs();
      PrepareMessage(c);
      if (c.chunking) {
        c.cmd = absl::StrCat("BDAT ", c.headers.size() + factory_->body_size(), " LAST\r\n");
        Send(c, Step::kBody, 1, {c.cmd, c.headers}, true);
      } else {
        c.cmd = "DATA\r\n";
        Send(c, Step::kData, 1, {c.cmd});
      }
      return;
    case Step::kData:
      if (r[0].code != 354) break;
      c.tail = ".\r\n";
      Send(c, Step::kBody, 1, {c.headers}, true, c.tail);
      return;
    case Step::kPipeData:
      if (r[2].code == 354) {
        // A 354 after a refused MAIL or RCPT still opens DATA: end it at once, count a failure.
        c.msg_failed = !ok2(r[0]) || !ok2(r[1]);
        c.tail = ".\r\n";
        if (c.msg_failed)
          Send(c, Step::kBody, 1, {c.tail});
        else
          Send(c, Step::kBody, 1, {c.headers}, true, c.tail);
        return;
      }
      break;
    case Step::kPipeBdat:
      if (!ok2(r[0]) || !ok2(r[1]) || !ok2(r[2])) break;
      FinishMessage(c, true);
      StartNext(c);
      return;
    case Step::kBody:
      if (!ok2(r[0]) || c.msg_failed) break;
      FinishMessage(c, true);
      StartNext(c);
      return;
    case Step::kRset:
      if (!ok2(r[0])) {
        Drop(c, absl::StrCat("RSET: ", r[0].text));
        return;
      }
      StartNext(c);
      return;
    case Step::kQuit:
      close(c.fd);
      c.fd = -1;
      c.step = Step::kIdle;
      Connect(c);  // more messages left: a fresh session; otherwise kDone
      return;
    default:
      Drop(c, "reply in an unexpected state");
      return;
  }
  // The transaction was refused somewhere: count it and start clean with RSET.
  if (stats_.first_error.empty()) stats_.first_error = absl::StrCat("refused: ", r.back().text);
  FinishMessage(c, false);
  c.cmd = "RSET\r\n";
  Send(c, Step::kRset, 1, {c.cmd});
}

void LoadWorker::StartNext(Conn& c) {
  int64_t msg = -1;
  if (!shared_->stop && (opt_.per_connection <= 0 || c.on_session < opt_.per_connection))
    msg = shared_->Claim();
  if (msg < 0) {
    c.cmd = "QUIT\r\n";
    Send(c, Step::kQuit, 1, {c.cmd});
    return;
  }
  c.msg = msg;
  c.msg_failed = false;
  ++c.on_session;
  std::string mail = absl::StrCat("MAIL FROM:<", opt_.from, ">\r\n");
  if (!c.pipelining) {
    c.cmd = std::move(mail);
    Send(c, Step::kMail, 1, {c.cmd});
    return;
  }
  std::string rcpt = absl::StrCat("RCPT TO:<", opt_.to, ">\r\n");
  PrepareMessage(c);
  c.data_start_ns = MonotonicNs();
  if (c.chunking) {
    // RFC 3030: BDAT may be pipelined, so the whole transaction is one write.
    c.cmd = absl::StrCat(mail, rcpt, "BDAT ", c.headers.size() + factory_->body_size(),
                         " LAST\r\n");
    Send(c, Step::kPipeBdat, 3, {c.cmd, c.headers}, true);
  } else {
    c.cmd = absl::StrCat(mail, rcpt, "DATA\r\n");  // RFC 2920: DATA ends the group
    Send(c, Step::kPipeData, 3, {c.cmd});
  }
}

void LoadWorker::PrepareMessage(Conn& c) {
  c.headers = factory_->Headers(c.msg);
  c.body.clear();
  factory_->Body(c.msg, &c.tokens, &c.body);
}

void LoadWorker::FinishMessage(Conn& c, bool ok) {
  if (c.msg < 0) return;
  if (ok) {
    ++stats_.ok;
    stats_.bytes_ok += static_cast<int64_t>(c.headers.size() + factory_->body_size());
    const int64_t now = MonotonicNs();
    auto us = [now](int64_t since) {
      return static_cast<uint32_t>(std::min<int64_t>((now - since) / 1000, UINT32_MAX));
    };
    stats_.latency_us.push_back(us(c.data_start_ns));
    stats_.eod_latency_us.push_back(us(c.eod_ns));
  } else {
    ++stats_.failed;
  }
  c.msg = -1;
}

void LoadWorker::Drop(Conn& c, const std::string& why) {
  FinishMessage(c, false);
  if (stats_.first_error.empty()) stats_.first_error = why;
  ++stats_.drops;
  if (c.fd >= 0) close(c.fd);
  c.fd = -1;
  if (!c.greeted) {
    ++stats_.connect_failures;
    if (++shared_->connect_failures > opt_.max_connect_failures) shared_->stop = true;
  }
  ++c.failures_in_row;
  if (shared_->stop || !shared_->Left()) {
    c.step = Step::kDone;
    return;
  }
  // Reconnect after a back-off that grows with failures in a row: 10 ms .. ~1.3 s.
  c.step = Step::kBackoff;
  c.retry_at_ns = MonotonicNs() + (int64_t{10'000'000} << std::min(c.failures_in_row - 1, 7));
}

void LoadWorker::Tick(int64_t now) {
  if (now > opt_.deadline_ns && !shared_->stop) {
    shared_->stop = true;
    if (stats_.first_error.empty()) stats_.first_error = "deadline (--timeout_s) reached";
  }
  for (Conn& c : conns_) {
    if (c.op == Op::kNone) {
      if (c.step == Step::kBackoff && (shared_->stop || !shared_->Left()))
        c.step = Step::kDone;
      else if (c.step == Step::kBackoff && now >= c.retry_at_ns)
        Connect(c);
      continue;
    }
    if (!c.cancel_sent && (shared_->stop || now - c.last_io_ns > opt_.reply_timeout_ns)) {
      io_uring_sqe* sqe = Sqe();
      io_uring_prep_cancel64(sqe, c.index + 1, 0);
      io_uring_sqe_set_data64(sqe, kIgnoreTag);
      c.cancel_sent = true;
    }
  }
}

}  // namespace kensa::bench
