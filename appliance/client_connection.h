// SPDX-License-Identifier: GPL-2.0-or-later
// ClientConnection: what a shard needs of any accepted connection, whatever its protocol
// (SMTP, the POP3 proxy): start it, and wind it down on SIGTERM.
#ifndef KENSA_APPLIANCE_CLIENT_CONNECTION_H_
#define KENSA_APPLIANCE_CLIENT_CONNECTION_H_

namespace kensa {

class ClientConnection {
 public:
  virtual ~ClientConnection() = default;
  virtual void Start() = 0;
  // SIGTERM: an idle session ends now; a busy one may finish until the drain deadline.
  virtual void Drain() = 0;
  // The drain deadline passed.
  virtual void ForceClose() = 0;
};

}  // namespace kensa

#endif  // KENSA_APPLIANCE_CLIENT_CONNECTION_H_
