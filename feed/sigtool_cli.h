// SPDX-License-Identifier: GPL-2.0-or-later
// kensa-sigtool's commands as one function, so tests run them without a process:
//   keygen -o PREFIX                        PREFIX.key (0600) and PREFIX.pub
//   build DIR --version V -o OUT [--min-kensa-version X] [--created T]
//   sign BUNDLE --key KEY [-o OUT]
//   verify BUNDLE --key PUB [--key PUB...]
//   inspect BUNDLE
//   diff OLD NEW
// Exit status: 0 done (verify: valid), 1 refused or failed (one line on err naming why),
// 2 a usage error (one line, then the command's usage, on err). --help on every command.
#ifndef KENSA_FEED_SIGTOOL_CLI_H_
#define KENSA_FEED_SIGTOOL_CLI_H_

#include <ostream>
#include <string>
#include <vector>

namespace kensa::feed {

// args: the command and its arguments, without the program name.
int RunSigtool(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace kensa::feed

#endif  // KENSA_FEED_SIGTOOL_CLI_H_
