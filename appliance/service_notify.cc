// SPDX-License-Identifier: GPL-2.0-or-later
#include "appliance/service_notify.h"

#include <systemd/sd-daemon.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "core/log.h"

namespace kensa {
namespace {

void Notify(const std::string& state) {
  // 0: no $NOTIFY_SOCKET, nothing to tell; < 0: the manager's socket refused it, which costs
  // nothing here but deserves a line (systemd then restarts or times out the unit).
  if (int r = sd_notify(0, state.c_str()); r < 0) {
    KLOG(kWarning, "service_notify_failed").Kv("state", state).Kv("error", -r);
  }
}

// STATUS= is one line: newlines in it would end the field early.
std::string Status(std::string_view status) {
  std::string s(status);
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return s;
}

}  // namespace

void NotifyReady(std::string_view status) {
  Notify(absl::StrCat("READY=1\nSTATUS=", Status(status)));
}

void NotifyReloading() { Notify("RELOADING=1\nSTATUS=reloading"); }

void NotifyReloaded(std::string_view status) {
  Notify(absl::StrCat("READY=1\nSTATUS=", Status(status)));
}

void NotifyStopping(std::string_view status) {
  Notify(absl::StrCat("STOPPING=1\nSTATUS=", Status(status)));
}

}  // namespace kensa
