// SPDX-License-Identifier: GPL-2.0-or-later
// What the subscriber store keeps per key: the entry, its on-disk encoding, and the one
// spelling of an address that every writer and reader agrees on (the store's key).
#ifndef KENSA_SUBSCRIBERS_SUBSCRIBER_ENTRY_H_
#define KENSA_SUBSCRIBERS_SUBSCRIBER_ENTRY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace kensa::subscribers {

// kDefault follows the configured [policy] action, so changing it reaches every subscriber
// that never chose one.
enum class SubscriberAction : uint8_t { kDefault = 0, kRemove = 1, kReject = 2, kQuarantine = 3 };

struct SubscriberEntry {
  bool inbound = false;
  bool outbound = false;
  SubscriberAction action = SubscriberAction::kDefault;

  friend bool operator==(const SubscriberEntry&, const SubscriberEntry&) = default;
};

// "default", "remove", "reject", "quarantine".
std::string_view SubscriberActionName(SubscriberAction action);
std::optional<SubscriberAction> ParseSubscriberAction(std::string_view name);
// on/off, yes/no, true/false, 1/0, any case.
std::optional<bool> ParseOnOff(std::string_view text);

// The value stored under a key: a version byte, then the version's fields. Version 1 is
// 3 bytes: 1, flags (bit 0 inbound, bit 1 outbound, others zero), action.
inline constexpr uint8_t kEntryVersion = 1;
inline constexpr size_t kEncodedEntryBytes = 3;
std::string EncodeEntry(const SubscriberEntry& entry);
// Rejects a value this code does not understand (other version, unknown bits or action)
// rather than guessing at another program's data.
absl::StatusOr<SubscriberEntry> DecodeEntry(std::string_view value);

// Longest key accepted: LMDB's default key limit is 511 bytes; RFC 5321 paths are shorter,
// but VERP and SRS local parts run past its 64.
inline constexpr size_t kMaxKeyBytes = 510;

// The store's key for an address: whitespace and one pair of <> around it dropped, lowercased
// whole (mail systems treat local parts case-insensitively in practice), one trailing '.' of
// the domain dropped. Exactly one '@' outside a quoted local part, a non-empty domain, no
// spaces or control bytes. "@domain" (empty local part) is the key of a domain default.
absl::StatusOr<std::string> NormalizeAddress(std::string_view address);
// The same, into *out (reused between calls on the lookup path, so no allocation there).
absl::Status NormalizeAddressTo(std::string_view address, std::string* out);

// True for a normalised key "@domain".
inline bool IsDomainKey(std::string_view key) { return !key.empty() && key.front() == '@'; }

// "user+tag@domain" -> "user@domain" into *out for separator '+'; false when the normalised
// address has no tag (no separator in the local part, the local part starts with it or is
// quoted, or separator is '\0').
bool StripPlusTag(std::string_view normalized, char separator, std::string* out);

}  // namespace kensa::subscribers

#endif  // KENSA_SUBSCRIBERS_SUBSCRIBER_ENTRY_H_
