// SPDX-License-Identifier: GPL-2.0-or-later
// PasswdFileBackend: the file is parsed once into a map; Verify only reads it, so concurrent
// calls need no lock.
#include "auth/passwd_file_backend.h"

#include <fstream>
#include <iterator>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "auth/crypt_hash.h"

namespace kensa::auth {
namespace {

bool ValidUserName(std::string_view user) {
  if (user.empty()) return false;
  for (char c : user) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) return false;
  }
  return true;
}

absl::Status LineError(const std::string& origin, size_t line_no, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(origin, ": line ", line_no, ": ", what));
}

}  // namespace

absl::StatusOr<std::unique_ptr<PasswdFileBackend>> PasswdFileBackend::Load(
    const std::string& path, const PasswdFileOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open passwd file ", path));
  std::string text;
  char buf[65536];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<size_t>(in.gcount()));
    if (text.size() > options.max_file_bytes) {
      return absl::ResourceExhaustedError(
          absl::StrCat(path, ": larger than max_file_bytes (", options.max_file_bytes, ")"));
    }
  }
  if (in.bad()) return absl::DataLossError(absl::StrCat("cannot read passwd file ", path));
  return Parse(text, path, options);
}

absl::StatusOr<std::unique_ptr<PasswdFileBackend>> PasswdFileBackend::Parse(
    const std::string& text, const std::string& origin, const PasswdFileOptions& options) {
  std::unique_ptr<PasswdFileBackend> backend(new PasswdFileBackend());
  backend->origin_ = origin;
  backend->options_ = options;
  absl::flat_hash_map<std::string, size_t> first_line;
  size_t line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    absl::ConsumeSuffix(&line, "\r");
    if (line.size() > options.max_line_bytes) {
      return LineError(origin, line_no, absl::StrCat("longer than ", options.max_line_bytes, " bytes"));
    }
    absl::string_view trimmed = absl::StripAsciiWhitespace(line);
    if (trimmed.empty() || trimmed.front() == '#') continue;
    std::vector<absl::string_view> fields = absl::StrSplit(trimmed, absl::MaxSplits(':', 2));
    if (fields.size() < 2) return LineError(origin, line_no, "want user:hash[:address,...]");
    if (!ValidUserName(std::string(fields[0]))) {
      return LineError(origin, line_no, "empty user name or one with spaces or control bytes");
    }
    Entry entry;
    entry.user = NormalizeUserName(std::string(fields[0]));
    std::string hash(fields[1]);
    bool locked = !hash.empty() && (hash.front() == '!' || hash.front() == '*');
    if (!locked) {
      // The hash itself is not quoted: a copy of a secret-derived value has no place in logs.
      if (!IsAcceptedCryptHash(hash)) {
        return LineError(origin, line_no,
                         "unsupported or malformed password hash (want yescrypt $y$, "
                         "SHA-512-crypt $6$, SHA-256-crypt $5$ or bcrypt $2b$; '!' locks)");
      }
      entry.hash = std::move(hash);
      if (backend->dummy_setting_.empty()) backend->dummy_setting_ = entry.hash;
    }
    if (IsEmailAddress(entry.user)) entry.addresses.push_back(entry.user);
    if (fields.size() == 3) {
      for (absl::string_view a : absl::StrSplit(fields[2], ',', absl::SkipWhitespace())) {
        a = absl::StripAsciiWhitespace(a);
        if (!IsEmailAddress(std::string(a))) {
          return LineError(origin, line_no, absl::StrCat("bad address \"", a, "\""));
        }
        std::string address = absl::AsciiStrToLower(a);
        bool seen = false;
        for (const std::string& have : entry.addresses) seen = seen || have == address;
        if (!seen) entry.addresses.push_back(std::move(address));
      }
    }
    auto [it, inserted] = first_line.emplace(entry.user, line_no);
    if (!inserted) {
      return LineError(origin, line_no,
                       absl::StrCat("user \"", entry.user, "\" already defined on line ", it->second));
    }
    std::string key = entry.user;
    backend->users_.emplace(std::move(key), std::move(entry));
  }
  if (backend->dummy_setting_.empty()) {
    // No usable hash at all: unknown users still cost one yescrypt computation.
    absl::StatusOr<std::string> dummy = CryptHash("kensa-timing-dummy", "$y$");
    if (!dummy.ok()) dummy = CryptHash("kensa-timing-dummy", "$6$");
    if (!dummy.ok()) return dummy.status();
    backend->dummy_setting_ = *std::move(dummy);
  }
  return backend;
}

AuthOutcome PasswdFileBackend::Verify(const AuthRequest& request) {
  if (!AuthzidAllowed(request.authzid, request.user)) return Failed("authzid not allowed");
  if (request.password.size() > options_.max_password_bytes) {
    return Failed("password longer than max_password_bytes");
  }
  auto it = users_.find(NormalizeUserName(request.user));
  if (it == users_.end() || it->second.hash.empty()) {
    // Same work as a real check, so the answer's timing does not tell which users exist.
    (void)CryptMatches(request.password, dummy_setting_);
    return Failed(it == users_.end() ? "unknown user" : "account locked");
  }
  const Entry& entry = it->second;
  if (!CryptMatches(request.password, entry.hash)) return Failed("wrong password");
  AuthOutcome out;
  out.kind = AuthOutcome::Kind::kOk;
  out.user = entry.user;
  out.addresses = entry.addresses;
  out.reason = "password ok";
  return out;
}

}  // namespace kensa::auth
