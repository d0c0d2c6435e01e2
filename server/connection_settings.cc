// SPDX-License-Identifier: GPL-2.0-or-later
#include "server/connection_settings.h"

#include "absl/strings/ascii.h"

namespace kensa {

bool IsLocalDomain(const std::vector<std::string>& local_domains, std::string_view domain) {
  std::string d = absl::AsciiStrToLower(std::string(domain));
  if (!d.empty() && d.back() == '.') d.pop_back();  // a fully qualified "example.test."
  for (const std::string& local : local_domains) {
    if (d == local) return true;
  }
  return false;
}

}  // namespace kensa
