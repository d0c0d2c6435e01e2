// SPDX-License-Identifier: GPL-2.0-or-later
// AuthBackend over a local file of crypt(3) hashes, for appliances without a directory server.
//
// File format, one user per line:
//
//   user:hash[:address,address,...]
//
// - Blank lines and lines starting with '#' are skipped; a trailing CR is ignored.
// - `user` is the name the client authenticates with. A name with an '@' is an email address
//   and is matched case-insensitively (stored lowercased); other names match exactly.
//   A user may appear only once.
// - `hash` is a crypt(3) hash made by a modern scheme: yescrypt ($y$), SHA-512-crypt ($6$),
//   SHA-256-crypt ($5$) or bcrypt ($2b$), as far as the installed libcrypt rates them current
//   (Debian 12's rates $5$ legacy) (`mkpasswd -m yescrypt`, `mkpasswd -m sha-512`). DES, MD5 and other weak or unknown
//   schemes are refused at load with the line number.
// - A hash prefixed by '!' or '*' (or that is exactly "*" or "!") is a locked account, as in
//   /etc/shadow: it loads, and never matches any password.
// - The optional third field lists the envelope sender addresses the user owns, separated by
//   commas; they are lowercased. A user name that is an address owns itself too.
//
// Reloading is loading again: the caller builds a new backend with Load() and swaps it in,
// so a bad edit leaves the running one untouched.
#ifndef KENSA_AUTH_PASSWD_FILE_BACKEND_H_
#define KENSA_AUTH_PASSWD_FILE_BACKEND_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "auth/auth_backend.h"

namespace kensa::auth {

struct PasswdFileOptions {
  size_t max_file_bytes = 64u << 20;
  size_t max_line_bytes = 8192;
  // Longer passwords are refused without hashing: bounds the work a client can ask for.
  size_t max_password_bytes = 1024;
};

class PasswdFileBackend : public AuthBackend {
 public:
  static absl::StatusOr<std::unique_ptr<PasswdFileBackend>> Load(
      const std::string& path, const PasswdFileOptions& options = {});
  // The same parser on text already in memory; `origin` names it in errors and Describe().
  static absl::StatusOr<std::unique_ptr<PasswdFileBackend>> Parse(
      const std::string& text, const std::string& origin, const PasswdFileOptions& options = {});

  AuthOutcome Verify(const AuthRequest& request) override;
  std::string Describe() const override { return "file:" + origin_; }
  size_t user_count() const { return users_.size(); }

 private:
  struct Entry {
    std::string user;  // canonical (lowercased when an address)
    std::string hash;  // empty for a locked account
    std::vector<std::string> addresses;
  };
  PasswdFileBackend() = default;

  std::string origin_;
  PasswdFileOptions options_;
  absl::flat_hash_map<std::string, Entry> users_;
  // A real hash of the file's first scheme and cost, verified against for unknown users and
  // locked accounts, so the answer takes as long as for a known user.
  std::string dummy_setting_;
};

}  // namespace kensa::auth

#endif  // KENSA_AUTH_PASSWD_FILE_BACKEND_H_
