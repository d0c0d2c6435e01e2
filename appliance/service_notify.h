// SPDX-License-Identifier: GPL-2.0-or-later
// What kensad tells its service manager (systemd's sd_notify protocol, for `Type=notify`):
// ready once the signatures are loaded and every listener is open, reloading while a SIGHUP
// or `config reload` is applied, stopping when the drain begins, and a one-line status. Without
// $NOTIFY_SOCKET (kensad run by hand, or by a test) every call does nothing.
#ifndef KENSA_APPLIANCE_SERVICE_NOTIFY_H_
#define KENSA_APPLIANCE_SERVICE_NOTIFY_H_

#include <string_view>

namespace kensa {

void NotifyReady(std::string_view status);
void NotifyReloading();
void NotifyReloaded(std::string_view status);
void NotifyStopping(std::string_view status);

}  // namespace kensa

#endif  // KENSA_APPLIANCE_SERVICE_NOTIFY_H_
