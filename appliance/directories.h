// SPDX-License-Identifier: GPL-2.0-or-later
// The directories kensad makes itself, at start and at a configuration reload (state, spool,
// temporary files, Maildir next hops, the quarantine).
#ifndef KENSA_APPLIANCE_DIRECTORIES_H_
#define KENSA_APPLIANCE_DIRECTORIES_H_

#include <string>

#include "absl/status/status.h"

namespace kensa {

// `dir` and its missing parents; an error names the directory ("mkdir DIR: reason").
absl::Status MakeDirs(const std::string& dir);

}  // namespace kensa

#endif  // KENSA_APPLIANCE_DIRECTORIES_H_
