// SPDX-License-Identifier: GPL-2.0-or-later
#include "appliance/subscriber_policy.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace kensa {
namespace {

// "User+tag@Example.TEST" -> "user@example.test"; empty when there is no tag.
std::string WithoutPlusTag(const std::string& lower) {
  const size_t at = lower.rfind('@');
  if (at == std::string::npos) return {};
  const size_t plus = lower.find('+');
  if (plus == std::string::npos || plus > at || plus == 0) return {};
  return absl::StrCat(lower.substr(0, plus), lower.substr(at));
}

bool Matches(const std::string& lower, const absl::flat_hash_set<std::string>& addresses,
             const absl::flat_hash_set<std::string>& domains) {
  if (addresses.contains(lower)) return true;
  if (std::string base = WithoutPlusTag(lower); !base.empty() && addresses.contains(base)) {
    return true;
  }
  const size_t at = lower.rfind('@');
  return at != std::string::npos && domains.contains(lower.substr(at + 1));
}

}  // namespace

ConfigSubscriberPolicy::ConfigSubscriberPolicy(const KensaConfig& c)
    : inbound_addresses_(c.inbound_addresses.begin(), c.inbound_addresses.end()),
      inbound_domains_(c.inbound_domains.begin(), c.inbound_domains.end()),
      outbound_addresses_(c.outbound_addresses.begin(), c.outbound_addresses.end()),
      outbound_domains_(c.outbound_domains.begin(), c.outbound_domains.end()),
      action_(c.scan_action),
      unscannable_(c.unscannable_action) {}

Subscription ConfigSubscriberPolicy::Lookup(std::string_view address) const {
  const std::string lower = absl::AsciiStrToLower(std::string(address));
  Subscription s;
  s.inbound = Matches(lower, inbound_addresses_, inbound_domains_);
  s.outbound = Matches(lower, outbound_addresses_, outbound_domains_);
  s.action = action_;
  s.unscannable = unscannable_;
  return s;
}

StoreSubscriberPolicy::StoreSubscriberPolicy(std::shared_ptr<subscribers::SubscriberStore> store,
                                             const KensaConfig& config)
    : store_(std::move(store)),
      lists_(config),
      action_(config.scan_action),
      unscannable_(config.unscannable_action) {}

Subscription StoreSubscriberPolicy::Lookup(std::string_view address) const {
  std::optional<subscribers::LookupResult> found = store_->Lookup(address);
  if (!found) return lists_.Lookup(address);
  Subscription s;
  s.inbound = found->entry.inbound;
  s.outbound = found->entry.outbound;
  s.unscannable = unscannable_;
  switch (found->entry.action) {
    case subscribers::SubscriberAction::kDefault: s.action = action_; break;
    case subscribers::SubscriberAction::kRemove: s.action = ScanAction::kRemove; break;
    case subscribers::SubscriberAction::kReject: s.action = ScanAction::kReject; break;
    case subscribers::SubscriberAction::kQuarantine: s.action = ScanAction::kQuarantine; break;
  }
  return s;
}

}  // namespace kensa
