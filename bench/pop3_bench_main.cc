// SPDX-License-Identifier: GPL-2.0-or-later
// kensa-pop3-bench: a POP3 retrieval load generator. --clients threads, each with one blocking
// socket, run POP3 sessions back to back until --duration_s has passed: connect, greeting,
// USER/PASS of the next mailbox (one counter shared by all clients, so the sessions walk the
// mailboxes round robin and one client sees them all), STAT, RETR 1..n, QUIT. A RETR response
// is read in full, up to the CRLF.CRLF that ends it. No RETR starts after the deadline; the
// run's time is from the start until the last client has finished its last RETR, so every
// counted byte is inside the measured time.
// --tls: implicit TLS on every connection (a full handshake per session, no resumption).
// It prints one line of key=value pairs (msgs, bytes, secs, msgs_per_s, mb_per_s with MB =
// 10^6 bytes, RETR latency percentiles, sessions that reached STAT, failed sessions, opened: how
// many sessions picked a mailbox, its own CPU seconds) so scripts can pick fields out of it;
// errors go to stderr (the first few in full). Every run is bounded: --duration_s plus
// --timeout_s for a server that stops answering.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "bench/load_tool.h"
#include "absl/strings/str_split.h"
#include "openssl/err.h"
#include "openssl/ssl.h"

ABSL_FLAG(std::string, server, "127.0.0.1:110", "POP3 server, IPv4 address:port");
ABSL_FLAG(int, clients, 1, "concurrent POP3 clients, one thread each");
ABSL_FLAG(double, duration_s, 5, "start no RETR after this many seconds");
ABSL_FLAG(std::string, user_format, "bench%d@example.test",
          "mailbox names: printf format with one %d, filled with 0 .. --mailboxes - 1");
ABSL_FLAG(int, mailboxes, 64, "how many mailboxes the sessions walk round robin");
ABSL_FLAG(std::string, password, "bench", "every mailbox's password");
ABSL_FLAG(int, max_retr_per_session, 0, "QUIT after this many RETRs (0: every message)");
ABSL_FLAG(double, timeout_s, 60, "a socket read or write that waits this long fails the session");
ABSL_FLAG(int, max_errors, 100, "stop the run after this many failed sessions");
ABSL_FLAG(bool, tls, false,
          "implicit TLS (as on port 995) on every connection, certificate not verified");
ABSL_FLAG(std::string, label, "", "free text echoed as label= (scripts use it to tag a point)");

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::string_view kTerminator = "\r\n.\r\n";

struct ClientStats {
  int64_t msgs = 0;
  int64_t bytes = 0;  // RETR bodies as sent (dot-stuffed), without status line and terminator
  int64_t sessions = 0;
  int64_t errors = 0;
  std::vector<uint32_t> retr_us;
};

struct Shared {
  sockaddr_in addr{};
  std::unique_ptr<absl::ParsedFormat<'d'>> user_format;
  std::string password;
  int mailboxes = 1;
  int max_retr = 0;
  int timeout_ms = 60000;
  int max_errors = 100;
  SSL_CTX* tls = nullptr;  // set: implicit TLS
  Clock::time_point deadline;
  std::atomic<uint64_t> next_mailbox{0};
  std::atomic<int64_t> errors{0};
  std::mutex log_mu;
  int logged = 0;

  void LogError(const std::string& what) {
    std::lock_guard<std::mutex> lock(log_mu);
    if (logged < 5) std::fprintf(stderr, "kensa-pop3-bench: %s\n", what.c_str());
    if (logged == 5) std::fprintf(stderr, "kensa-pop3-bench: (further errors not shown)\n");
    ++logged;
  }
};

// One POP3 connection with blocking reads through a buffer.
class Conn {
 public:
  explicit Conn(const Shared& sh) : sh_(sh), chunk_(256 * 1024) {}
  ~Conn() {
    if (ssl_ != nullptr) SSL_free(ssl_);
    if (fd_ >= 0) close(fd_);
  }

  bool Connect(std::string* err) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return Fail(err, "socket");
    timeval tv{sh_.timeout_ms / 1000, (sh_.timeout_ms % 1000) * 1000};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd_, reinterpret_cast<const sockaddr*>(&sh_.addr), sizeof sh_.addr) != 0) {
      return Fail(err, "connect");
    }
    if (sh_.tls != nullptr) {
      ssl_ = SSL_new(sh_.tls);
      if (ssl_ == nullptr || SSL_set_fd(ssl_, fd_) != 1) return Fail(err, "SSL_new", false);
      if (SSL_connect(ssl_) != 1) {
        *err = absl::StrFormat("TLS handshake: %s", ERR_reason_error_string(ERR_get_error()));
        return false;
      }
    }
    return true;
  }

  bool Send(std::string_view line, std::string* err) {
    while (!line.empty()) {
      ssize_t n = ssl_ != nullptr ? SSL_write(ssl_, line.data(), static_cast<int>(line.size()))
                                  : send(fd_, line.data(), line.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return Fail(err, "send");
      line.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // One status line; *ok says whether it began with +OK.
  bool ReadStatus(std::string* line, std::string* err) {
    for (;;) {
      size_t eol = buf_.find("\r\n", pos_);
      if (eol != std::string::npos) {
        line->assign(buf_, pos_, eol - pos_);
        pos_ = eol + 2;
        if (pos_ == buf_.size()) buf_.clear(), pos_ = 0;
        return true;
      }
      if (buf_.size() - pos_ > 8192) return Fail(err, "status line longer than 8 KiB", false);
      if (!Fill(err)) return false;
    }
  }

  // The rest of a multi-line response whose status line was just read: everything up to and
  // including CRLF.CRLF, where the status line's own CRLF counts as the first CRLF (an empty
  // body is "+OK\r\n.\r\n"). Adds the body's length to *bytes.
  bool ReadMultiline(int64_t* bytes, std::string* err) {
    // carry: up to the last 4 bytes seen, so a terminator split across reads is found.
    char carry[8] = {'\r', '\n'};
    size_t carry_n = 2;
    int64_t body = 0;
    auto scan = [&](const char* p, size_t n, size_t* end) -> bool {
      // Across the boundary: carry + the first bytes of p.
      char join[16];
      size_t head = std::min<size_t>(n, 4);
      std::memcpy(join, carry, carry_n);
      std::memcpy(join + carry_n, p, head);
      const void* hit = memmem(join, carry_n + head, kTerminator.data(), kTerminator.size());
      if (hit != nullptr) {
        *end = static_cast<size_t>(static_cast<const char*>(hit) - join) + kTerminator.size() - carry_n;
        return true;
      }
      hit = memmem(p, n, kTerminator.data(), kTerminator.size());
      if (hit != nullptr) {
        *end = static_cast<size_t>(static_cast<const char*>(hit) - p) + kTerminator.size();
        return true;
      }
      // New carry: the last 4 bytes of carry + p.
      char all[16];
      size_t tail = std::min<size_t>(n, 4);
      std::memcpy(all, carry, carry_n);
      std::memcpy(all + carry_n, p + n - tail, tail);
      size_t total = carry_n + tail;
      size_t keep = std::min<size_t>(total, 4);
      std::memmove(carry, all + total - keep, keep);
      carry_n = keep;
      return false;
    };
    size_t end = 0;
    // What the buffer already holds after the status line.
    if (pos_ < buf_.size()) {
      size_t n = buf_.size() - pos_;
      if (scan(buf_.data() + pos_, n, &end)) {
        body += static_cast<int64_t>(end);
        pos_ += end;
        if (pos_ == buf_.size()) buf_.clear(), pos_ = 0;
        *bytes += std::max<int64_t>(0, body - 3);
        return true;
      }
      body += static_cast<int64_t>(n);
    }
    buf_.clear();
    pos_ = 0;
    for (;;) {
      ssize_t n = Recv(chunk_.data(), chunk_.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Fail(err, "recv in a multi-line response");
      if (n == 0) return Fail(err, "connection closed in a multi-line response", false);
      if (scan(chunk_.data(), static_cast<size_t>(n), &end)) {
        body += static_cast<int64_t>(end);
        // Nothing follows without pipelining; keep it for the next status line if it does.
        buf_.assign(chunk_.data() + end, static_cast<size_t>(n) - end);
        *bytes += std::max<int64_t>(0, body - 3);  // less the final ".\r\n"
        return true;
      }
      body += n;
    }
  }

 private:
  // recv() or SSL_read(): > 0 bytes, 0 at the end of the stream, < 0 an error.
  ssize_t Recv(char* buf, size_t len) {
    if (ssl_ == nullptr) return recv(fd_, buf, len, 0);
    int n = SSL_read(ssl_, buf, static_cast<int>(std::min<size_t>(len, 1 << 30)));
    if (n > 0) return n;
    int e = SSL_get_error(ssl_, n);
    if (e == SSL_ERROR_ZERO_RETURN) return 0;
    if (e == SSL_ERROR_SYSCALL && errno == 0) return 0;  // closed without close_notify
    if (e != SSL_ERROR_SYSCALL) errno = EPROTO;
    return -1;
  }
  bool Fill(std::string* err) {
    char tmp[16384];
    for (;;) {
      ssize_t n = Recv(tmp, sizeof tmp);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Fail(err, "recv");
      if (n == 0) return Fail(err, "connection closed", false);
      buf_.append(tmp, static_cast<size_t>(n));
      return true;
    }
  }
  bool Fail(std::string* err, const char* what, bool with_errno = true) {
    *err = with_errno ? absl::StrFormat("%s: %s", what, std::strerror(errno)) : what;
    return false;
  }

  const Shared& sh_;
  int fd_ = -1;
  SSL* ssl_ = nullptr;
  std::string buf_;
  size_t pos_ = 0;
  std::vector<char> chunk_;
};

// One session; false (with *err) when anything in it failed.
bool Session(Shared& sh, ClientStats& st, std::string* err) {
  Conn c(sh);
  std::string line;
  uint64_t box = sh.next_mailbox.fetch_add(1, std::memory_order_relaxed) % sh.mailboxes;
  std::string user = absl::StrFormat(*sh.user_format, static_cast<int>(box));
  auto expect_ok = [&](const char* step) -> bool {
    if (!c.ReadStatus(&line, err)) {
      *err = absl::StrFormat("%s (%s, %s)", *err, step, user);
      return false;
    }
    if (line.rfind("+OK", 0) != 0) {
      *err = absl::StrFormat("%s answered \"%s\" (%s)", step, line.substr(0, 200), user);
      return false;
    }
    return true;
  };
  if (!c.Connect(err)) return false;
  if (!expect_ok("greeting")) return false;
  if (!c.Send(absl::StrFormat("USER %s\r\n", user), err) || !expect_ok("USER")) return false;
  if (!c.Send(absl::StrFormat("PASS %s\r\n", sh.password), err) || !expect_ok("PASS")) return false;
  if (!c.Send("STAT\r\n", err) || !expect_ok("STAT")) return false;
  int count = 0;
  {
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (f.size() < 2 || !absl::SimpleAtoi(f[1], &count) || count < 0) {
      *err = absl::StrFormat("STAT answered \"%s\" (%s)", line.substr(0, 200), user);
      return false;
    }
  }
  if (count == 0) {
    *err = absl::StrFormat("mailbox %s is empty", user);
    return false;
  }
  ++st.sessions;
  int limit = sh.max_retr > 0 ? std::min(count, sh.max_retr) : count;
  for (int i = 1; i <= limit && Clock::now() < sh.deadline; ++i) {
    Clock::time_point t0 = Clock::now();
    if (!c.Send(absl::StrFormat("RETR %d\r\n", i), err) || !expect_ok("RETR")) return false;
    int64_t bytes = 0;
    if (!c.ReadMultiline(&bytes, err)) {
      *err = absl::StrFormat("%s (RETR %d, %s)", *err, i, user);
      return false;
    }
    st.retr_us.push_back(static_cast<uint32_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count()));
    ++st.msgs;
    st.bytes += bytes;
  }
  if (!c.Send("QUIT\r\n", err) || !expect_ok("QUIT")) return false;
  return true;
}

void Client(Shared& sh, ClientStats& st) {
  std::string err;
  while (Clock::now() < sh.deadline) {
    if (sh.errors.load(std::memory_order_relaxed) >= sh.max_errors) return;
    if (!Session(sh, st, &err)) {
      ++st.errors;
      sh.errors.fetch_add(1, std::memory_order_relaxed);
      sh.LogError(err);
      std::this_thread::sleep_for(std::chrono::milliseconds(10));  // no busy loop on a dead server
    }
  }
}

using kensa::bench::ParseServer;
using kensa::bench::PercentileMs;

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "POP3 RETR load generator: kensa-pop3-bench --server 127.0.0.1:110 --clients 64 "
      "--duration_s 5 --user_format 'bench%d@example.test' --mailboxes 64 --password bench");
  absl::ParseCommandLine(argc, argv);
  signal(SIGPIPE, SIG_IGN);

  Shared sh;
  if (!ParseServer(absl::GetFlag(FLAGS_server), &sh.addr)) {
    std::fprintf(stderr, "kensa-pop3-bench: bad --server\n");
    return 2;
  }
  sh.user_format = absl::ParsedFormat<'d'>::New(absl::GetFlag(FLAGS_user_format));
  if (sh.user_format == nullptr) {
    std::fprintf(stderr, "kensa-pop3-bench: --user_format needs exactly one %%d\n");
    return 2;
  }
  sh.password = absl::GetFlag(FLAGS_password);
  sh.mailboxes = std::max(1, absl::GetFlag(FLAGS_mailboxes));
  sh.max_retr = absl::GetFlag(FLAGS_max_retr_per_session);
  sh.timeout_ms = static_cast<int>(std::max(0.001, absl::GetFlag(FLAGS_timeout_s)) * 1000);
  sh.max_errors = std::max(1, absl::GetFlag(FLAGS_max_errors));
  int clients = std::clamp(absl::GetFlag(FLAGS_clients), 1, 4096);
  if (absl::GetFlag(FLAGS_tls)) {
    sh.tls = SSL_CTX_new(TLS_client_method());
    if (sh.tls == nullptr) {
      std::fprintf(stderr, "kensa-pop3-bench: SSL_CTX_new failed\n");
      return 2;
    }
    SSL_CTX_set_verify(sh.tls, SSL_VERIFY_NONE, nullptr);  // loopback, a throwaway certificate
  }

  std::vector<ClientStats> stats(static_cast<size_t>(clients));
  std::vector<std::thread> threads;
  threads.reserve(static_cast<size_t>(clients));
  Clock::time_point start = Clock::now();
  sh.deadline = start + std::chrono::duration_cast<Clock::duration>(
                            std::chrono::duration<double>(absl::GetFlag(FLAGS_duration_s)));
  for (int i = 0; i < clients; ++i) {
    threads.emplace_back(Client, std::ref(sh), std::ref(stats[static_cast<size_t>(i)]));
  }
  for (std::thread& t : threads) t.join();
  double secs = std::chrono::duration<double>(Clock::now() - start).count();

  ClientStats total;
  for (ClientStats& s : stats) {
    total.msgs += s.msgs;
    total.bytes += s.bytes;
    total.sessions += s.sessions;
    total.errors += s.errors;
    total.retr_us.insert(total.retr_us.end(), s.retr_us.begin(), s.retr_us.end());
  }
  double p50 = PercentileMs(total.retr_us, 0.50);
  double p99 = PercentileMs(total.retr_us, 0.99);
  double pmax = total.retr_us.empty() ? 0 : *std::max_element(total.retr_us.begin(), total.retr_us.end()) / 1000.0;
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  double cpu = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
               static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  std::string label = absl::GetFlag(FLAGS_label);
  std::printf("%sclients=%d msgs=%lld bytes=%lld secs=%.3f msgs_per_s=%.1f mb_per_s=%.2f "
              "retr_p50_ms=%.3f retr_p99_ms=%.3f retr_max_ms=%.3f sessions=%lld errors=%lld "
              "opened=%llu client_cpu_s=%.2f\n",
              label.empty() ? "" : absl::StrFormat("label=%s ", label).c_str(), clients,
              static_cast<long long>(total.msgs), static_cast<long long>(total.bytes), secs,
              secs > 0 ? static_cast<double>(total.msgs) / secs : 0,
              secs > 0 ? static_cast<double>(total.bytes) / secs / 1e6 : 0, p50, p99, pmax,
              static_cast<long long>(total.sessions), static_cast<long long>(total.errors),
              static_cast<unsigned long long>(sh.next_mailbox.load()), cpu);
  return total.errors > 0 || total.msgs == 0 ? 1 : 0;
}
