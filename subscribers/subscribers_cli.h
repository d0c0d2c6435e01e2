// SPDX-License-Identifier: GPL-2.0-or-later
// kensa-subscribers' commands (add, remove, show, list, import, export) on a subscriber store,
// as one function, so the program and the admin shell run the same code.
#ifndef KENSA_SUBSCRIBERS_SUBSCRIBERS_CLI_H_
#define KENSA_SUBSCRIBERS_SUBSCRIBERS_CLI_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "subscribers/subscriber_store.h"

namespace kensa::subscribers {

// args is the command and its arguments (no program name, no --db/--config). Returns the exit
// status: 0 done, 1 an error (a message on err), 2 a usage error (the usage on err).
int RunSubscribersCli(const std::vector<std::string>& args, const std::string& db_dir,
                      std::ostream& out, std::ostream& err,
                      uint64_t map_bytes = SubscriberStore::kDefaultMapBytes);

// The same on a store the caller has open: a process must not open an LMDB store twice
// (closing the second opening drops the locks that mark the first one's readers alive), so
// kensad's admin shell passes the store its mail path uses.
int RunSubscribersCli(const std::vector<std::string>& args, SubscriberStore& store,
                      std::ostream& out, std::ostream& err);

// The commands' usage, for --help and usage errors; program prefixes each command line.
std::string SubscribersCliUsage(const std::string& program);

}  // namespace kensa::subscribers

#endif  // KENSA_SUBSCRIBERS_SUBSCRIBERS_CLI_H_
