// SPDX-License-Identifier: GPL-2.0-or-later
#include "appliance/config_reload.h"

#include <sys/resource.h>

#include <algorithm>
#include <condition_variable>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "appliance/config_changes.h"
#include "appliance/resource_checks.h"
#include "core/log.h"

namespace kensa {
namespace {

// max_connections as kensad's start fits it to the descriptor limit (resource_checks.h).
size_t FittedMaxConnections(const KensaConfig& c, int reactors) {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return c.max_connections;
  const DescriptorBudget b = PlanDescriptors(c, reactors, rl.rlim_cur);
  return std::min<size_t>(c.max_connections, static_cast<size_t>(b.max_connections));
}

absl::StatusOr<std::vector<CidrBlock>> ExemptBlocks(const KensaConfig& c) {
  std::vector<CidrBlock> out;
  for (const std::string& cidr : c.connection_limit_exempt) {
    absl::StatusOr<CidrBlock> b = CidrBlock::Parse(cidr);
    if (!b.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("smtp.connection_limit_exempt: ", b.status().message()));
    }
    out.push_back(*b);
  }
  return out;
}

}  // namespace

ConfigReloader::ConfigReloader(Runtime* runtime, ReactorPool* pool,
                               std::vector<std::unique_ptr<Shard>>* shards, std::string path)
    : runtime_(runtime), pool_(pool), shards_(shards), path_(std::move(path)) {}

absl::StatusOr<KensaConfig> ConfigReloader::Load() const {
  if (path_.empty()) {
    return absl::FailedPreconditionError(
        "kensad runs the embedded default (no --config): there is no file to read");
  }
  return LoadConfig(path_, ConfigUse::kDaemon);
}

ConfigReloadResult ConfigReloader::Compare(const KensaConfig& next) const {
  ConfigReloadResult r;
  std::shared_ptr<const LiveSettings> live = runtime_->live.Current();
  for (std::string& key : ChangedKeys(live->config, next)) {
    if (AppliesWithoutRestart(key)) r.applied.push_back(std::move(key));
  }
  for (std::string& key : ChangedKeys(runtime_->loaded_config, next)) {
    if (!AppliesWithoutRestart(key)) r.need_restart.push_back(std::move(key));
  }
  r.generation = live->generation;
  return r;
}

std::string ConfigReloader::Describe(const absl::Status& reload_error) {
  if (reload_error.code() == absl::StatusCode::kDeadlineExceeded) {
    return std::string(reload_error.message());
  }
  return absl::StrCat("configuration unchanged: ", reload_error.message());
}

absl::StatusOr<ConfigReloadResult> ConfigReloader::Check() const {
  absl::StatusOr<KensaConfig> next = Load();
  if (!next.ok()) return next.status();
  if (absl::StatusOr<std::vector<CidrBlock>> e = ExemptBlocks(*next); !e.ok()) return e.status();
  return Compare(*next);
}

absl::StatusOr<ConfigReloadResult> ConfigReloader::Reload() {
  std::lock_guard<std::mutex> one_at_a_time(mu_);
  const absl::Time started = absl::Now();
  auto failed = [&](const absl::Status& s) {
    KLOG(kError, "config_reload_failed").Kv("path", path_).Kv("error", s).Kv("changed", "nothing");
    return s;
  };
  absl::StatusOr<KensaConfig> next = Load();
  if (!next.ok()) return failed(next.status());
  absl::StatusOr<std::vector<CidrBlock>> exempt = ExemptBlocks(*next);
  if (!exempt.ok()) return failed(exempt.status());
  ConfigReloadResult result = Compare(*next);
  std::shared_ptr<const LiveSettings> previous = runtime_->live.Current();
  LiveSettingsInputs in;
  in.reactors = runtime_->reactors;
  in.subscribers = runtime_->subscribers;
  in.previous = previous.get();
  absl::StatusOr<std::shared_ptr<const LiveSettings>> live =
      BuildLiveSettings(WithRestartOnlySettingsOf(runtime_->loaded_config, *next), in);
  if (!live.ok()) return failed(live.status());

  // Nothing failed: switch.
  runtime_->live.Publish(*live);
  SetLogLevel(LogLevelNamed(next->log_level));
  runtime_->limiter->SetLimits(FittedMaxConnections(*next, runtime_->reactors),
                               next->max_connections_per_client, *std::move(exempt));
  struct Acks {
    std::mutex mu;
    std::condition_variable cv;
    int left = 0;
  };
  auto acks = std::make_shared<Acks>();
  const int n = pool_->size();
  acks->left = n;
  for (int i = 0; i < n; ++i) {
    Shard* shard = (*shards_)[static_cast<size_t>(i)].get();
    pool_->reactor(i).Post([shard, live = *live, acks] {
      shard->ApplyLiveSettings(live);
      std::lock_guard<std::mutex> lock(acks->mu);
      if (--acks->left == 0) acks->cv.notify_all();
    });
  }
  bool all = false;
  {
    std::unique_lock<std::mutex> lock(acks->mu);
    all = acks->cv.wait_for(lock, absl::ToChronoSeconds(kReloadReactorTimeout),
                            [&] { return acks->left == 0; });
  }
  result.generation = (*live)->generation;
  KLOG(kInfo, "config_reloaded")
      .Kv("path", path_)
      .Kv("generation", result.generation)
      .Kv("applied", result.applied.empty() ? "none" : absl::StrJoin(result.applied, ","))
      .Kv("restart_needed",
          result.need_restart.empty() ? "none" : absl::StrJoin(result.need_restart, ","))
      .Kv("duration", absl::Trunc(absl::Now() - started, absl::Milliseconds(1)));
  if (!all) {
    return absl::DeadlineExceededError(absl::StrCat(
        "generation ", result.generation, " is published, but not every reactor took it within ",
        absl::FormatDuration(kReloadReactorTimeout)));
  }
  return result;
}

}  // namespace kensa
