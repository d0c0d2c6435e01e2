// SPDX-License-Identifier: GPL-2.0-or-later
// kensa-bench: an io_uring SMTP load generator. smtp-source is line-based and tops out near
// 240 MB/s, too slow to load a relay with 100 KB+ messages; this sends each message as a few
// large writes (headers + one shared body) from one ring per thread. It prints one line of
// key=value pairs so scripts can pick fields out of it; failures and the first error go to
// stderr. Every run is bounded: a message count and --timeout_s.
#include <arpa/inet.h>
#include <sys/resource.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "bench/load_tool.h"
#include "bench/bench_message.h"
#include "bench/smtp_load.h"

ABSL_FLAG(std::string, server, "127.0.0.1:2525", "SMTP server, IPv4 address:port");
ABSL_FLAG(int, connections, 16, "concurrent SMTP connections (all threads together)");
ABSL_FLAG(int64_t, messages, 1000, "total messages to send");
ABSL_FLAG(int64_t, size, 2048, "message body size in bytes (headers come on top)");
ABSL_FLAG(std::string, message_file, "",
          "send this prepared MIME entity (its headers, empty line, body) as every message's body "
          "instead of --size bytes of text; each @@KENSA_BENCH_TOKEN_24@@ in it becomes 24 "
          "base64 characters unique to the message");
ABSL_FLAG(double, duration_s, 0,
          "start no new message after this many seconds (0 = none); --messages still caps the run");
ABSL_FLAG(int64_t, per_connection, 0, "messages per session before QUIT; 0 = reuse for all");
ABSL_FLAG(bool, pipelining, false, "pipeline MAIL/RCPT/DATA when the server offers PIPELINING");
ABSL_FLAG(bool, bdat, false, "send with BDAT when the server offers CHUNKING");
ABSL_FLAG(std::string, from, "bench@example.net", "envelope sender");
ABSL_FLAG(std::string, to, "sink@example.org", "envelope recipient");
ABSL_FLAG(std::string, helo, "kensa-bench.example.net", "EHLO name");
ABSL_FLAG(double, timeout_s, 120, "bound on the whole run; unfinished messages count as failed");
ABSL_FLAG(double, reply_timeout_s, 30, "a connection with no progress for this long is dropped");
ABSL_FLAG(int64_t, max_connect_failures, -1,
          "stop after this many sessions failed before EHLO; -1 = 10 x connections + 10");
ABSL_FLAG(double, connect_spacing_ms, 0,
          "open the connections this far apart instead of all at once (for servers with a short "
          "listen queue)");
ABSL_FLAG(int, threads, 1, "threads, one ring each; connections are split between them");
ABSL_FLAG(std::string, label, "", "free text echoed as label= (scripts use it to tag a point)");

namespace {

using kensa::bench::ParseServer;
using kensa::bench::PercentileMs;

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("io_uring SMTP load generator: kensa-bench --server 127.0.0.1:2525 "
                               "--connections 16 --messages 1000 --size 102400");
  absl::ParseCommandLine(argc, argv);
  signal(SIGPIPE, SIG_IGN);  // a peer that closes mid-send is a failed message, not an exit

  kensa::bench::LoadOptions opt;
  if (!ParseServer(absl::GetFlag(FLAGS_server), &opt.server)) {
    fprintf(stderr, "kensa-bench: --server must be IPV4:PORT\n");
    return 2;
  }
  const int64_t messages = absl::GetFlag(FLAGS_messages);
  const int threads = std::max(1, absl::GetFlag(FLAGS_threads));
  int connections = absl::GetFlag(FLAGS_connections);
  if (messages < 0 || connections < 1 || absl::GetFlag(FLAGS_size) < 0) {
    fprintf(stderr, "kensa-bench: --messages, --connections and --size must be positive\n");
    return 2;
  }
  // More sessions than messages would only connect and QUIT.
  connections = static_cast<int>(std::min<int64_t>(connections, std::max<int64_t>(messages, 1)));

  // Each connection is one descriptor; lift the soft limit as far as the hard one allows.
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }

  opt.per_connection = absl::GetFlag(FLAGS_per_connection);
  opt.pipelining = absl::GetFlag(FLAGS_pipelining);
  opt.bdat = absl::GetFlag(FLAGS_bdat);
  opt.from = absl::GetFlag(FLAGS_from);
  opt.to = absl::GetFlag(FLAGS_to);
  opt.helo = absl::GetFlag(FLAGS_helo);
  opt.reply_timeout_ns = static_cast<int64_t>(absl::GetFlag(FLAGS_reply_timeout_s) * 1e9);
  int64_t max_fail = absl::GetFlag(FLAGS_max_connect_failures);
  opt.max_connect_failures = max_fail >= 0 ? max_fail : 10 * int64_t{connections} + 10;
  // Each thread spaces its own connections `threads` times as far apart: about this far overall.
  opt.connect_spacing_ns =
      static_cast<int64_t>(absl::GetFlag(FLAGS_connect_spacing_ms) * 1e6) * threads;

  kensa::bench::MessageFactory factory(opt.from, opt.to, absl::GetFlag(FLAGS_size));
  if (!absl::GetFlag(FLAGS_message_file).empty()) {
    std::string error;
    if (!factory.LoadBodyFile(absl::GetFlag(FLAGS_message_file), &error)) {
      fprintf(stderr, "kensa-bench: --message_file: %s\n", error.c_str());
      return 2;
    }
  }
  kensa::bench::LoadShared shared;
  shared.total = messages;

  const int64_t start = kensa::bench::MonotonicNs();
  opt.deadline_ns = start + static_cast<int64_t>(absl::GetFlag(FLAGS_timeout_s) * 1e9);
  if (absl::GetFlag(FLAGS_duration_s) > 0)
    shared.claim_until_ns = start + static_cast<int64_t>(absl::GetFlag(FLAGS_duration_s) * 1e9);
  std::vector<std::unique_ptr<kensa::bench::LoadWorker>> workers;
  for (int t = 0; t < threads; ++t) {
    kensa::bench::LoadOptions o = opt;
    o.connections = connections / threads + (t < connections % threads ? 1 : 0);
    workers.push_back(std::make_unique<kensa::bench::LoadWorker>(o, &shared, &factory));
  }
  std::vector<std::thread> pool;
  bool setup_ok = true;
  for (size_t t = 1; t < workers.size(); ++t)
    pool.emplace_back([&workers, t] { workers[t]->Run(); });
  if (!workers[0]->Run()) setup_ok = false;
  for (std::thread& th : pool) th.join();
  const double seconds = (kensa::bench::MonotonicNs() - start) / 1e9;

  kensa::bench::LoadStats sum;
  for (auto& w : workers) {
    const kensa::bench::LoadStats& s = w->stats();
    sum.ok += s.ok;
    sum.failed += s.failed;
    sum.bytes_ok += s.bytes_ok;
    sum.sessions += s.sessions;
    sum.drops += s.drops;
    sum.connect_failures += s.connect_failures;
    sum.latency_us.insert(sum.latency_us.end(), s.latency_us.begin(), s.latency_us.end());
    sum.eod_latency_us.insert(sum.eod_latency_us.end(), s.eod_latency_us.begin(),
                              s.eod_latency_us.end());
    if (sum.first_error.empty()) sum.first_error = s.first_error;
  }
  // With --duration_s the messages never started are not owed: the run ended on time.
  const int64_t unsent =
      absl::GetFlag(FLAGS_duration_s) > 0 ? 0 : messages - sum.ok - sum.failed;
  const double p50 = PercentileMs(sum.latency_us, 0.50);
  const double p99 = PercentileMs(sum.latency_us, 0.99);
  const double eod_p50 = PercentileMs(sum.eod_latency_us, 0.50);
  const double eod_p99 = PercentileMs(sum.eod_latency_us, 0.99);
  const double eod_max = PercentileMs(sum.eod_latency_us, 1.0);
  printf("%s\n",
         absl::StrFormat(
             "kensa-bench label=%s server=%s connections=%d threads=%d size=%d messages=%d "
             "ok=%d failed=%d unsent=%d seconds=%.3f msg_per_s=%.1f mb_per_s=%.2f "
             "p50_ms=%.3f p99_ms=%.3f eod_p50_ms=%.3f eod_p99_ms=%.3f eod_max_ms=%.3f "
             "sessions=%d drops=%d connect_failures=%d pipelining=%d bdat=%d",
             absl::GetFlag(FLAGS_label).empty() ? "-" : absl::GetFlag(FLAGS_label),
             absl::GetFlag(FLAGS_server), connections, threads,
             static_cast<int64_t>(factory.body_size()), messages, sum.ok, sum.failed, unsent,
             seconds, seconds > 0 ? sum.ok / seconds : 0,
             seconds > 0 ? sum.bytes_ok / seconds / 1e6 : 0, p50, p99, eod_p50, eod_p99, eod_max,
             sum.sessions, sum.drops, sum.connect_failures, opt.pipelining ? 1 : 0,
             opt.bdat ? 1 : 0)
             .c_str());
  fflush(stdout);
  if (!sum.first_error.empty() && (sum.failed > 0 || unsent > 0 || sum.drops > 0 || !setup_ok))
    fprintf(stderr, "kensa-bench: first error: %s\n", sum.first_error.c_str());
  return setup_ok && sum.failed == 0 && unsent == 0 ? 0 : 1;
}
