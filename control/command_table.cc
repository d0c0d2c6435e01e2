// SPDX-License-Identifier: GPL-2.0-or-later
#include "control/command_table.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace kensa::control {
namespace {

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

}  // namespace

const std::vector<CommandSpec>& Commands() {
  using C = CommandId;
  static const std::vector<CommandSpec>* table = new std::vector<CommandSpec>{
      {C::kShowStatus,
       {"show", "status"},
       "",
       0,
       0,
       false,
       false,
       "version, uptime, reactors, connections, queue, signatures"},
      {C::kShowConnections,
       {"show", "connections"},
       "",
       0,
       0,
       false,
       false,
       "client connections: reactor, peer, listener, state, age"},
      {C::kShowReactors,
       {"show", "reactors"},
       "",
       0,
       0,
       false,
       false,
       "per reactor: connections, queued messages, scan bytes waiting"},
      {C::kShowCounters,
       {"show", "counters"},
       "",
       0,
       0,
       false,
       false,
       "every counter, summed over the reactors"},
      {C::kShowQueue,
       {"show", "queue"},
       "",
       0,
       0,
       false,
       false,
       "queued messages: id, state, attempts, sender, recipients"},
      {C::kQueueFlush,
       {"queue", "flush"},
       "",
       0,
       0,
       true,
       false,
       "attempt every queued message now (held ones stay held)"},
      {C::kQueueHold,
       {"queue", "hold"},
       "ID",
       1,
       1,
       true,
       false,
       "keep a message from delivery until released (survives a restart)"},
      {C::kQueueRelease,
       {"queue", "release"},
       "ID",
       1,
       1,
       true,
       false,
       "let a held message be delivered again, now"},
      {C::kQueueDelete,
       {"queue", "delete"},
       "ID",
       1,
       1,
       true,
       false,
       "remove a message from the queue without delivery or bounce"},
      {C::kShowMessage,
       {"show", "message"},
       "ID",
       1,
       1,
       false,
       false,
       "a queued message: envelope, verdict, delivery attempts"},
      {C::kShowQuarantine,
       {"show", "quarantine"},
       "",
       0,
       0,
       false,
       false,
       "quarantined messages: id, size, date"},
      {C::kQuarantineShow,
       {"quarantine", "show"},
       "ID",
       1,
       1,
       false,
       false,
       "a quarantined message's envelope and header"},
      {C::kQuarantineRelease,
       {"quarantine", "release"},
       "ID",
       1,
       1,
       true,
       false,
       "deliver the quarantined original to its recipients"},
      {C::kQuarantineDelete,
       {"quarantine", "delete"},
       "ID",
       1,
       1,
       true,
       false,
       "remove a quarantined message"},
      {C::kShowSignatures,
       {"show", "signatures"},
       "",
       0,
       0,
       false,
       false,
       "the loaded signature set: version, age, counts"},
      {C::kSignaturesHistory,
       {"signatures", "history"},
       "",
       0,
       0,
       false,
       false,
       "signature updates so far"},
      {C::kSignaturesUpdate,
       {"signatures", "update"},
       "",
       0,
       0,
       true,
       false,
       "fetch and load signatures now"},
      {C::kSignaturesRollback,
       {"signatures", "rollback"},
       "",
       0,
       0,
       true,
       false,
       "go back to the previous signature set"},
      {C::kSubscriberShow,
       {"subscriber", "show"},
       "ADDRESS",
       1,
       1,
       false,
       false,
       "what the mail path decides for an address"},
      {C::kSubscriberAdd,
       {"subscriber", "add"},
       "ADDRESS|@DOMAIN [--inbound on|off] [--outbound on|off] [--action A]",
       1,
       7,
       true,
       false,
       "add a subscriber or change what is given of one"},
      {C::kSubscriberRemove,
       {"subscriber", "remove"},
       "ADDRESS|@DOMAIN",
       1,
       1,
       true,
       false,
       "remove a subscriber entry"},
      {C::kSubscriberImport,
       {"subscriber", "import"},
       "[--replace]",
       0,
       1,
       true,
       true,
       "import CSV as kensa-subscribers export writes it, header first (stdin with -c)"},
      {C::kShowConfig, {"show", "config"}, "", 0, 0, false, false, "the running configuration"},
      {C::kConfigCheck,
       {"config", "check"},
       "",
       0,
       0,
       false,
       false,
       "validate the file on disk; say what a reload would change"},
      {C::kConfigReload,
       {"config", "reload"},
       "",
       0,
       0,
       true,
       false,
       "apply the changed configuration file to new sessions"},
      {C::kLogTail,
       {"log", "tail"},
       "[N]",
       0,
       1,
       false,
       false,
       "the last N lines of the log (default 20, at most 1000)"},
      {C::kServiceDrain,
       {"service", "drain"},
       "",
       0,
       0,
       true,
       false,
       "stop accepting (a balancer's health check fails); sessions finish their mail"},
      {C::kServiceResume, {"service", "resume"}, "", 0, 0, true, false, "accept again"},
  };
  return *table;
}

std::string CommandName(const CommandSpec& spec) { return absl::StrJoin(spec.words, " "); }

absl::StatusOr<std::vector<std::string>> SplitCommandLine(std::string_view line) {
  std::vector<std::string> words;
  size_t i = 0;
  while (i < line.size()) {
    if (IsBlank(line[i])) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < line.size() && !IsBlank(line[j])) {
      const unsigned char c = static_cast<unsigned char>(line[j]);
      if (c < 0x20 || c == 0x7f) {
        return absl::InvalidArgumentError("control character in the command line");
      }
      ++j;
    }
    if (j - i > kMaxWordBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("a word longer than ", kMaxWordBytes, " bytes"));
    }
    if (words.size() == kMaxWords) {
      return absl::InvalidArgumentError(absl::StrCat("more than ", kMaxWords, " words"));
    }
    words.emplace_back(line.substr(i, j - i));
    i = j;
  }
  return words;
}

absl::StatusOr<ParsedCommand> ParseCommand(std::string_view line) {
  absl::StatusOr<std::vector<std::string>> words = SplitCommandLine(line);
  if (!words.ok()) return words.status();
  if (words->empty()) return absl::InvalidArgumentError("empty command; try help");
  for (const CommandSpec& spec : Commands()) {
    if (words->size() < spec.words.size()) continue;
    if (!std::equal(spec.words.begin(), spec.words.end(), words->begin())) continue;
    const size_t nargs = words->size() - spec.words.size();
    if (nargs < spec.min_args || nargs > spec.max_args) {
      return absl::InvalidArgumentError(
          absl::StrCat("usage: ", CommandName(spec), spec.usage.empty() ? "" : " ", spec.usage));
    }
    ParsedCommand out;
    out.spec = &spec;
    out.args.assign(words->begin() + static_cast<std::ptrdiff_t>(spec.words.size()), words->end());
    return out;
  }
  for (const CommandSpec& spec : Commands()) {
    if (words->size() < spec.words.size() &&
        std::equal(words->begin(), words->end(), spec.words.begin())) {
      const std::string typed = absl::StrJoin(*words, " ");
      return absl::InvalidArgumentError(
          absl::StrCat("incomplete command \"", typed, "\"; try help ", typed));
    }
  }
  std::string shown =
      absl::StrJoin(words->begin(), words->begin() + std::min<size_t>(2, words->size()), " ");
  return absl::InvalidArgumentError(absl::StrCat("unknown command \"", shown, "\"; try help"));
}

std::vector<std::string> CompleteWord(std::string_view before_cursor) {
  std::vector<std::string> out;
  // The words already complete, and the partial one under the cursor.
  std::string_view partial;
  size_t cut = before_cursor.size();
  while (cut > 0 && !IsBlank(before_cursor[cut - 1])) --cut;
  partial = before_cursor.substr(cut);
  absl::StatusOr<std::vector<std::string>> done = SplitCommandLine(before_cursor.substr(0, cut));
  if (!done.ok()) return out;
  for (const CommandSpec& spec : Commands()) {
    if (done->size() >= spec.words.size()) continue;
    if (!std::equal(done->begin(), done->end(), spec.words.begin())) continue;
    const std::string& next = spec.words[done->size()];
    if (std::string_view(next).substr(0, partial.size()) == partial) out.push_back(next);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::string HelpText(std::string_view topic) {
  absl::StatusOr<std::vector<std::string>> words = SplitCommandLine(topic);
  if (!words.ok()) return "";
  std::string out;
  for (const CommandSpec& spec : Commands()) {
    const size_t n = std::min(words->size(), spec.words.size());
    if (!std::equal(words->begin(), words->begin() + static_cast<std::ptrdiff_t>(n),
                    spec.words.begin())) {
      continue;
    }
    std::string name = CommandName(spec);
    if (!spec.usage.empty()) absl::StrAppend(&name, " ", spec.usage);
    if (name.size() < 28) name.resize(28, ' ');
    absl::StrAppend(&out, name, "  ", spec.help, "\n");
  }
  return out;
}

}  // namespace kensa::control
