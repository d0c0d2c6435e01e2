// SPDX-License-Identifier: GPL-2.0-or-later
// Which settings differ between two configurations, and which of them a running kensad can
// take without a restart (`config reload`, SIGHUP). Keys are named as in the TOML file
// ("smtp.max_message_bytes", "log_level"); an array of tables is one key ("listener",
// "signatures.feed"). The comparison reads DescribeConfig's text, so a setting added there is
// compared without being listed here twice; what is not listed as live needs a restart.
#ifndef KENSA_APPLIANCE_CONFIG_CHANGES_H_
#define KENSA_APPLIANCE_CONFIG_CHANGES_H_

#include <string>
#include <string_view>
#include <vector>

#include "appliance/config.h"

namespace kensa {

// Every key whose value differs, in the order DescribeConfig prints them.
std::vector<std::string> ChangedKeys(const KensaConfig& before, const KensaConfig& after);

// Whether a running kensad applies a new value of `key` at a reload (the next session, the
// next delivery attempt, the next log line), or keeps the old one until it restarts.
bool AppliesWithoutRestart(std::string_view key);

// What a reload runs with: `next` (the file just read) where a setting applies without a
// restart, `running` (what kensad started with) everywhere else, so a restart-only value in
// the file cannot leak into the sessions before the restart (a new hostname in greetings, a
// scanner turned on that was never loaded).
KensaConfig WithRestartOnlySettingsOf(const KensaConfig& running, const KensaConfig& next);

}  // namespace kensa

#endif  // KENSA_APPLIANCE_CONFIG_CHANGES_H_
