// SPDX-License-Identifier: GPL-2.0-or-later
// Who may use the control socket: root, the user kensad runs as (it owns the state directory
// anyway), and the members of the admin group, primary or supplementary as the group database
// says (getgrouplist, so NSS groups count). Without the group only those two.
#ifndef KENSA_CONTROL_PEER_CHECK_H_
#define KENSA_CONTROL_PEER_CHECK_H_

#include <sys/types.h>

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "control/control_backend.h"

namespace kensa::control {

// The connected peer of a UNIX socket (SO_PEERCRED), its user name filled in.
absl::StatusOr<PeerIdentity> PeerOf(int fd);

// The gid of `group`, or nullopt when the group does not exist.
std::optional<gid_t> LookUpGroup(const std::string& group);

bool IsAdmin(const PeerIdentity& peer, std::optional<gid_t> admin_gid, uid_t daemon_uid);

}  // namespace kensa::control

#endif  // KENSA_CONTROL_PEER_CHECK_H_
