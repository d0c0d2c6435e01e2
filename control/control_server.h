// SPDX-License-Identifier: GPL-2.0-or-later
// ControlServer: kensad's control socket, served by the control thread (a plain poll loop of
// its own, never a mail reactor). A UNIX stream socket, mode 0660, group = the admin group
// (0600 when the group does not exist: root and kensad's own user only); each peer is checked
// with SO_PEERCRED (peer_check.h) and a refusal is answered and logged. One request per
// connection (control_protocol.h); the command is parsed with the command table and run by
// the ControlBackend on this thread; a changing command gets an audit log line (who, what,
// result). At most max_clients connections at once; one silent past idle_timeout is closed.
#ifndef KENSA_CONTROL_CONTROL_SERVER_H_
#define KENSA_CONTROL_CONTROL_SERVER_H_

#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "control/control_backend.h"

namespace kensa::control {

struct ControlServerOptions {
  std::string socket_path;
  std::string admin_group = "kensa-admin";
  size_t max_clients = 16;
  absl::Duration idle_timeout = absl::Seconds(60);
};

class ControlServer {
 public:
  // Binds the socket (replacing a stale one) and starts the thread. `backend` must outlive
  // the server.
  static absl::StatusOr<std::unique_ptr<ControlServer>> Start(const ControlServerOptions& options,
                                                              ControlBackend* backend);
  // Stops the thread (a command in progress finishes first), closes and removes the socket.
  ~ControlServer();

 private:
  struct Client;
  ControlServer(ControlServerOptions options, ControlBackend* backend);
  void Loop();
  void Accept();
  // false: the client is done (answered, failed, or closed) and is to be closed.
  bool OnReadable(Client& c);
  bool OnWritable(Client& c);
  void Answer(Client& c, const std::string& request_head, const std::vector<std::string>& body);

  ControlServerOptions options_;
  ControlBackend* backend_;
  int listen_fd_ = -1;
  int stop_fd_ = -1;  // eventfd: the destructor wakes the loop
  std::optional<gid_t> admin_gid_;
  std::vector<Client> pending_;  // accepted in this round, joined to the loop's list after it
  std::thread thread_;
};

}  // namespace kensa::control

#endif  // KENSA_CONTROL_CONTROL_SERVER_H_
