// SPDX-License-Identifier: GPL-2.0-or-later
// The signature updater's settings ([signatures] in kensa.toml; appliance/config.cc parses and
// validates them). No feed configured means no updater: kensad loads [scan] signature_dir and
// reloads it on SIGHUP, as before feeds existed.
#ifndef KENSA_FEED_UPDATER_SETTINGS_H_
#define KENSA_FEED_UPDATER_SETTINGS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace kensa::feed {

// What a feed serves: kensa's signed bundles, or an ISP's private ClamAV mirror's .cvd files
// (not .cld or .cdiff). A kind is one SignatureFeed implementation (feed/signature_feed.h),
// the updater around it is shared.
enum class FeedKind { kBundle, kClamavMirror };

struct FeedSettings {
  std::string name;  // names the feed in logs and status ([A-Za-z0-9._-])
  std::string url;   // http:// or https://
  FeedKind kind = FeedKind::kBundle;
  std::vector<std::string> public_keys;  // kBundle: PEM files of the keys trusted
  // kClamavMirror: <url>/<name>.cvd for each, in this order (the order of the set's version
  // components); names are [A-Za-z0-9_-].
  std::vector<std::string> databases = {"main", "daily", "bytecode"};
};

struct UpdaterSettings {
  std::vector<FeedSettings> feeds;
  std::string store_dir;  // default <state_dir>/signature-store
  absl::Duration poll_interval = absl::Hours(1);
  // A random delay in [0, poll_jitter) is added to each interval, so a fleet started together
  // does not poll the feed server together.
  absl::Duration poll_jitter = absl::Minutes(5);
  absl::Duration connect_timeout = absl::Seconds(30);
  absl::Duration transfer_timeout = absl::Minutes(10);  // a whole download, connect included
  uint64_t max_download_bytes = uint64_t{1} << 30;
  // After a failed check the next one comes retry_min later, doubling up to retry_max (and
  // never later than the next regular poll).
  absl::Duration retry_min = absl::Minutes(1);
  absl::Duration retry_max = absl::Hours(1);
  int keep_sets = 3;  // good sets kept on disk, the current one included (rollback needs 2)
  // The running set's manifest is older than this: a warning after every check.
  absl::Duration max_age_warning = absl::Hours(72);
};

}  // namespace kensa::feed

#endif  // KENSA_FEED_UPDATER_SETTINGS_H_
