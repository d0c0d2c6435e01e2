// SPDX-License-Identifier: GPL-2.0-or-later
// ControlBackend: how the control server reaches kensad. appliance/ implements it (the control
// library knows nothing of shards or configuration); the server calls it on the control
// thread, one command at a time, and it may block that thread while it waits for the
// reactors' answers.
#ifndef KENSA_CONTROL_CONTROL_BACKEND_H_
#define KENSA_CONTROL_CONTROL_BACKEND_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "control/command_table.h"

namespace kensa::control {

// Who is on the other end of the socket, from SO_PEERCRED.
struct PeerIdentity {
  uid_t uid = 0;
  gid_t gid = 0;
  pid_t pid = 0;
  std::string user;  // the uid's name, or the number when it has none
};

struct CommandResult {
  bool ok = true;
  std::string message;  // after "OK " or "ERR " on the status line (one line)
  std::vector<std::string> lines;

  static CommandResult Error(std::string message) {
    CommandResult r;
    r.ok = false;
    r.message = std::move(message);
    return r;
  }
};

class ControlBackend {
 public:
  virtual ~ControlBackend() = default;
  virtual CommandResult Run(const ParsedCommand& command, const std::vector<std::string>& body,
                            const PeerIdentity& who) = 0;
};

}  // namespace kensa::control

#endif  // KENSA_CONTROL_CONTROL_BACKEND_H_
