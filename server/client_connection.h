// SPDX-License-Identifier: GPL-2.0-or-later
// ClientConnection: what a shard needs of any accepted connection, whatever its protocol
// (SMTP, the POP3 proxy): start it, and wind it down on SIGTERM.
#ifndef KENSA_SERVER_CLIENT_CONNECTION_H_
#define KENSA_SERVER_CLIENT_CONNECTION_H_

#include "core/lifetime.h"

namespace kensa {

class ClientConnection {
 public:
  // Expires when the connection is destroyed (core/lifetime.h states the rule).
  using Liveness = Lifetime::Handle;

  virtual ~ClientConnection() = default;
  virtual void Start() = 0;
  // SIGTERM: the session ends at its next idle moment once it has done its work (SMTP: after
  // a transaction); a busy one may finish until the drain deadline.
  virtual void Drain() = 0;
  // The drain deadline passed.
  virtual void ForceClose() = 0;
  // Where the session is, one word for the admin shell ("command", "data", ...).
  virtual const char* StateName() const = 0;

 protected:
  // The shard destroys a finished connection after the current batch, while work it started
  // (a commit, an auth check, a timer) may still call back. Every callback that touches the
  // connection captures this and tests it first; `this` alone is never enough.
  Liveness liveness() const { return lifetime_.handle(); }

 private:
  Lifetime lifetime_;
};

}  // namespace kensa

#endif  // KENSA_SERVER_CLIENT_CONNECTION_H_
