// SPDX-License-Identifier: GPL-2.0-or-later
// DecideScan: from a message's verdict and each recipient's subscription, what kensa does with
// the message — refuse it (554 under the reject policy), or queue it with the copies to make:
// the original for recipients nobody asked to scan, and a scanned copy (trace headers, infected
// parts replaced by notices) for those who subscribed. Pure: tested without a reactor.
#ifndef KENSA_SERVER_SCAN_DECISION_H_
#define KENSA_SERVER_SCAN_DECISION_H_

#include <string>
#include <vector>

#include "server/subscription.h"
#include "net/smtp_server_session.h"
#include "scan/message_scanner.h"
#include "scan/rewrite.h"
#include "spool/queue_file.h"

namespace kensa {

struct RecipientScan {
  bool scanned = false;  // its own inbound subscription, or the sender's outbound one
  Subscription subscription;
};

struct ScanDecision {
  // Also for a verdict of kLocalFailure (451 4.3.0): callers log and count that case first.
  bool refuse = false;
  net::SmtpReply reply;     // when refuse
  bool quarantine = false;  // keep the original in the quarantine
  spool::ScanOutcome outcome;
  std::string result;       // clean | infected | unscannable (after the unscannable policy)
                            // | local_failure
};

ScanDecision DecideScan(const scan::MessageVerdict& verdict,
                        const std::vector<RecipientScan>& recipients,
                        const scan::NoticeContext& notice);

// The names the verdict's findings report, each once, in order: for log lines.
std::vector<std::string> VirusNames(const scan::MessageVerdict& verdict);

}  // namespace kensa

#endif  // KENSA_SERVER_SCAN_DECISION_H_
