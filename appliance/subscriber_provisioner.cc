// SPDX-License-Identifier: GPL-2.0-or-later
#include "appliance/subscriber_provisioner.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/log.h"

namespace kensa {

SubscriberProvisioner::SubscriberProvisioner(ProvisioningSettings settings,
                                             std::shared_ptr<subscribers::SubscriberStore> store,
                                             std::unique_ptr<feed::Fetcher> fetcher)
    : settings_(std::move(settings)), store_(std::move(store)), fetcher_(std::move(fetcher)) {}

SubscriberProvisioner::~SubscriberProvisioner() { Stop(); }

bool SubscriberProvisioner::KeepLocal(std::string_view key) const {
  const size_t at = key.rfind('@');
  if (at == std::string_view::npos) return false;
  const std::string_view domain = key.substr(at + 1);
  for (const std::string& d : settings_.keep_local_domains) {
    if (domain == d) return true;
  }
  return false;
}

absl::Status SubscriberProvisioner::Pull(std::string* result) {
  std::error_code ec;
  std::filesystem::create_directories(settings_.work_dir, ec);
  if (ec) return absl::InternalError(absl::StrCat(settings_.work_dir, ": ", ec.message()));
  const std::string dest = settings_.work_dir + "/subscribers.csv";
  feed::FetchRequest req;
  req.url = settings_.url;
  req.dest_path = dest;
  req.etag = etag_;
  req.last_modified = last_modified_;
  req.max_bytes = settings_.max_bytes;
  req.connect_timeout = settings_.connect_timeout;
  req.transfer_timeout = settings_.transfer_timeout;
  req.cancel = &cancel_;
  absl::StatusOr<feed::FetchResult> got = fetcher_->Fetch(req);
  if (!got.ok()) return got.status();
  if (got->not_modified) {
    *result = "unchanged";
    return absl::OkStatus();
  }
  // The download is whole (the fetcher checks the length it was told), but a file cut at the
  // source still parses up to where it was cut: a complete export ends with a line end.
  std::ifstream in(dest, std::ios::binary);
  if (!in) return absl::InternalError(absl::StrCat("cannot read ", dest));
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  char last = '\0';
  if (size > 0) {
    in.seekg(size - 1);
    in.get(last);
  }
  if (last != '\n') {
    std::remove(dest.c_str());
    return absl::DataLossError("the export does not end with a line end (cut short?)");
  }
  in.seekg(0);
  subscribers::ImportStats stats;
  absl::Status imported = store_->ImportCsv(
      in, &stats, subscribers::ImportMode::kReplace,
      [this](std::string_view key) { return KeepLocal(key); });
  std::remove(dest.c_str());
  if (!imported.ok()) return imported;
  // Validators only once the list is in: a failed import is tried again in full next time.
  etag_ = got->etag;
  last_modified_ = got->last_modified;
  *result = absl::StrCat("updated rows=", stats.rows, " removed=", stats.removed,
                         " entries=", stats.entries);
  return absl::OkStatus();
}

absl::Status SubscriberProvisioner::CheckOnce() {
  std::string result;
  absl::Status s = Pull(&result);
  const absl::Time now = absl::Now();
  if (s.ok()) {
    if (result == "unchanged") {
      KLOG(kDebug, "provisioning_unchanged").Kv("url", settings_.url);
    } else {
      KLOG(kInfo, "provisioning_updated").Kv("url", settings_.url).Kv("result", result);
    }
  } else {
    KLOG(kWarning, "provisioning_failed")
        .Kv("url", settings_.url)
        .Kv("error", s)
        .Kv("kept", "the subscriber store is unchanged");
  }
  std::lock_guard<std::mutex> lock(mu_);
  status_.last_check = now;
  status_.last_result = s.ok() ? result : "failed";
  status_.last_error = s.ok() ? "" : std::string(s.message());
  return s;
}

void SubscriberProvisioner::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void SubscriberProvisioner::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_asked_ = true;
    cancel_.store(true);
    wake_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

void SubscriberProvisioner::Loop() {
  for (;;) {
    (void)CheckOnce();  // logged and kept in Status()
    std::unique_lock<std::mutex> lock(mu_);
    wake_.wait_for(lock, absl::ToChronoNanoseconds(settings_.poll_interval),
                   [this] { return stop_asked_; });
    if (stop_asked_) return;
  }
}

ProvisioningStatus SubscriberProvisioner::Status() const {
  std::lock_guard<std::mutex> lock(mu_);
  return status_;
}

}  // namespace kensa
