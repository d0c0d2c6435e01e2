// SPDX-License-Identifier: GPL-2.0-or-later
// The SubscriberPolicy implementations (server/subscription.h has the interface): the LMDB
// subscriber store, with the configuration lists for the addresses it does not know. Lookups
// are read-only and safe from every reactor at once.
#ifndef KENSA_APPLIANCE_SUBSCRIBER_POLICY_H_
#define KENSA_APPLIANCE_SUBSCRIBER_POLICY_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_set.h"
#include "appliance/config.h"
#include "server/subscription.h"
#include "subscribers/subscriber_store.h"

namespace kensa {

// From [policy]: addresses and whole domains, one action for all. "user+tag@domain" is looked
// up as itself, then as "user@domain" (plus addressing reaches the same mailbox).
class ConfigSubscriberPolicy : public SubscriberPolicy {
 public:
  explicit ConfigSubscriberPolicy(const KensaConfig& config);
  Subscription Lookup(std::string_view address) const override;

 private:
  absl::flat_hash_set<std::string> inbound_addresses_, inbound_domains_;
  absl::flat_hash_set<std::string> outbound_addresses_, outbound_domains_;
  ScanAction action_;
  UnscannableAction unscannable_;
};

// The subscriber store first (exact address, then without "+tag", then the domain default);
// an address it knows nothing of is decided by the configuration lists. An entry's "default"
// action is [policy] action.
class StoreSubscriberPolicy : public SubscriberPolicy {
 public:
  // The store is shared with the policies of other configuration generations and the admin
  // shell's subscriber commands (one opening per process).
  StoreSubscriberPolicy(std::shared_ptr<subscribers::SubscriberStore> store,
                        const KensaConfig& config);
  Subscription Lookup(std::string_view address) const override;

 private:
  std::shared_ptr<subscribers::SubscriberStore> store_;
  ConfigSubscriberPolicy lists_;
  ScanAction action_;
  UnscannableAction unscannable_;
};

}  // namespace kensa

#endif  // KENSA_APPLIANCE_SUBSCRIBER_POLICY_H_
