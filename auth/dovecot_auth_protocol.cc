// SPDX-License-Identifier: GPL-2.0-or-later
// Dovecot auth protocol encoding and parsing (see the header for the wire format).
#include "auth/dovecot_auth_protocol.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace kensa::auth {
namespace {

absl::string_view AV(std::string_view s) { return absl::string_view(s.data(), s.size()); }

std::vector<absl::string_view> Fields(std::string_view line) {
  return absl::StrSplit(AV(line), '\t');
}

}  // namespace

std::string DovecotTabEscape(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\0': out += "\0010"; break;
      case '\001': out += "\0011"; break;
      case '\t': out += "\001t"; break;
      case '\r': out += "\001r"; break;
      case '\n': out += "\001n"; break;
      default: out += c;
    }
  }
  return out;
}

std::string DovecotTabUnescape(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (size_t i = 0; i < value.size(); ++i) {
    if (value[i] != '\001' || i + 1 == value.size()) {
      out += value[i];
      continue;
    }
    char c = value[++i];
    switch (c) {
      case '0': out += '\0'; break;
      case '1': out += '\001'; break;
      case 't': out += '\t'; break;
      case 'r': out += '\r'; break;
      case 'n': out += '\n'; break;
      default: out += c;  // as Dovecot does: the escape byte is dropped
    }
  }
  return out;
}

std::string DovecotClientHandshake(int64_t pid) {
  return absl::StrCat("VERSION\t", kDovecotAuthMajor, "\t", kDovecotAuthMinor, "\nCPID\t", pid,
                      "\n");
}

absl::Status DovecotHandshake::Consume(std::string_view line) {
  std::vector<absl::string_view> f = Fields(line);
  if (f[0] == "VERSION") {
    int major = 0;
    if (f.size() < 3 || !absl::SimpleAtoi(f[1], &major)) {
      return absl::UnavailableError("dovecot auth: malformed VERSION line");
    }
    if (major != kDovecotAuthMajor) {
      return absl::UnavailableError(
          absl::StrCat("dovecot auth: server speaks protocol ", major, ", want ", kDovecotAuthMajor));
    }
    version_seen_ = true;
    return absl::OkStatus();
  }
  if (!version_seen_) return absl::UnavailableError("dovecot auth: handshake does not start with VERSION");
  if (f[0] == "MECH") {
    if (f.size() >= 2 && absl::AsciiStrToUpper(f[1]) == "PLAIN") plain_ = true;
    return absl::OkStatus();
  }
  if (f[0] == "DONE") {
    done_ = true;
    if (!plain_) return absl::UnavailableError("dovecot auth: server does not offer PLAIN");
    return absl::OkStatus();
  }
  // SPID, CUID, COOKIE and whatever later versions add carry nothing a verify-only client needs.
  return absl::OkStatus();
}

std::string DovecotAuthLine(uint32_t id, const AuthRequest& request,
                            const DovecotAuthLineOptions& options) {
  std::string plain;
  plain.reserve(request.authzid.size() + request.user.size() + request.password.size() + 2);
  plain.append(request.authzid).push_back('\0');
  plain.append(request.user).push_back('\0');
  plain.append(request.password);
  std::string line = absl::StrCat("AUTH\t", id, "\tPLAIN\tservice=smtp\tnologin\t");
  if (!options.penalty) line += "no-penalty\t";
  if (request.secured) line += "secured\t";
  if (!request.client_address.empty()) {
    absl::StrAppend(&line, "rip=", DovecotTabEscape(request.client_address), "\t");
  }
  if (!request.local_address.empty()) {
    absl::StrAppend(&line, "lip=", DovecotTabEscape(request.local_address), "\t");
  }
  // Base64 needs no escaping: its alphabet has no TAB, LF or \001.
  absl::StrAppend(&line, "resp=", absl::Base64Escape(plain), "\n");
  std::fill(plain.begin(), plain.end(), '\0');
  return line;
}

const std::string* DovecotReply::Find(std::string_view name) const {
  for (const auto& [k, v] : params) {
    if (k == name) return &v;
  }
  return nullptr;
}

absl::StatusOr<DovecotReply> ParseDovecotReply(std::string_view line) {
  std::vector<absl::string_view> f = Fields(line);
  DovecotReply reply;
  if (f[0] == "OK") {
    reply.kind = DovecotReply::Kind::kOk;
  } else if (f[0] == "FAIL") {
    reply.kind = DovecotReply::Kind::kFail;
  } else if (f[0] == "CONT") {
    reply.kind = DovecotReply::Kind::kCont;
  } else {
    return absl::UnavailableError(
        absl::StrCat("dovecot auth: unexpected reply \"", absl::CEscape(f[0].substr(0, 32)), "\""));
  }
  if (f.size() < 2 || !absl::SimpleAtoi(f[1], &reply.id)) {
    return absl::UnavailableError("dovecot auth: reply without a request id");
  }
  // CONT's third field is a base64 challenge, not a parameter; it is not needed.
  if (reply.kind == DovecotReply::Kind::kCont) return reply;
  for (size_t i = 2; i < f.size(); ++i) {
    absl::string_view p = f[i];
    size_t eq = p.find('=');
    if (eq == absl::string_view::npos) {
      reply.params.emplace_back(DovecotTabUnescape(std::string_view(p.data(), p.size())), "");
    } else {
      reply.params.emplace_back(
          DovecotTabUnescape(std::string_view(p.data(), eq)),
          DovecotTabUnescape(std::string_view(p.data() + eq + 1, p.size() - eq - 1)));
    }
  }
  return reply;
}

AuthOutcome DovecotOutcome(const DovecotReply& reply, const AuthRequest& request) {
  switch (reply.kind) {
    case DovecotReply::Kind::kOk: {
      AuthOutcome out;
      out.kind = AuthOutcome::Kind::kOk;
      const std::string* user = reply.Find("user");
      out.user = NormalizeUserName(user != nullptr && !user->empty() ? *user : request.user);
      if (IsEmailAddress(out.user)) out.addresses.push_back(out.user);
      out.reason = "dovecot OK";
      return out;
    }
    case DovecotReply::Kind::kFail: {
      const std::string* code = reply.Find("code");
      const std::string* reason = reply.Find("reason");
      bool temp = reply.Has("temp") || (code != nullptr && *code == "temp_fail");
      std::string why = absl::StrCat("dovecot FAIL", temp ? " (temporary)" : "");
      if (code != nullptr) absl::StrAppend(&why, " code=", *code);
      // The server's reason is meant for the user; it never holds the password.
      if (reason != nullptr) absl::StrAppend(&why, ": ", *reason);
      return temp ? TempFailed(std::move(why)) : Failed(std::move(why));
    }
    case DovecotReply::Kind::kCont:
      return TempFailed("dovecot asked to continue a PLAIN exchange");
  }
  return TempFailed("dovecot: unknown reply");
}

}  // namespace kensa::auth
