// SPDX-License-Identifier: GPL-2.0-or-later
// Maildir delivery (the embedded default's final destination): one Maildir per recipient
// address, <root>/<address>/{tmp,new,cur}. Each message is written to tmp/, fsync'd, linked
// into new/ and the directory fsync'd: delivered means durable. Blocking: runs on a worker.
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

// Delivers `prefix` followed by `content` (bytes exactly as given) to each address's Maildir,
// creating it when needed. One result per address, in order.
std::vector<MaildirResult> DeliverToMaildir(const std::string& root,
                                            const std::vector<std::string>& addresses,
                                            std::string_view prefix, std::string_view content);

}  // namespace kensa::net

#endif  // KENSA_NET_MAILDIR_H_
