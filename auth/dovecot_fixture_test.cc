// SPDX-License-Identifier: GPL-2.0-or-later
// DovecotServer: the master runs in the foreground (-F) as this test's child, so it is waited
// for by pid and never left behind as an orphan.
#include "auth/dovecot_fixture_test.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"

namespace kensa::auth::testing {
namespace {

absl::Status WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A port the kernel just handed out; Dovecot binds it a moment later.
absl::StatusOr<int> FreeTcpPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    if (fd >= 0) close(fd);
    return absl::InternalError(absl::StrCat("free port: ", std::strerror(errno)));
  }
  close(fd);
  return ntohs(a.sin_port);
}

bool CanConnect(const std::string& path, int port) {
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  std::strncpy(un.sun_path, path.c_str(), sizeof un.sun_path - 1);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&un), sizeof un) == 0;
  close(fd);
  if (!ok) return false;
  fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(fd);
  return ok;
}

// A process of group `pgid` that is not a zombie (orphans may stay unreaped by init).
bool GroupAlive(pid_t pgid) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    std::string stat = ReadFile(entry.path().string() + "/stat");
    size_t close_paren = stat.rfind(')');
    if (close_paren == std::string::npos) continue;
    char state = 0;
    int ppid = 0, pgrp = 0;
    if (std::sscanf(stat.c_str() + close_paren + 1, " %c %d %d", &state, &ppid, &pgrp) != 3) continue;
    if (pgrp == pgid && state != 'Z' && state != 'X') return true;
  }
  return false;
}

}  // namespace

DovecotServer::~DovecotServer() { (void)Stop(); }

std::string DovecotServer::log() const {
  return absl::StrCat("--- dovecot.log\n", ReadFile(dir_ + "/dovecot.log"), "--- stderr\n",
                      ReadFile(dir_ + "/stderr.log"));
}

absl::Status DovecotServer::Start(const std::vector<DovecotUser>& users) {
  if (access(kBinary, X_OK) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        kBinary, " is not installed: the Dovecot auth tests need package dovecot-core "
                 "(scripts/deps installs it)"));
  }
  char tmpl[] = "/tmp/kensa-dovecot-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return absl::InternalError("mkdtemp failed");
  dir_ = tmpl;
  // Dovecot's auth process runs as the dovecot user and must reach the passwd file.
  chmod(dir_.c_str(), 0755);
  std::string passwd;
  for (const DovecotUser& u : users) absl::StrAppend(&passwd, u.name, ":", u.scheme_password, "\n");
  absl::Status st = WriteFile(dir_ + "/passwd", passwd);
  if (!st.ok()) return st;
  // The free port is free only until Dovecot binds it: a test running beside this one may
  // take it in between. That shows as "Address already in use"; another port then.
  for (int attempt = 1;; ++attempt) {
    absl::StatusOr<int> port = FreeTcpPort();
    if (!port.ok()) return port.status();
    port_ = *port;
    st = Launch();
    if (st.ok() || attempt == kPortAttempts || pid_ > 0 ||
        ReadFile(dir_ + "/dovecot.log").find("Address already in use") == std::string::npos) {
      return st;
    }
  }
}

absl::Status DovecotServer::Launch() {
  std::string conf = absl::StrCat(R"(protocols = none
listen = 127.0.0.1
base_dir = )", dir_, R"(/run
state_dir = )", dir_, R"(/run
log_path = )", dir_, R"(/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
default_internal_user = dovecot
default_login_user = dovenull
default_internal_group = dovecot
first_valid_uid = 1
service anvil {
  chroot =
}
service auth {
  unix_listener auth-client {
    path = )", dir_, R"(/auth-client
    mode = 0666
  }
  inet_listener auth-inet {
    address = 127.0.0.1
    port = )", port_, R"(
  }
}
passdb {
  driver = passwd-file
  args = )", dir_, R"(/passwd
}
userdb {
  driver = static
  args = uid=dovecot gid=dovecot home=)", dir_, R"(/home
}
)");
  absl::Status st = WriteFile(dir_ + "/dovecot.conf", conf);
  if (!st.ok()) return st;
  std::filesystem::remove(dir_ + "/dovecot.log");
  std::string conf_path = dir_ + "/dovecot.conf";
  std::string err_path = dir_ + "/stderr.log";
  pid_ = fork();
  if (pid_ < 0) return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  if (pid_ == 0) {
    // Its own process group: the auth process outlives the master while clients stay
    // connected, so Stop() signals the whole group.
    setpgid(0, 0);
    FILE* err = freopen(err_path.c_str(), "w", stderr);
    (void)err;
    dup2(STDERR_FILENO, STDOUT_FILENO);
    execl(kBinary, kBinary, "-F", "-c", conf_path.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  absl::Time deadline = absl::Now() + absl::Seconds(15);
  while (absl::Now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return absl::InternalError(absl::StrCat("dovecot exited at start (status ", status, ")\n", log()));
    }
    if (CanConnect(dir_ + "/auth-client", port_)) return absl::OkStatus();
    absl::SleepFor(absl::Milliseconds(20));
  }
  return absl::DeadlineExceededError(absl::StrCat("dovecot did not listen within 15s\n", log()));
}

absl::Status DovecotServer::Stop() {
  absl::Status result;
  if (pid_ > 0) {
    kill(-pid_, SIGTERM);
    absl::Time deadline = absl::Now() + absl::Seconds(10);
    int status = 0;
    while (waitpid(pid_, &status, WNOHANG) == 0) {
      if (absl::Now() > deadline) {
        kill(-pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        result = absl::DeadlineExceededError("dovecot ignored SIGTERM for 10s; killed");
        break;
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    // The master's children are not ours to wait for; wait until none is left running.
    while (GroupAlive(pid_)) {
      if (absl::Now() > deadline) {
        kill(-pid_, SIGKILL);
        result = absl::DeadlineExceededError("dovecot processes ignored SIGTERM for 10s; killed");
        break;
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    pid_ = -1;
  }
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    dir_.clear();
  }
  return result;
}

}  // namespace kensa::auth::testing
