// SPDX-License-Identifier: GPL-2.0-or-later
// The control commands, one table for both ends: kensa-shell completes, explains and checks a
// command line with it before sending; kensad parses the same line with it again (a client is
// never trusted) and dispatches on the id. A command is a fixed run of words ("queue hold")
// followed by its arguments; a command line is words separated by blanks, no quoting, no
// control characters, at most kMaxWords words of at most kMaxWordBytes each.
#ifndef KENSA_CONTROL_COMMAND_TABLE_H_
#define KENSA_CONTROL_COMMAND_TABLE_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace kensa::control {

inline constexpr size_t kMaxWords = 16;
inline constexpr size_t kMaxWordBytes = 1024;

enum class CommandId {
  kShowStatus,
  kShowConnections,
  kShowReactors,
  kShowCounters,
  kShowQueue,
  kQueueFlush,
  kQueueHold,
  kQueueRelease,
  kQueueDelete,
  kShowMessage,
  kShowQuarantine,
  kQuarantineShow,
  kQuarantineRelease,
  kQuarantineDelete,
  kShowSignatures,
  kSignaturesHistory,
  kSignaturesUpdate,
  kSignaturesRollback,
  kSubscriberShow,
  kSubscriberAdd,
  kSubscriberRemove,
  kSubscriberImport,
  kShowConfig,
  kConfigCheck,
  kConfigReload,
  kLogTail,
  kServiceDrain,
  kServiceResume,
};

struct CommandSpec {
  CommandId id;
  std::vector<std::string> words;
  std::string usage;  // the arguments, e.g. "ID" or "[N]"; empty: none
  size_t min_args;
  size_t max_args;
  bool changes;     // changes kensad's state: written to the audit log
  bool takes_body;  // the request carries lines after the command (subscriber import's CSV)
  std::string help;
};

// Every command, in the order `help` lists them.
const std::vector<CommandSpec>& Commands();

struct ParsedCommand {
  const CommandSpec* spec = nullptr;
  std::vector<std::string> args;
};

// The words of a command line; InvalidArgument for a control character or a limit passed.
absl::StatusOr<std::vector<std::string>> SplitCommandLine(std::string_view line);
// InvalidArgument naming what is wrong: an unknown command ("unknown command \"x\"; try help")
// or the wrong number of arguments ("usage: queue hold ID").
absl::StatusOr<ParsedCommand> ParseCommand(std::string_view line);
// The full command words of a spec, "queue hold".
std::string CommandName(const CommandSpec& spec);

// Completion of the word under the cursor: `before_cursor` is the line up to it. Returns the
// command words that can stand there and start with what is typed of it, sorted, no repeats.
std::vector<std::string> CompleteWord(std::string_view before_cursor);

// `help` with the words after it: every command whose words start with them, one per line
// ("queue hold ID    keep a message from delivery until released"); empty for no match.
std::string HelpText(std::string_view topic);

}  // namespace kensa::control

#endif  // KENSA_CONTROL_COMMAND_TABLE_H_
