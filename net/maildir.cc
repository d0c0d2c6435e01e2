// SPDX-License-Identifier: GPL-2.0-or-later
#include "net/maildir.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace kensa::net {
namespace {

std::atomic<uint64_t> g_counter{0};

absl::Status Errno(const std::string& what, const std::string& path) {
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

absl::Status FsyncDir(const std::string& path);

std::string Parent(const std::string& path) {
  size_t slash = path.find_last_not_of('/');
  slash = slash == std::string::npos ? std::string::npos : path.rfind('/', slash);
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// mkdir with 0700; a directory made here has its entry fsync'd in the parent, so a message
// reported delivered cannot vanish with the new Maildir it went into.
absl::Status MkdirIfMissing(const std::string& path) {
  if (mkdir(path.c_str(), 0700) == 0) return FsyncDir(Parent(path));
  if (errno != EEXIST) return Errno("mkdir", path);
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return Errno("stat", path);
  if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(path, " is not a directory"));
  }
  return absl::OkStatus();
}

// mkdir -p: the root may be relative (./kensa-data/maildir) and its parents missing.
absl::Status MkdirAll(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return absl::OkStatus();
  std::string parent = Parent(path);
  if (parent != path && parent != "." && parent != "/") {
    if (absl::Status s = MkdirAll(parent); !s.ok()) return s;
  }
  return MkdirIfMissing(path);
}

absl::Status FsyncDir(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno("open", path);
  int rc = fsync(fd);
  close(fd);
  if (rc != 0) return Errno("fsync", path);
  return absl::OkStatus();
}

std::string Hostname() {
  char buf[256] = {};
  gethostname(buf, sizeof buf - 1);
  std::string h;
  // '/' and ':' have meaning in Maildir names; the spec says to encode them.
  for (char c : std::string(buf)) h += (c == '/' ? "\\057" : c == ':' ? "\\072" : std::string(1, c));
  return h.empty() ? "localhost" : h;
}

// The whole message as one piece: the string form of DeliverToMaildir.
class StringSource final : public MaildirSource {
 public:
  StringSource(std::string_view prefix, std::string_view content)
      : prefix_(prefix), content_(content) {}
  void Rewind() override { next_ = 0; }
  absl::StatusOr<std::string_view> Next() override {
    // An empty piece means the end, so an empty prefix is skipped.
    if (next_ == 0 && prefix_.empty()) ++next_;
    switch (next_++) {
      case 0: return prefix_;
      case 1: return content_;
      default: return std::string_view();
    }
  }

 private:
  std::string_view prefix_, content_;
  int next_ = 0;
};

// Copies the whole source into fd.
absl::Status WriteSource(int fd, MaildirSource& source, const std::string& tmp) {
  source.Rewind();
  for (;;) {
    absl::StatusOr<std::string_view> piece = source.Next();
    if (!piece.ok()) return piece.status();
    std::string_view bytes = *piece;
    if (bytes.empty()) return absl::OkStatus();
    while (!bytes.empty()) {
      ssize_t n = write(fd, bytes.data(), bytes.size());
      if (n < 0 && errno == EINTR) continue;
      if (n == 0) errno = EIO;  // so the error below does not report a stale errno
      if (n <= 0) return Errno("write", tmp);
      bytes.remove_prefix(static_cast<size_t>(n));
    }
  }
}

absl::StatusOr<std::string> DeliverOne(const std::string& dir, MaildirSource& source) {
  for (const char* sub : {"", "/tmp", "/new", "/cur"}) {
    if (absl::Status s = MkdirIfMissing(dir + sub); !s.ok()) return s;
  }
  const absl::Time now = absl::Now();
  const int64_t micros = absl::ToUnixMicros(now);
  static const std::string host = Hostname();
  const std::string name =
      absl::StrCat(micros / 1000000, ".M", micros % 1000000, "P", getpid(), "Q",
                   g_counter.fetch_add(1), ".", host);
  const std::string tmp = absl::StrCat(dir, "/tmp/", name);
  const std::string final_path = absl::StrCat(dir, "/new/", name);
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Errno("create", tmp);
  absl::Status written = WriteSource(fd, source, tmp);
  if (written.ok() && fsync(fd) != 0) written = Errno("fsync", tmp);
  if (!written.ok()) {
    close(fd);
    unlink(tmp.c_str());
    return written;
  }
  close(fd);
  if (link(tmp.c_str(), final_path.c_str()) != 0) {
    absl::Status s = Errno("link", final_path);
    unlink(tmp.c_str());
    return s;
  }
  unlink(tmp.c_str());
  if (absl::Status s = FsyncDir(dir + "/new"); !s.ok()) return s;
  return final_path;
}

}  // namespace

absl::StatusOr<std::string> MaildirNameFor(std::string_view address) {
  if (address.empty() || address.size() > 320) {
    return absl::InvalidArgumentError("address unusable as a Maildir name");
  }
  size_t at = address.rfind('@');
  std::string local(address.substr(0, at == std::string_view::npos ? address.size() : at));
  std::string domain = at == std::string_view::npos ? "" : std::string(address.substr(at + 1));
  std::string name = domain.empty() ? local : absl::StrCat(local, "@", absl::AsciiStrToLower(domain));
  if (name == "." || name == ".." || name.front() == '.') {
    return absl::InvalidArgumentError(absl::StrCat("address \"", name, "\" unusable as a Maildir name"));
  }
  for (unsigned char c : name) {
    if (c == '/' || c < 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError("address contains bytes unusable in a Maildir name");
    }
  }
  return name;
}

std::vector<MaildirResult> DeliverToMaildir(const std::string& root,
                                            const std::vector<std::string>& addresses,
                                            std::string_view prefix, std::string_view content) {
  StringSource source(prefix, content);
  return DeliverToMaildir(root, addresses, source);
}

std::vector<MaildirResult> DeliverToMaildir(const std::string& root,
                                            const std::vector<std::string>& addresses,
                                            MaildirSource& source) {
  std::vector<MaildirResult> results;
  absl::Status root_ok = root.empty() ? absl::InvalidArgumentError("empty Maildir root")
                                       : MkdirAll(root);
  for (const std::string& a : addresses) {
    MaildirResult r;
    absl::StatusOr<std::string> name = MaildirNameFor(a);
    if (!root_ok.ok()) {
      r.status = root_ok;
    } else if (!name.ok()) {
      r.status = name.status();
    } else {
      absl::StatusOr<std::string> path = DeliverOne(absl::StrCat(root, "/", *name), source);
      if (path.ok()) {
        r.path = *path;
      } else {
        r.status = path.status();
      }
    }
    results.push_back(std::move(r));
  }
  return results;
}

}  // namespace kensa::net
