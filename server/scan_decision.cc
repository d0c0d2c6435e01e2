// SPDX-License-Identifier: GPL-2.0-or-later
#include "server/scan_decision.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace kensa {
namespace {

// Printable ASCII only: names end up in a reply line.
std::string ReplySafe(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 200)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return out;
}

std::vector<scan::PartFinding> Effective(const scan::MessageVerdict& v, UnscannableAction u) {
  std::vector<scan::PartFinding> out;
  for (const scan::PartFinding& f : v.findings) {
    if (f.result.kind == scan::ScanResult::Kind::kUnscannable && u == UnscannableAction::kPass) {
      continue;
    }
    out.push_back(f);
  }
  return out;
}

}  // namespace

ScanDecision DecideScan(const scan::MessageVerdict& verdict,
                        const std::vector<RecipientScan>& recipients,
                        const scan::NoticeContext& notice) {
  ScanDecision d;
  if (verdict.kind == scan::MessageVerdict::Kind::kLocalFailure) {
    // No verdict: nothing may be delivered, cleaned or not. The sender tries again later.
    d.refuse = true;
    d.reply = net::SmtpReply{451, "4.3.0", "Local error in processing, try again later"};
    d.result = "local_failure";
    return d;
  }
  d.result = "clean";
  d.outcome.variants.push_back({});  // 0: as received, for recipients nobody asked to scan
  // One scanned copy per unscannable policy in use (two at most).
  int variant_for[2] = {-1, -1};
  for (const RecipientScan& r : recipients) {
    if (!r.scanned) {
      d.outcome.recipient_variant.push_back(0);
      continue;
    }
    const UnscannableAction u = r.subscription.unscannable;
    const int slot = u == UnscannableAction::kPass ? 1 : 0;
    std::vector<scan::PartFinding> findings = Effective(verdict, u);
    if (!findings.empty()) {
      bool infected = false;
      for (const scan::PartFinding& f : findings) {
        infected |= f.result.kind == scan::ScanResult::Kind::kInfected;
      }
      if (d.result != "infected") d.result = infected ? "infected" : "unscannable";
      if (r.subscription.action == ScanAction::kReject && !d.refuse) {
        d.refuse = true;
        std::vector<std::string> names;
        for (const scan::PartFinding& f : findings) {
          std::string n = ReplySafe(scan::ShownReason(f));
          if (std::find(names.begin(), names.end(), n) == names.end()) names.push_back(n);
        }
        d.reply = net::SmtpReply{
            554, "5.7.1",
            absl::StrCat(infected ? "Message refused: virus found: "
                                  : "Message refused: content could not be scanned: ",
                         absl::StrJoin(names, ", "))};
      }
      if (r.subscription.action == ScanAction::kQuarantine) d.quarantine = true;
    }
    if (variant_for[slot] < 0) {
      spool::ContentVariant v;
      v.headers = scan::VirusHeaders(verdict.findings, notice);
      v.edits = scan::CleaningEdits(findings, notice);
      variant_for[slot] = static_cast<int>(d.outcome.variants.size());
      d.outcome.variants.push_back(std::move(v));
    }
    d.outcome.recipient_variant.push_back(static_cast<uint32_t>(variant_for[slot]));
  }
  return d;
}

std::vector<std::string> VirusNames(const scan::MessageVerdict& verdict) {
  std::vector<std::string> names;
  for (const scan::PartFinding& f : verdict.findings) {
    if (std::find(names.begin(), names.end(), f.result.name) == names.end()) {
      names.push_back(f.result.name);
    }
  }
  return names;
}

}  // namespace kensa
