// SPDX-License-Identifier: GPL-2.0-or-later
// Maildir delivery (the embedded default's final destination): one Maildir per recipient
// address, <root>/<address>/{tmp,new,cur}. Each message is written to tmp/, fsync'd, linked
// into new/ and the directory fsync'd: delivered means durable. Blocking: runs on a worker.
// The message comes whole or from a source in pieces (a 50 MB message is never in memory).
#ifndef KENSA_NET_MAILDIR_H_
#define KENSA_NET_MAILDIR_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace kensa::net {

struct MaildirResult {
  absl::Status status;
  std::string path;  // the file in new/ on success
};

// The directory name for an address: lowercased domain, local part as given; refuses
// anything that could leave root ("/", "..", NUL, control bytes) with InvalidArgument.
absl::StatusOr<std::string> MaildirNameFor(std::string_view address);

// The message to deliver, handed over in pieces so that its size costs no memory.
class MaildirSource {
 public:
  virtual ~MaildirSource() = default;
  // Starts again from the first byte: each recipient's file is written from the start.
  virtual void Rewind() = 0;
  // The next piece, valid until the next call; empty at the end. An error fails the file
  // being written (it is removed) with that error.
  virtual absl::StatusOr<std::string_view> Next() = 0;
};

// Delivers `prefix` followed by `content` (bytes exactly as given) to each address's Maildir,
// creating it when needed. One result per address, in order.
std::vector<MaildirResult> DeliverToMaildir(const std::string& root,
                                            const std::vector<std::string>& addresses,
                                            std::string_view prefix, std::string_view content);
// The same with the message read from `source`, piece by piece, once per address.
std::vector<MaildirResult> DeliverToMaildir(const std::string& root,
                                            const std::vector<std::string>& addresses,
                                            MaildirSource& source);

}  // namespace kensa::net

#endif  // KENSA_NET_MAILDIR_H_
