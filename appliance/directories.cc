// SPDX-License-Identifier: GPL-2.0-or-later
#include "appliance/directories.h"

#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"

namespace kensa {

absl::Status MakeDirs(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("mkdir ", dir, ": ", ec.message()));
  return absl::OkStatus();
}

}  // namespace kensa
