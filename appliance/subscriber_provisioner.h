// SPDX-License-Identifier: GPL-2.0-or-later
// SubscriberProvisioner: a node of a fleet pulls the subscriber list from the ISP's
// provisioning system ([provisioning] subscribers_url: the CSV of kensa-subscribers export,
// over HTTP(S) with conditional requests, by the signature feed's fetcher) every
// poll_interval, and makes its store exactly that list in one LMDB transaction (readers see
// the old list or the new one, never a mix), except the keep_local_domains, which stay the
// node's own. An export that does not check out (an HTTP error, a cut transfer, a last line
// without its line end, a malformed line, no subscriber at all) changes nothing and is logged.
#ifndef KENSA_APPLIANCE_SUBSCRIBER_PROVISIONER_H_
#define KENSA_APPLIANCE_SUBSCRIBER_PROVISIONER_H_

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "feed/fetcher.h"
#include "subscribers/subscriber_store.h"

namespace kensa {

struct ProvisioningSettings {
  std::string url;
  absl::Duration poll_interval = absl::Minutes(5);
  absl::Duration connect_timeout = absl::Seconds(30);
  absl::Duration transfer_timeout = absl::Minutes(10);
  uint64_t max_bytes = 1ull << 30;
  std::vector<std::string> keep_local_domains;  // lower case, no '@'
  std::string work_dir;                         // the download lands here
};

struct ProvisioningStatus {
  absl::Time last_check = absl::InfinitePast();
  std::string last_result;  // "updated rows=... removed=...", "unchanged", "failed"
  std::string last_error;   // of the last check that failed; cleared by one that succeeds
};

class SubscriberProvisioner {
 public:
  SubscriberProvisioner(ProvisioningSettings settings,
                        std::shared_ptr<subscribers::SubscriberStore> store,
                        std::unique_ptr<feed::Fetcher> fetcher);
  ~SubscriberProvisioner();  // Stop()
  SubscriberProvisioner(const SubscriberProvisioner&) = delete;
  SubscriberProvisioner& operator=(const SubscriberProvisioner&) = delete;

  // One pull on the calling thread: fetch (conditional), check, replace.
  absl::Status CheckOnce();
  // The thread: a pull at once, then one every poll_interval, until Stop.
  void Start();
  void Stop();
  ProvisioningStatus Status() const;

 private:
  absl::Status Pull(std::string* result);
  bool KeepLocal(std::string_view key) const;
  void Loop();

  const ProvisioningSettings settings_;
  std::shared_ptr<subscribers::SubscriberStore> store_;
  std::unique_ptr<feed::Fetcher> fetcher_;
  std::string etag_, last_modified_;  // the last 200's validators (this thread's)

  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stop_asked_ = false;
  std::atomic<bool> cancel_{false};
  ProvisioningStatus status_;
  std::thread thread_;
};

}  // namespace kensa

#endif  // KENSA_APPLIANCE_SUBSCRIBER_PROVISIONER_H_
