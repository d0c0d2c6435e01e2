// SPDX-License-Identifier: GPL-2.0-or-later
// Subscription and SubscriberPolicy: who bought the virus-check option, the one question the
// data path asks, behind one small interface. The implementations (the LMDB subscriber store,
// the configuration lists) are built by the wiring (appliance/subscriber_policy.h). Lookups
// are read-only and safe from every reactor at once.
#ifndef KENSA_SERVER_SUBSCRIPTION_H_
#define KENSA_SERVER_SUBSCRIPTION_H_

#include <string_view>

namespace kensa {

enum class ScanAction { kRemove, kReject, kQuarantine };
enum class UnscannableAction { kInfected, kPass };

struct Subscription {
  bool inbound = false;   // mail arriving for the address is scanned
  bool outbound = false;  // mail sent by the address is scanned
  ScanAction action = ScanAction::kRemove;
  UnscannableAction unscannable = UnscannableAction::kInfected;
};

class SubscriberPolicy {
 public:
  virtual ~SubscriberPolicy() = default;
  virtual Subscription Lookup(std::string_view address) const = 0;
};

}  // namespace kensa

#endif  // KENSA_SERVER_SUBSCRIPTION_H_
