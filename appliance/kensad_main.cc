// SPDX-License-Identifier: GPL-2.0-or-later
// kensad: the mail gateway daemon. `kensad` alone runs the embedded default (loopback only,
// state in ./kensa-data); `--config FILE` runs a TOML configuration; `--check-config` validates
// and prints the effective configuration. SIGTERM drains; SIGHUP reopens the log, reloads the
// configuration file (appliance/config_reload.h) and the signatures (with feeds configured: the
// store's last-known-good set, then a check of the feeds). `--rollback-signatures` moves the
// signature store's pointer back one set. Under systemd it reports ready, reloading and
// stopping (appliance/service_notify.h).
#include <signal.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "appliance/config.h"
#include "appliance/config_reload.h"
#include "appliance/control_service.h"
#include "appliance/directories.h"
#include "appliance/live_settings.h"
#include "appliance/malloc_conf.h"
#include "core/arena_zeroing.h"
#include "core/background_priority.h"
#include "appliance/metrics_wiring.h"
#include "appliance/engine_temp_dir.h"
#include "appliance/resource_checks.h"
#include "appliance/service_notify.h"
#include "auth/auth_backend_factory.h"
#include "control/control_server.h"
#include "appliance/runtime.h"
#include "appliance/shard.h"
#include "core/io_uring_probe.h"
#include "core/log.h"
#include "core/reactor_pool.h"
#include "core/worker.h"
#include "feed/signature_feed.h"
#include "feed/signature_store.h"
#include "feed/signature_updater.h"
#include "net/self_signed_cert.h"
#include "queue/delivery_counters.h"
#include "spool/spool_shard.h"

namespace kensa {
namespace {

constexpr char kVersion[] = "0.1.0";

void Usage() {
  std::fprintf(stderr,
               "usage: kensad [--config FILE] [--check-config | --rollback-signatures]\n"
               "  with no --config, runs the embedded default (127.0.0.1, state in ./kensa-data)\n"
               "  --rollback-signatures: the signature store goes back one set, and the set\n"
               "  left is never taken again; a running kensad loads it on SIGHUP\n");
}

void RaiseFileLimit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

void LogSignatureSet(const char* event, const sigs::SignatureSet& set) {
  const sigs::SignatureSetInfo& i = set.info();
  KLOG(kInfo, event)
      .Kv("dir", i.dir)
      .Kv("version", i.version)
      .Kv("signatures", i.signatures)
      .Kv("files", i.files)
      .Kv("load_time", absl::Trunc(i.load_time, absl::Milliseconds(1)))
      .Kv("prefilter", set.prefilter() != nullptr ? "on" : "off")
      .Kv("prefilter_literals", i.prefilter.raw_patterns)
      .Kv("prefilter_hashes", i.prefilter.hash_signatures)
      .Kv("prefilter_without_literal", i.prefilter_without_literal)
      .Kv("prefilter_time", absl::Trunc(i.prefilter_time, absl::Milliseconds(1)))
      .Kv("prefilter_from_cache", i.prefilter.from_cache ? "yes" : "no")
      .Kv("prefilter_inputs_from_cache", i.prefilter_inputs_from_cache ? "yes" : "no");
  // A signature the prefilter cannot rule out sends whole classes of objects to the engine:
  // the operator should know which one.
  if (!i.prefilter_error.empty()) {
    KLOG(kWarning, "prefilter_unavailable").Kv("dir", i.dir).Kv("error", i.prefilter_error);
  }
  for (const std::string& why : i.prefilter_routing) {
    KLOG(kInfo, "prefilter_routes_to_engine").Kv("signature", why);
  }
}

sigs::PrefilterOptions PrefilterOptionsOf(const KensaConfig& c) {
  sigs::PrefilterOptions o;
  o.enabled = c.prefilter;
  o.cache_dir = c.prefilter_cache_dir;
  o.min_signatures = c.prefilter_min_signatures;
  return o;
}

// max_connections is clamped to what RLIMIT_NOFILE allows (resource_checks.h says why), so
// that client sockets alone can never exhaust the descriptors; no room at all is an error.
absl::Status FitConnectionsToDescriptors(Runtime& rt) {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return absl::OkStatus();
  const DescriptorBudget b = PlanDescriptors(rt.config, rt.reactors, rl.rlim_cur);
  if (b.max_connections == 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the file descriptor limit (RLIMIT_NOFILE ", b.limit, ") leaves no room for client "
        "connections: kensad needs ", b.reserved, " for itself with ", rt.reactors,
        " reactors; raise it (LimitNOFILE=) or lower reactors or "
        "delivery.max_connections_per_next_hop"));
  }
  if (rt.config.max_connections > b.max_connections) {
    KLOG(kWarning, "max_connections_clamped")
        .Kv("key", "smtp.max_connections")
        .Kv("configured", static_cast<uint64_t>(rt.config.max_connections))
        .Kv("effective", b.max_connections)
        .Kv("nofile_limit", b.limit)
        .Kv("reserved", b.reserved)
        .Kv("hint", "raise LimitNOFILE to at least 2 x max_connections + reserved");
    rt.config.max_connections = static_cast<size_t>(b.max_connections);
  }
  return absl::OkStatus();
}

// The one path by which a set goes live, at start, on SIGHUP and from the updater: built and
// checked with the canaries off the data path, then swapped in. One build at a time, so memory
// peaks at the running set plus the one being built, never a third.
absl::StatusOr<feed::PublishedSet> PublishSignatures(Runtime& rt, const std::string& dir) {
  static std::mutex one_build;
  std::lock_guard<std::mutex> lock(one_build);
  // A reload builds beside the running set: the reactors and scan workers come first. Not at
  // start, where nothing else runs yet and the threads made later would inherit the value.
  std::optional<BackgroundPriority> low;
  if (rt.signatures.Current() != nullptr) low.emplace();
  absl::StatusOr<std::shared_ptr<const sigs::SignatureSet>> set = sigs::SignatureSet::Build(
      dir, rt.clam_limits, rt.config.check_canaries, PrefilterOptionsOf(rt.config));
  if (!set.ok()) return set.status();
  const bool first = rt.signatures.Current() == nullptr;
  LogSignatureSet(first ? "signatures_loaded" : "signatures_reloaded", **set);
  const sigs::SignatureSetInfo& i = (*set)->info();
  feed::PublishedSet out{i.version, i.signatures, i.files, i.load_time};
  rt.signatures.Publish(std::move(*set));
  if (!first) rt.counters.Add(0, rt.ids.signature_reloads);
  return out;
}

// With feeds configured, the first set comes from the signature store (signature_dir when it
// has none that loads), and the updater keeps it current once started.
absl::Status SetUpSignatureUpdater(Runtime& rt, feed::UpdaterCounters counters) {
  const KensaConfig& c = rt.config;
  absl::StatusOr<feed::SignatureStore> store = feed::SignatureStore::Open(c.signatures.store_dir);
  if (!store.ok()) {
    return absl::Status(store.status().code(),
                        absl::StrCat("signatures.store_dir: ", store.status().message()));
  }
  for (const std::string& w : store->ClearStaging()) {
    KLOG(kWarning, "signature_store_warning").Kv("warning", w);
  }
  std::vector<std::unique_ptr<feed::SignatureFeed>> feeds;
  for (const feed::FeedSettings& f : c.signatures.feeds) {
    if (f.kind == feed::FeedKind::kClamavMirror) {
      feeds.push_back(feed::MakeClamavMirrorFeed(f));
      continue;
    }
    absl::StatusOr<feed::TrustedKeys> keys = feed::LoadFeedKeys(f);
    if (!keys.ok()) {
      return absl::Status(keys.status().code(),
                          absl::StrCat("signatures.feed: ", keys.status().message()));
    }
    feeds.push_back(feed::MakeBundleFeed(f, std::move(*keys)));
  }
  Runtime* rtp = &rt;
  rt.updater = std::make_unique<feed::SignatureUpdater>(
      c.signatures, std::move(feeds), std::move(*store), std::make_unique<feed::CurlFetcher>(),
      [rtp](const std::string& dir) { return PublishSignatures(*rtp, dir); }, c.signature_dir,
      counters);
  if (absl::Status s = rt.updater->LoadCurrent(); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("scan.signature_dir: ", s.message()));
  }
  return absl::OkStatus();
}

absl::Status SetUpRuntime(Runtime& rt) {
  const KensaConfig& c = rt.config;
  if (absl::Status s = MakeDirs(c.state_dir); !s.ok()) return s;
  if (absl::Status s = MakeDirs(c.spool_dir); !s.ok()) return s;
  if (std::optional<std::string> w = CheckSpoolMinFree(c)) {
    KLOG(kWarning, "config_warning").Kv("key", "spool.min_free_bytes").Kv("warning", *w);
  }
  absl::StatusOr<std::shared_ptr<net::TlsContext>> client = net::TlsContext::CreateClient({});
  if (!client.ok()) return client.status();
  rt.client_tls = *client;
  auth::AuthFailureLimiterOptions lo;
  lo.max_failures = c.auth_max_failures;
  lo.window = c.auth_failure_window;
  lo.base_delay = c.auth_failure_delay;
  lo.max_delay = c.auth_max_failure_delay;
  rt.auth_limiter = std::make_unique<auth::AuthFailureLimiter>(lo);

  std::vector<CidrBlock> exempt;
  for (const std::string& cidr : c.connection_limit_exempt) {
    absl::StatusOr<CidrBlock> b = CidrBlock::Parse(cidr);
    if (!b.ok()) return b.status();
    exempt.push_back(*b);
  }
  rt.reactors = c.reactors > 0 ? c.reactors : UsableCpuCount();
  if (absl::Status s = FitConnectionsToDescriptors(rt); !s.ok()) return s;
  rt.limiter = std::make_unique<ConnectionLimiter>(c.max_connections, c.max_connections_per_client,
                                                   std::move(exempt));
  CounterIds& ids = rt.ids;
  ids.connections = rt.counters.Register("smtp_connections_total", "SMTP connections accepted");
  ids.connections_refused =
      rt.counters.Register("smtp_connections_refused_total", "connections refused by limits");
  rt.server_ids = ServerCounters::Register(rt.counters);
  rt.delivery_ids = queue::DeliveryCounters::Register(rt.counters);
  ids.signature_reloads =
      rt.counters.Register("signature_reloads_total", "signature sets published by a reload");
  ids.signature_reload_failures = rt.counters.Register(
      "signature_reload_failures_total", "reloads that failed and kept the old set");
  ids.accept_failures = rt.counters.Register(
      "accept_failures_total", "accepts that failed (descriptor limit, kernel memory)");
  const bool updater = c.scan_enabled && !c.signatures.feeds.empty();
  feed::UpdaterCounters updater_ids;
  if (updater) updater_ids = feed::UpdaterCounters::Register(rt.counters);
  rt.counters.Resize(rt.reactors);
  rt.server_histogram_ids = ServerHistograms::Register(rt.histograms);
  rt.queue_metric_ids = queue::QueueMetrics::Register(rt.histograms, rt.gauges);
  rt.connections_open_gauge =
      rt.gauges.Register("connections_open", "client connections open (SMTP and POP3)");
  rt.histograms.Resize(rt.reactors);
  rt.gauges.Resize(rt.reactors);

  // The store is created empty when missing, so kensa-subscribers and kensad agree on it.
  absl::StatusOr<std::unique_ptr<subscribers::SubscriberStore>> store =
      subscribers::SubscriberStore::Open(c.subscriber_db, subscribers::OpenMode::kReadWrite,
                                         c.subscriber_db_map_bytes);
  if (!store.ok()) {
    return absl::Status(store.status().code(),
                        absl::StrCat("policy.subscriber_db: ", store.status().message()));
  }
  rt.subscribers = std::shared_ptr<subscribers::SubscriberStore>(std::move(*store));
  if (!c.provisioning_subscribers_url.empty()) {
    ProvisioningSettings ps;
    ps.url = c.provisioning_subscribers_url;
    ps.poll_interval = c.provisioning_poll_interval;
    ps.connect_timeout = c.provisioning_connect_timeout;
    ps.transfer_timeout = c.provisioning_transfer_timeout;
    ps.max_bytes = c.provisioning_max_bytes;
    ps.keep_local_domains = c.provisioning_keep_local_domains;
    ps.work_dir = c.state_dir + "/provisioning";
    rt.provisioner = std::make_unique<SubscriberProvisioner>(
        std::move(ps), rt.subscribers, std::make_unique<feed::CurlFetcher>());
  }
  LiveSettingsInputs live_inputs;
  live_inputs.reactors = rt.reactors;
  live_inputs.subscribers = rt.subscribers;
  // As the file said: a reload compares the next file with it (max_connections is fitted
  // to the descriptors at every generation's switch, not in it).
  absl::StatusOr<std::shared_ptr<const LiveSettings>> live =
      BuildLiveSettings(rt.loaded_config, live_inputs);
  if (!live.ok()) return live.status();
  rt.live.Publish(*live);
  if ((*live)->auth != nullptr) {
    KLOG(kInfo, "auth_backend").Kv("backend", (*live)->auth->Describe());
  }
  rt.clam_limits.max_scan_bytes = c.max_scan_bytes;
  rt.clam_limits.max_file_bytes = c.max_file_bytes;
  rt.clam_limits.max_recursion = c.max_recursion;
  rt.clam_limits.max_files = c.max_files;
  rt.clam_limits.max_scan_seconds =
      static_cast<uint32_t>(std::max<int64_t>(1, absl::ToInt64Seconds(c.max_scan_time)));
  if (c.scan_enabled) {
    if (absl::Status s = MakeDirs(c.scan_temp_dir); !s.ok()) return s;
    if (!c.engine_temp_dir.empty()) {
      if (absl::Status s = MakeDirs(c.engine_temp_dir); !s.ok()) return s;
    }
    // libclamav's own subdirectory, emptied of what a killed kensad left in it.
    absl::StatusOr<EngineTempDir> engine_tmp = PrepareEngineTempDir(c.engine_temp_dir, c.state_dir);
    if (!engine_tmp.ok()) return engine_tmp.status();
    rt.clam_limits.temp_dir = engine_tmp->path;
    KLOG(kInfo, "engine_temp_dir")
        .Kv("path", engine_tmp->path)
        .Kv("removed_leftovers", static_cast<uint64_t>(engine_tmp->removed));
    if (updater) return SetUpSignatureUpdater(rt, updater_ids);
    absl::StatusOr<feed::PublishedSet> set = PublishSignatures(rt, c.signature_dir);
    if (!set.ok()) {
      return absl::Status(set.status().code(),
                          absl::StrCat("scan.signature_dir: ", set.status().message()));
    }
  }
  return absl::OkStatus();
}

ReactorOptions ReactorOptionsFor(const KensaConfig& c) {
  ReactorOptions o;
  o.recv_buffer_count = static_cast<unsigned>(c.recv_buffers);
  return o;
}

// SIGHUP: a new set is built and checked off the data path; only a good one replaces the old.
void ReloadSignatures(Runtime& rt) {
  const KensaConfig& c = rt.config;
  absl::StatusOr<feed::PublishedSet> set = PublishSignatures(rt, c.signature_dir);
  if (!set.ok()) {
    std::shared_ptr<const sigs::SignatureSet> old = rt.signatures.Current();
    rt.counters.Add(0, rt.ids.signature_reload_failures);
    KLOG(kError, "signatures_reload_failed")
        .Kv("dir", c.signature_dir)
        .Kv("error", set.status())
        .Kv("kept", old != nullptr ? old->version() : std::string("none"));
  }
}

// Moves the store's last-known-good pointer back one set (feed/signature_store.h).
int RollBackSignatures(const KensaConfig& c) {
  absl::StatusOr<feed::SignatureStore> store = feed::SignatureStore::Open(c.signatures.store_dir);
  absl::StatusOr<feed::RollbackResult> r =
      store.ok() ? store->Rollback() : absl::StatusOr<feed::RollbackResult>(store.status());
  if (!r.ok()) {
    std::fprintf(stderr, "kensad: rollback: %s\n", std::string(r.status().message()).c_str());
    return 1;
  }
  std::printf("signatures rolled back from %s to %s in %s; %s will not be taken again; "
              "send kensad SIGHUP to load %s\n",
              r->from.ToString().c_str(), r->to.ToString().c_str(), store->root().c_str(),
              r->from.ToString().c_str(), r->to.ToString().c_str());
  return 0;
}

// The per-reactor counters, summed: one line an operator can read or a log shipper scrape.
void LogCounters(const CounterSet& counters) {
  auto line = KLOG(kInfo, "counters");
  for (size_t i = 0; i < counters.size(); ++i) {
    line.Kv(counters.name(static_cast<int>(i)), counters.Sum(static_cast<int>(i)));
  }
}

int Run(int argc, char** argv) {
  std::string config_path;
  bool check_only = false;
  bool rollback = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--config" && i + 1 < argc) {
      config_path = argv[++i];
    } else if (absl::StartsWith(a, "--config=")) {
      config_path = a.substr(9);
    } else if (a == "--check-config") {
      check_only = true;
    } else if (a == "--rollback-signatures") {
      rollback = true;
    } else if (a == "--version") {
      std::printf("kensad %s\n", kVersion);
      return 0;
    } else {
      Usage();
      return a == "--help" || a == "-h" ? 0 : 2;
    }
  }
  absl::StatusOr<KensaConfig> config =
      config_path.empty() ? absl::StatusOr<KensaConfig>(EmbeddedDefaultConfig())
                          : LoadConfig(config_path);
  if (!config.ok()) {
    std::fprintf(stderr, "kensad: %s\n", std::string(config.status().message()).c_str());
    return 1;
  }
  if (check_only) {
    std::printf("%s", DescribeConfig(*config).c_str());
    if (std::optional<std::string> w = CheckSpoolMinFree(*config)) {
      std::fprintf(stderr, "kensad: warning: %s\n", w->c_str());
    }
    std::fprintf(stderr, "kensad: configuration OK\n");
    return 0;
  }
  if (rollback) return RollBackSignatures(*config);

  LogOptions lo;
  lo.file = config->log_file;
  lo.min_level = LogLevelNamed(config->log_level);
  if (absl::Status s = InitLog(lo); !s.ok()) {
    std::fprintf(stderr, "kensad: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  // Before any scan thread starts (core/arena_zeroing.h says why).
  if (absl::Status s = ZeroByMemsetInEveryArena(); !s.ok()) {
    KLOG(kWarning, "arena_zeroing_unavailable").Kv("error", s);
  }
  if (absl::Status s = CheckIoUringSupport(); !s.ok()) {
    KLOG(kError, "startup_failed").Kv("error", s);
    std::fprintf(stderr, "kensad: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  RaiseFileLimit();

  auto runtime = std::make_unique<Runtime>();
  runtime->config = *config;
  runtime->loaded_config = *config;
  runtime->started_at = absl::Now();
  if (absl::Status s = SetUpRuntime(*runtime); !s.ok()) {
    KLOG(kError, "startup_failed").Kv("error", s);
    std::fprintf(stderr, "kensad: %s\n", std::string(s.message()).c_str());
    return 1;
  }

  // Signals are read from a signalfd by this thread; every other thread inherits the mask.
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &mask, nullptr);
  signal(SIGPIPE, SIG_IGN);
  int sfd = signalfd(-1, &mask, SFD_CLOEXEC);

  // After the mask: the server's threads must not take the signals this thread reads.
  absl::StatusOr<std::unique_ptr<metrics::MetricsServer>> metrics_server = StartMetrics(*runtime);
  if (!metrics_server.ok()) {
    KLOG(kError, "startup_failed").Kv("error", metrics_server.status());
    std::fprintf(stderr, "kensad: %s\n", std::string(metrics_server.status().message()).c_str());
    return 1;
  }

  const int n = runtime->reactors;
  std::vector<std::unique_ptr<Shard>> shards(n);
  Runtime* rt = runtime.get();
  absl::StatusOr<std::unique_ptr<ReactorPool>> pool = ReactorPool::Start(
      n, ReactorOptionsFor(rt->config), rt->config.pin_reactors, [&shards, rt](Reactor& r) -> absl::Status {
        absl::StatusOr<spool::SpoolShard> spool =
            spool::SpoolShard::Open(rt->config.spool_dir, r.index());
        if (!spool.ok()) return spool.status();
        shards[r.index()] =
            std::make_unique<Shard>(&r, rt, std::move(*spool), rt->live.Current());
        return shards[r.index()]->Start();
      },
      [&shards](Reactor& r) { shards[r.index()].reset(); });
  if (!pool.ok()) {
    KLOG(kError, "startup_failed").Kv("error", pool.status());
    std::fprintf(stderr, "kensad: %s\n", std::string(pool.status().message()).c_str());
    return 1;
  }
  {
    auto line = KLOG(kInfo, "started");
    line.Kv("version", kVersion).Kv("reactors", n).Kv("hostname", rt->config.hostname);
    for (const ListenerConfig& l : rt->config.listeners) line.Kv(l.name, l.address);
    line.Kv("next_hop", rt->live.Current()->local_hop.ToString())
        .Kv("spool", rt->config.spool_dir);
    line.Kv("metrics", *metrics_server != nullptr ? rt->config.metrics_address : "off");
  }
  if (rt->updater != nullptr) rt->updater->Start();
  if (rt->provisioner != nullptr) rt->provisioner->Start();
  // The control socket (kensa-shell), on a thread of its own; stopped before the drain, so
  // no command reaches a shard that is winding down.
  ConfigReloader config_reloader(rt, pool->get(), &shards, config_path);
  // Without a feed, signature_dir is built again on a thread of its own (seconds with a full
  // database, and this thread must keep answering SIGTERM); requests that come while one runs
  // are coalesced.
  std::atomic<int> reloads_asked{0};  // outlives the reloader, whose job uses it
  Worker reloader("kensa-sigload");
  auto reload_signature_dir = [rt, &reloads_asked, &reloader] {
    if (reloads_asked.fetch_add(1) != 0) return;
    reloader.Submit([rt, &reloads_asked] {
      for (;;) {
        const int asked = reloads_asked.load();
        ReloadSignatures(*rt);
        if (reloads_asked.fetch_sub(asked) == asked) break;  // none came in meanwhile
      }
    });
  };
  ControlContext control_context;
  control_context.runtime = rt;
  control_context.config_reloader = &config_reloader;
  control_context.reload_signature_dir = reload_signature_dir;
  control_context.pool = pool->get();
  control_context.shards = &shards;
  control_context.config_path = config_path;
  control_context.version = kVersion;
  control_context.started = absl::Now();
  ControlService control_service(std::move(control_context));
  control::ControlServerOptions control_options;
  control_options.socket_path = rt->config.control_socket;
  control_options.admin_group = rt->config.control_admin_group;
  control_options.max_clients = rt->config.control_max_clients;
  control_options.idle_timeout = rt->config.control_idle_timeout;
  absl::StatusOr<std::unique_ptr<control::ControlServer>> control_server =
      control::ControlServer::Start(control_options, &control_service);
  if (!control_server.ok()) {
    KLOG(kError, "startup_failed").Kv("error", control_server.status());
    std::fprintf(stderr, "kensad: %s\n", std::string(control_server.status().message()).c_str());
    (*pool)->StopAll();
    (*pool)->Join();
    return 1;
  }

  {
    std::shared_ptr<const sigs::SignatureSet> set = rt->signatures.Current();
    NotifyReady(absl::StrCat("serving: ", n, " reactors, signatures ",
                             set != nullptr ? set->version() : std::string("none (scan off)")));
  }
  for (;;) {
    signalfd_siginfo si{};
    ssize_t got = read(sfd, &si, sizeof si);
    if (got != sizeof si) continue;
    if (si.ssi_signo == SIGHUP) {
      NotifyReloading();
      absl::Status s = ReopenLog();
      KLOG(kInfo, "sighup").Kv("log_reopened", s.ok());
      LogCounters(rt->counters);
      // The file first (its result is logged either way; a bad one changes nothing), then the
      // signatures, as before.
      std::string outcome = "no configuration file (embedded default)";
      if (!config_path.empty()) {
        absl::StatusOr<ConfigReloadResult> r = config_reloader.Reload();
        outcome = r.ok() ? absl::StrCat("configuration generation ", r->generation)
                         : ConfigReloader::Describe(r.status());
      }
      if (rt->updater != nullptr) {
        rt->updater->RequestReload();  // its own thread; the store's pointer, then the feeds
      } else if (rt->config.scan_enabled) {
        reload_signature_dir();
      }
      // The signatures load on their own thread; the service is ready (with the old set) now.
      NotifyReloaded(absl::StrCat(outcome, "; signatures reloading in the background"));
      continue;
    }
    break;  // SIGTERM or SIGINT
  }
  if (rt->updater != nullptr) rt->updater->Stop();  // a download in flight is cut short
  if (rt->provisioner != nullptr) rt->provisioner->Stop();

  control_server->reset();
  // Behind a balancer: fail its health checks first, so that it sends new sessions to the
  // other nodes while this one still takes those it has already sent.
  if (rt->config.drain_grace > absl::ZeroDuration() && AnyListenerUsesProxy(rt->config)) {
    KLOG(kInfo, "draining_health_checks").Kv("grace", rt->config.drain_grace);
    NotifyStopping("failing the balancer's health checks before draining");
    for (int i = 0; i < n; ++i) {
      Shard* shard = shards[i].get();
      (*pool)->reactor(i).Post([shard] { shard->FailHealthChecks(); });
    }
    absl::SleepFor(rt->config.drain_grace);
  }
  // Drain: stop accepting everywhere, give sessions until the deadline, then 421.
  const absl::Time deadline = absl::Now() + rt->config.drain_timeout;
  KLOG(kInfo, "draining").Kv("timeout", rt->config.drain_timeout);
  NotifyStopping("draining: finishing sessions, accepting none");
  std::mutex mu;
  std::condition_variable cv;
  int drained = 0;
  for (int i = 0; i < n; ++i) {
    Reactor* r = &(*pool)->reactor(i);
    Shard* shard = shards[i].get();
    r->Post([shard, deadline, &mu, &cv, &drained] {
      shard->BeginDrain(deadline, [&mu, &cv, &drained] {
        std::lock_guard<std::mutex> lock(mu);
        ++drained;
        cv.notify_all();
      });
    });
  }
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait_until(lock, absl::ToChronoTime(deadline + absl::Seconds(5)),
                  [&] { return drained == n; });
  }
  // The loops stop; each shard is then destroyed on its own thread (the pool's fini).
  (*pool)->StopAll();
  (*pool)->Join();
  metrics_server->reset();  // its threads read the runtime's rows
  LogCounters(rt->counters);
  KLOG(kInfo, "stopped");
  return 0;
}

}  // namespace
}  // namespace kensa

// jemalloc reads this at its first allocation (appliance/malloc_conf.h says why each option).
extern "C" {
const char* malloc_conf = kensa::kMallocConf;
}

int main(int argc, char** argv) { return kensa::Run(argc, argv); }
