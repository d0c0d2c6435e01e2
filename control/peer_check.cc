// SPDX-License-Identifier: GPL-2.0-or-later
#include "control/peer_check.h"

#include <grp.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"

namespace kensa::control {

absl::StatusOr<PeerIdentity> PeerOf(int fd) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    return absl::InternalError(absl::StrCat("SO_PEERCRED: ", std::strerror(errno)));
  }
  PeerIdentity p;
  p.uid = cred.uid;
  p.gid = cred.gid;
  p.pid = cred.pid;
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* found = nullptr;
  if (getpwuid_r(p.uid, &pw, buf.data(), buf.size(), &found) == 0 && found != nullptr) {
    p.user = pw.pw_name;
  } else {
    p.user = absl::StrCat(p.uid);
  }
  return p;
}

std::optional<gid_t> LookUpGroup(const std::string& group) {
  if (group.empty()) return std::nullopt;
  std::vector<char> buf(65536);
  struct group gr {};
  struct group* found = nullptr;
  if (getgrnam_r(group.c_str(), &gr, buf.data(), buf.size(), &found) != 0 || found == nullptr) {
    return std::nullopt;
  }
  return gr.gr_gid;
}

bool IsAdmin(const PeerIdentity& peer, std::optional<gid_t> admin_gid, uid_t daemon_uid) {
  if (peer.uid == 0 || peer.uid == daemon_uid) return true;
  if (!admin_gid) return false;
  if (peer.gid == *admin_gid) return true;
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* found = nullptr;
  if (getpwuid_r(peer.uid, &pw, buf.data(), buf.size(), &found) != 0 || found == nullptr) {
    return false;
  }
  if (pw.pw_gid == *admin_gid) return true;
  int n = 64;
  std::vector<gid_t> groups(static_cast<size_t>(n));
  if (getgrouplist(pw.pw_name, pw.pw_gid, groups.data(), &n) < 0) {
    groups.resize(static_cast<size_t>(n));
    if (getgrouplist(pw.pw_name, pw.pw_gid, groups.data(), &n) < 0) return false;
  }
  for (int i = 0; i < n; ++i) {
    if (groups[static_cast<size_t>(i)] == *admin_gid) return true;
  }
  return false;
}

}  // namespace kensa::control
