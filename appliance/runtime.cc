// SPDX-License-Identifier: GPL-2.0-or-later
#include "appliance/runtime.h"

#include "absl/strings/ascii.h"

namespace kensa {

bool Runtime::IsLocalDomain(std::string_view domain) const {
  std::string d = absl::AsciiStrToLower(std::string(domain));
  if (!d.empty() && d.back() == '.') d.pop_back();  // a fully qualified "example.test."
  for (const std::string& local : config.local_domains) {
    if (d == local) return true;
  }
  return false;
}

}  // namespace kensa
