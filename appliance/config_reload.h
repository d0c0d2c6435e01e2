// SPDX-License-Identifier: GPL-2.0-or-later
// A configuration reload (`kensa-shell -c "config reload"`, SIGHUP): the file is read and
// checked whole, the new live-settings generation is built beside the running one, and only
// then does anything switch: the log level, the connection limits, and every reactor (by a
// message) for its next sessions and deliveries. Sessions already open finish under the
// settings they started with. An invalid file, or one whose certificate or passwd file cannot
// be read, changes nothing and says why. Settings only a restart can change (listeners,
// reactors, state directory, ...) keep their running values and are named in the result.
#ifndef KENSA_APPLIANCE_CONFIG_RELOAD_H_
#define KENSA_APPLIANCE_CONFIG_RELOAD_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "appliance/runtime.h"
#include "appliance/shard.h"
#include "core/reactor_pool.h"

namespace kensa {

// How long a reload waits for every reactor to switch before it reports a failure (the
// generation is published all the same: a busy reactor takes it when it gets to its queue).
inline constexpr absl::Duration kReloadReactorTimeout = absl::Seconds(10);

struct ConfigReloadResult {
  uint64_t generation = 0;
  std::vector<std::string> applied;       // changed since the last reload, now in effect
  std::vector<std::string> need_restart;  // differ from what kensad started with; not applied
};

class ConfigReloader {
 public:
  // `shards` is indexed like the pool's reactors; both outlive the reloader.
  ConfigReloader(Runtime* runtime, ReactorPool* pool,
                 std::vector<std::unique_ptr<Shard>>* shards, std::string path);

  // Thread-safe; reloads run one at a time. Fails (changing nothing) when kensad runs the
  // embedded default or the file is not valid; DeadlineExceeded alone means the new settings
  // are published but a reactor had not taken them yet.
  absl::StatusOr<ConfigReloadResult> Reload();
  // What a reload of the file would do now, without doing it.
  absl::StatusOr<ConfigReloadResult> Check() const;
  const std::string& path() const { return path_; }
  // A reload's error as an operator reads it: whether anything changed, then why.
  static std::string Describe(const absl::Status& reload_error);

 private:
  absl::StatusOr<KensaConfig> Load() const;
  ConfigReloadResult Compare(const KensaConfig& next) const;

  Runtime* runtime_;
  ReactorPool* pool_;
  std::vector<std::unique_ptr<Shard>>* shards_;
  const std::string path_;
  std::mutex mu_;
};

}  // namespace kensa

#endif  // KENSA_APPLIANCE_CONFIG_RELOAD_H_
