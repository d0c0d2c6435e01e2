// SPDX-License-Identifier: GPL-2.0-or-later
// The control socket's signature commands: what the updater did (`signatures history`), a
// check of the feeds now (`signatures update`), and a rollback of the signature store that
// takes effect at once (`signatures rollback`). The updater's own thread does the work and
// builds and publishes a set, so this thread never holds a client for the seconds a full
// database takes to load (a rollback waits for the pointer move only).

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "appliance/control_service.h"
#include "feed/signature_store.h"

namespace kensa {
namespace {

using control::CommandResult;

std::string When(absl::Time t) {
  if (t == absl::InfinitePast()) return "never";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

// How long `signatures rollback` waits for the updater to get to it (a check in flight ends
// first: its download has its own timeout).
constexpr absl::Duration kRollbackWait = absl::Seconds(20);

constexpr char kNoFeed[] =
    "no signature feed is configured ([[signatures.feed]]): the set in use is [scan] "
    "signature_dir's";

}  // namespace

CommandResult ControlService::SignaturesHistory() {
  feed::SignatureUpdater* updater = ctx_.runtime->updater.get();
  if (updater == nullptr) return CommandResult::Error(kNoFeed);
  const feed::UpdaterStatus st = updater->Status();
  CommandResult r;
  r.lines.push_back(absl::StrCat(
      "running ", st.running_version.empty() ? "signature_dir" : st.running_version, " ",
      st.running_dir));
  r.lines.push_back(absl::StrCat("last_check ", When(st.last_check), " ",
                                 st.last_result.empty() ? "-" : st.last_result));
  if (!st.last_error.empty()) r.lines.push_back(absl::StrCat("last_error ", st.last_error));
  absl::StatusOr<feed::SignatureStore> store =
      feed::SignatureStore::Open(ctx_.runtime->config.signatures.store_dir);
  if (store.ok()) {
    const std::optional<feed::BundleVersion> pointer = store->Pointer();
    for (const feed::BundleVersion& v : store->Sets()) {
      r.lines.push_back(absl::StrCat("set ", v.ToString(),
                                     pointer && *pointer == v ? " current" : ""));
    }
    for (const feed::BundleVersion& v : store->Refused()) {
      r.lines.push_back(absl::StrCat("refused ", v.ToString()));
    }
  }
  // Newest first: what an operator asks about is the last thing that happened.
  for (auto it = st.history.rbegin(); it != st.history.rend(); ++it) {
    r.lines.push_back(absl::StrCat("check ", When(it->at), " ", it->feed, " ",
                                   it->version.empty() ? "-" : it->version, " ", it->result,
                                   it->reason.empty() ? "" : absl::StrCat(" (", it->reason, ")")));
  }
  return r;
}

CommandResult ControlService::SignaturesUpdate() {
  feed::SignatureUpdater* updater = ctx_.runtime->updater.get();
  CommandResult r;
  if (updater == nullptr) {
    if (!ctx_.runtime->config.scan_enabled) {
      return CommandResult::Error("scanning is off ([scan] enabled = false): no signatures to load");
    }
    // Without a feed, "update" is what SIGHUP does for the signatures: signature_dir is built
    // again and swapped in if it loads (the configuration file is not read again).
    ctx_.reload_signature_dir();
    r.message = "no feed configured: reloading [scan] signature_dir (as on SIGHUP)";
    return r;
  }
  updater->RequestReload();
  r.message = "checking the feeds now; `signatures history` shows the result";
  return r;
}

CommandResult ControlService::SignaturesRollback() {
  feed::SignatureUpdater* updater = ctx_.runtime->updater.get();
  if (updater == nullptr) return CommandResult::Error(kNoFeed);
  // On the updater's thread, so that no install of a feed check races the store's pointer; it
  // loads the set the pointer names then.
  absl::StatusOr<feed::RollbackResult> back = updater->RollBack(kRollbackWait);
  if (!back.ok()) return CommandResult::Error(std::string(back.status().message()));
  CommandResult r;
  r.message = absl::StrCat("rolled back from ", back->from.ToString(), " to ",
                           back->to.ToString(), "; ", back->from.ToString(),
                           " will not be taken again; loading ", back->to.ToString(), " now");
  return r;
}

}  // namespace kensa
