// SPDX-License-Identifier: GPL-2.0-or-later
// Subscriber entries: action names, the value encoding and address normalisation.
#include "subscribers/subscriber_entry.h"

#include "absl/strings/str_cat.h"

namespace kensa::subscribers {
namespace {

constexpr uint8_t kInboundBit = 1;
constexpr uint8_t kOutboundBit = 2;

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

bool IsTrimmed(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// Error texts quote the input as given; it comes from an operator or a CSV file.
absl::Status Bad(std::string_view address, std::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("bad address \"", std::string(address), "\": ", std::string(why)));
}

}  // namespace

std::string_view SubscriberActionName(SubscriberAction action) {
  switch (action) {
    case SubscriberAction::kDefault:
      return "default";
    case SubscriberAction::kRemove:
      return "remove";
    case SubscriberAction::kReject:
      return "reject";
    case SubscriberAction::kQuarantine:
      return "quarantine";
  }
  return "default";
}

std::optional<SubscriberAction> ParseSubscriberAction(std::string_view name) {
  for (SubscriberAction a : {SubscriberAction::kDefault, SubscriberAction::kRemove,
                             SubscriberAction::kReject, SubscriberAction::kQuarantine}) {
    if (EqualsIgnoreCase(name, SubscriberActionName(a))) return a;
  }
  return std::nullopt;
}

std::optional<bool> ParseOnOff(std::string_view text) {
  for (std::string_view yes : {"on", "yes", "true", "1"}) {
    if (EqualsIgnoreCase(text, yes)) return true;
  }
  for (std::string_view no : {"off", "no", "false", "0"}) {
    if (EqualsIgnoreCase(text, no)) return false;
  }
  return std::nullopt;
}

std::string EncodeEntry(const SubscriberEntry& entry) {
  const uint8_t flags = (entry.inbound ? kInboundBit : 0) | (entry.outbound ? kOutboundBit : 0);
  return std::string{static_cast<char>(kEntryVersion), static_cast<char>(flags),
                     static_cast<char>(entry.action)};
}

absl::StatusOr<SubscriberEntry> DecodeEntry(std::string_view value) {
  if (value.empty()) return absl::DataLossError("empty subscriber value");
  const auto version = static_cast<uint8_t>(value[0]);
  if (version != kEntryVersion) {
    return absl::DataLossError(absl::StrCat("subscriber value of version ", version,
                                            " (this kensa reads version ", kEntryVersion, ")"));
  }
  if (value.size() != kEncodedEntryBytes) {
    return absl::DataLossError(absl::StrCat("subscriber value of ", value.size(),
                                            " bytes (version 1 has ", kEncodedEntryBytes, ")"));
  }
  const auto flags = static_cast<uint8_t>(value[1]);
  const auto action = static_cast<uint8_t>(value[2]);
  if ((flags & ~(kInboundBit | kOutboundBit)) != 0) {
    return absl::DataLossError(absl::StrCat("subscriber value with unknown flags ", flags));
  }
  if (action > static_cast<uint8_t>(SubscriberAction::kQuarantine)) {
    return absl::DataLossError(absl::StrCat("subscriber value with unknown action ", action));
  }
  SubscriberEntry e;
  e.inbound = (flags & kInboundBit) != 0;
  e.outbound = (flags & kOutboundBit) != 0;
  e.action = static_cast<SubscriberAction>(action);
  return e;
}

absl::Status NormalizeAddressTo(std::string_view address, std::string* out) {
  std::string_view a = address;
  while (!a.empty() && IsTrimmed(a.front())) a.remove_prefix(1);
  while (!a.empty() && IsTrimmed(a.back())) a.remove_suffix(1);
  if (a.size() >= 2 && a.front() == '<' && a.back() == '>') a = a.substr(1, a.size() - 2);
  if (a.empty()) return Bad(address, "empty");
  if (a.size() > kMaxKeyBytes) {
    return Bad(address, absl::StrCat("longer than ", kMaxKeyBytes, " bytes"));
  }
  size_t at = std::string_view::npos;
  bool quoted = false;
  bool escaped = false;
  for (size_t i = 0; i < a.size(); ++i) {
    const char c = a[i];
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return Bad(address, "contains a space or a control byte");
    }
    if (quoted) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        quoted = false;
      }
      continue;
    }
    if (c == '"') {
      if (at != std::string_view::npos) return Bad(address, "a quote in the domain");
      quoted = true;
    } else if (c == '@') {
      if (at != std::string_view::npos) return Bad(address, "more than one '@'");
      at = i;
    } else if (c == '<' || c == '>') {
      // Kept, "<<a@b>>" would become "<a@b>", which normalises again to "a@b".
      return Bad(address, "'<' or '>' inside the address");
    }
  }
  if (quoted) return Bad(address, "unterminated quote");
  if (at == std::string_view::npos) return Bad(address, "no '@'");
  std::string_view domain = a.substr(at + 1);
  if (!domain.empty() && domain.back() == '.') domain.remove_suffix(1);
  if (domain.empty()) return Bad(address, "empty domain");
  // One trailing dot is the root ("example.test."); a second is an empty label, and keeping
  // it would make normalising twice differ from normalising once.
  if (domain.front() == '.' || domain.back() == '.' ||
      domain.find("..") != std::string_view::npos) {
    return Bad(address, "empty label in the domain");
  }
  out->clear();
  out->reserve(at + 1 + domain.size());
  for (char c : a.substr(0, at)) out->push_back(Lower(c));
  out->push_back('@');
  for (char c : domain) out->push_back(Lower(c));
  return absl::OkStatus();
}

absl::StatusOr<std::string> NormalizeAddress(std::string_view address) {
  std::string out;
  absl::Status s = NormalizeAddressTo(address, &out);
  if (!s.ok()) return s;
  return out;
}

bool StripPlusTag(std::string_view normalized, char separator, std::string* out) {
  if (separator == '\0') return false;
  const size_t at = normalized.rfind('@');
  if (at == std::string_view::npos || at == 0 || normalized.front() == '"') return false;
  const size_t sep = normalized.find(separator);
  if (sep == std::string_view::npos || sep == 0 || sep > at) return false;
  out->assign(normalized.substr(0, sep));
  out->append(normalized.substr(at));
  return true;
}

}  // namespace kensa::subscribers
