// SPDX-License-Identifier: GPL-2.0-or-later
// What the client connections (server/) read of the configuration, copied out of KensaConfig.
#ifndef KENSA_APPLIANCE_CONNECTION_WIRING_H_
#define KENSA_APPLIANCE_CONNECTION_WIRING_H_

#include "appliance/config.h"
#include "server/connection_settings.h"

namespace kensa {

SmtpConnectionSettings SmtpSettingsFrom(const KensaConfig& config);
Pop3ConnectionSettings Pop3SettingsFrom(const KensaConfig& config);

}  // namespace kensa

#endif  // KENSA_APPLIANCE_CONNECTION_WIRING_H_
