// SPDX-License-Identifier: GPL-2.0-or-later
#include "appliance/runtime.h"

#include "server/connection_settings.h"

namespace kensa {

bool Runtime::IsLocalDomain(std::string_view domain) const {
  return kensa::IsLocalDomain(config.local_domains, domain);
}

}  // namespace kensa
