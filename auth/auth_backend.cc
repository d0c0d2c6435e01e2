// SPDX-License-Identifier: GPL-2.0-or-later
// User-name rules and outcome helpers shared by every AuthBackend.
#include "auth/auth_backend.h"

#include <utility>

#include "absl/strings/ascii.h"

namespace kensa::auth {

bool IsEmailAddress(std::string_view user) {
  size_t at = user.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == user.size()) return false;
  for (char c : user) {
    // Control bytes, spaces and angle brackets never appear in a usable envelope address.
    if (static_cast<unsigned char>(c) <= ' ' || c == '<' || c == '>' || c == 0x7f) return false;
  }
  return true;
}

std::string NormalizeUserName(std::string_view user) {
  std::string out(user);
  if (IsEmailAddress(out)) absl::AsciiStrToLower(&out);
  return out;
}

bool AuthzidAllowed(std::string_view authzid, std::string_view user) {
  return authzid.empty() || NormalizeUserName(authzid) == NormalizeUserName(user);
}

AuthOutcome Failed(std::string reason) {
  AuthOutcome out;
  out.kind = AuthOutcome::Kind::kFailed;
  out.reason = std::move(reason);
  return out;
}

AuthOutcome TempFailed(std::string reason) {
  AuthOutcome out;
  out.kind = AuthOutcome::Kind::kTempFail;
  out.reason = std::move(reason);
  return out;
}

}  // namespace kensa::auth
