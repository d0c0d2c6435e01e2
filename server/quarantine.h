// SPDX-License-Identifier: GPL-2.0-or-later
// The quarantine: originals of infected messages, kept when the policy says so, one file per
// message named by its queue id (<dir>/<queue id>.eml), listable and releasable later; beside
// it <queue id>.queue, the queue file as committed, whose envelope a release delivers to.
#ifndef KENSA_SERVER_QUARANTINE_H_
#define KENSA_SERVER_QUARANTINE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace kensa {

inline constexpr char kQuarantineMessageSuffix[] = ".eml";
inline constexpr char kQuarantineQueueFileSuffix[] = ".queue";
std::string QuarantineMessagePath(const std::string& dir, const std::string& queue_id);
std::string QuarantineQueueFilePath(const std::string& dir, const std::string& queue_id);

// Copies the message as received out of a committed queue file into `dir`, durably (written
// to a temporary name, fsync'd, renamed, directory fsync'd). Blocking: a worker's job.
absl::Status QuarantineOriginal(const std::string& dir, const std::string& queue_file_path,
                                const std::string& queue_id);

}  // namespace kensa

#endif  // KENSA_SERVER_QUARANTINE_H_
