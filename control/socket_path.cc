// SPDX-License-Identifier: GPL-2.0-or-later
#include "control/socket_path.h"

#include <toml++/toml.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace kensa::control {

absl::StatusOr<std::string> ControlSocketFromToml(std::string_view toml, std::string_view source) {
  toml::table root;
  try {
    root = toml::parse(toml, source);
  } catch (const toml::parse_error& e) {
    return absl::InvalidArgumentError(absl::StrCat(std::string(source), ":", e.source().begin.line,
                                                   ": ", std::string(e.description())));
  }
  if (const toml::node* s = root["control"]["socket"].node(); s != nullptr) {
    if (!s->is_string() || s->value<std::string>()->empty()) {
      return absl::InvalidArgumentError("control.socket: must be a non-empty string");
    }
    return *s->value<std::string>();
  }
  std::string state_dir = kDefaultStateDir;
  if (const toml::node* d = root.get("state_dir"); d != nullptr) {
    if (!d->is_string()) return absl::InvalidArgumentError("state_dir: must be a string");
    state_dir = *d->value<std::string>();
  }
  return absl::StrCat(state_dir, "/", kSocketName);
}

absl::StatusOr<std::string> ControlSocketFromConfigFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read config file ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ControlSocketFromToml(ss.str(), path);
}

}  // namespace kensa::control
