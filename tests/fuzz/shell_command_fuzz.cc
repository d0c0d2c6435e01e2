// SPDX-License-Identifier: GPL-2.0-or-later
// kensa-shell's command line (and kensad's second reading of it): splitting, parsing against
// the command table, completion and help take any line without crashing, and a parsed
// command keeps the table's promises (its words, an argument count within the spec's range,
// words within the limits and free of blanks and control characters).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "control/command_table.h"
#include "tests/fuzz/fuzz_check.h"

using namespace kensa::control;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view line(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<std::vector<std::string>> words = SplitCommandLine(line);
  if (words.ok()) {
    Check(words->size() <= kMaxWords);
    for (const std::string& w : *words) {
      Check(!w.empty() && w.size() <= kMaxWordBytes);
      for (char c : w) Check(c != ' ' && c != '\t' && static_cast<unsigned char>(c) >= 0x20);
    }
  }
  absl::StatusOr<ParsedCommand> cmd = ParseCommand(line);
  if (cmd.ok()) {
    Check(words.ok());
    const CommandSpec& spec = *cmd->spec;
    Check(cmd->args.size() >= spec.min_args && cmd->args.size() <= spec.max_args);
    Check(words->size() == spec.words.size() + cmd->args.size());
    for (size_t i = 0; i < spec.words.size(); ++i) Check((*words)[i] == spec.words[i]);
  } else {
    Check(!cmd.status().message().empty());
  }
  for (const std::string& c : CompleteWord(line)) Check(!c.empty());
  (void)HelpText(line);
  return 0;
}
