// SPDX-License-Identifier: GPL-2.0-or-later
// Where kensad's control socket is, as kensa-shell finds it: `[control] socket` of the
// configuration file, else <state_dir>/control.sock (state_dir's default is kensad's,
// /var/lib/kensa). Only those two keys are read; the rest of the file is kensad's business.
#ifndef KENSA_CONTROL_SOCKET_PATH_H_
#define KENSA_CONTROL_SOCKET_PATH_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace kensa::control {

inline constexpr char kDefaultConfigPath[] = "/etc/kensa/kensa.toml";
inline constexpr char kDefaultStateDir[] = "/var/lib/kensa";
inline constexpr char kSocketName[] = "control.sock";
// The embedded default's (kensad without --config: state in ./kensa-data).
inline constexpr char kEmbeddedDefaultSocket[] = "./kensa-data/control.sock";

// From the TOML text; `source` names it in errors.
absl::StatusOr<std::string> ControlSocketFromToml(std::string_view toml, std::string_view source);
absl::StatusOr<std::string> ControlSocketFromConfigFile(const std::string& path);

}  // namespace kensa::control

#endif  // KENSA_CONTROL_SOCKET_PATH_H_
