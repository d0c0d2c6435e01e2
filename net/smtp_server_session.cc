// SPDX-License-Identifier: GPL-2.0-or-later
// The ESMTP server state machine. Input is split into three streams by phase: command lines
// (bounded line buffer), DATA (scanned with memchr, streamed to the host once per Feed) and
// BDAT chunks (counted, streamed unchanged). Replies are collected and sent once per Feed so
// a pipelined group costs one write.
#include "net/smtp_server_session.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "net/sasl.h"
#include "net/smtp_address.h"
#include "net/smtp_command.h"

namespace kensa::net {
namespace {

// Input pipelined behind a message that is being committed. The host stops reading while
// WantsMoreInput() is false, so this only ever holds what one read delivered; the cap is
// against a host that keeps feeding anyway.
constexpr size_t kMinPendingCap = 1 << 20;

bool HasNonAscii(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
}

}  // namespace

SmtpServerSession::SmtpServerSession(const SmtpServerConfig& config, SmtpServerHost* host,
                                     std::string client_host)
    : config_(config), host_(host), client_host_(std::move(client_host)) {
  // Implicit TLS (port 465): the handshake happened before the first SMTP byte.
  env_.tls = config_.implicit_tls;
}

// --- entry points --------------------------------------------------------------------------

void SmtpServerSession::Start() {
  if (phase_ != Phase::kGreeting) return;
  phase_ = Phase::kCommand;
  Reply(220, "", absl::StrCat(config_.hostname, " ESMTP kensa"));
  busy_ = true;
  DrainPending();
  busy_ = false;
  Flush();
}

void SmtpServerSession::Feed(std::string_view bytes) {
  if (phase_ == Phase::kClosed || bytes.empty()) return;
  if (busy_ || phase_ == Phase::kGreeting || phase_ == Phase::kAwaitingCommit ||
      phase_ == Phase::kAwaitingAuth) {
    BufferInput(bytes);
    Flush();
    return;
  }
  busy_ = true;
  Process(bytes);
  DrainPending();
  busy_ = false;
  Flush();
}

bool SmtpServerSession::WantsMoreInput() const {
  return phase_ != Phase::kAwaitingCommit && phase_ != Phase::kAwaitingAuth &&
         phase_ != Phase::kClosed;
}

void SmtpServerSession::OnTlsEstablished() {
  if (!awaiting_tls_ || phase_ == Phase::kClosed) return;
  awaiting_tls_ = false;
  env_.tls = true;
}

void SmtpServerSession::CompleteMessage(absl::StatusOr<std::string> queue_id) {
  if (phase_ != Phase::kAwaitingCommit) return;
  if (queue_id.ok()) {
    FinishAwaitedMessage(SmtpReply{250, "2.0.0", absl::StrCat("Ok: queued as ", *queue_id)});
  } else {
    FinishAwaitedMessage(BeginFailureReply(queue_id.status()));
  }
}

void SmtpServerSession::RefuseMessage(const SmtpReply& reply) {
  if (phase_ != Phase::kAwaitingCommit) return;
  FinishAwaitedMessage(reply);
}

void SmtpServerSession::FinishAwaitedMessage(const SmtpReply& reply) {
  Reply(reply);
  ResetTransaction();
  phase_ = Phase::kCommand;
  // Called from inside EndMessage (synchronous host): the Process loop that called it goes
  // on with the rest of its buffer and sends the replies.
  if (busy_) return;
  busy_ = true;
  if (!CloseIfTooManyErrors()) DrainPending();
  busy_ = false;
  Flush();
}

void SmtpServerSession::Shutdown() {
  if (phase_ == Phase::kClosed) return;
  Close(421, "4.3.2", "Service shutting down");
}

void SmtpServerSession::OnTimeout() {
  if (phase_ == Phase::kClosed) return;
  Close(421, "4.4.2", absl::StrCat(config_.hostname, " Error: timeout exceeded"));
}

// --- input dispatch ------------------------------------------------------------------------

void SmtpServerSession::BufferInput(std::string_view bytes) {
  const size_t cap = std::max(kMinPendingCap, 16 * config_.limits.max_command_line_bytes);
  if (pending_.size() + bytes.size() > cap) {
    Close(421, "4.7.0", "Error: too much pipelined input");
    return;
  }
  pending_.append(bytes);
}

void SmtpServerSession::DrainPending() {
  while (!pending_.empty() && phase_ != Phase::kClosed && phase_ != Phase::kGreeting &&
         phase_ != Phase::kAwaitingCommit && phase_ != Phase::kAwaitingAuth) {
    std::string local;
    local.swap(pending_);
    Process(local);
  }
}

void SmtpServerSession::Process(std::string_view in) {
  while (!in.empty()) {
    if (CloseIfTooManyErrors()) return;
    if (phase_ == Phase::kClosed) return;
    if (phase_ == Phase::kGreeting || phase_ == Phase::kAwaitingCommit ||
        phase_ == Phase::kAwaitingAuth) {
      // Keep the order: these bytes came before anything a re-entrant Feed queued.
      pending_.insert(0, in.data(), in.size());
      return;
    }
    if (awaiting_tls_) return;  // RFC 3207: plaintext after STARTTLS is an injection attempt
    const uint64_t restarts = tls_restarts_;
    size_t n;
    if (phase_ == Phase::kData) {
      n = ConsumeData(in);
    } else if (in_chunk_) {
      n = ConsumeChunk(in);
    } else {
      n = ConsumeCommandBytes(in);
    }
    if (tls_restarts_ != restarts) return;  // the rest of the buffer came before TLS
    in.remove_prefix(n);
  }
  CloseIfTooManyErrors();
}

// --- command lines -------------------------------------------------------------------------

size_t SmtpServerSession::ConsumeCommandBytes(std::string_view in) {
  // The limit counts the whole line with its CRLF; a partial line that cannot end within the
  // limit is refused at once, so the buffer never grows beyond it.
  const size_t max = config_.limits.max_command_line_bytes;
  const size_t lf = in.find('\n');
  if (lf == std::string_view::npos) {
    if (skipping_line_) return in.size();
    if (line_.size() + in.size() + 1 > max) {
      line_.append(in.substr(0, std::min(in.size(), size_t{5})));  // enough to see "AUTH "
      skipping_line_ = true;
      ++commands_;
      RefuseOverlongLine();
      return in.size();
    }
    line_.append(in);
    return in.size();
  }
  const size_t n = lf + 1;
  if (skipping_line_) {
    skipping_line_ = false;
    return n;
  }
  if (line_.size() + n > max) {
    line_.append(in.substr(0, std::min(n, size_t{5})));
    ++commands_;
    RefuseOverlongLine();
    return n;
  }
  // Bare LF ends a command line too (many clients); CR LF is the norm.
  std::string joined;
  std::string_view line;
  if (line_.empty()) {
    line = in.substr(0, lf);
  } else {
    line_.append(in.substr(0, lf));
    joined.swap(line_);
    line = joined;
  }
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  HandleLine(line);
  return n;
}

void SmtpServerSession::RefuseOverlongLine() {
  // RFC 4954 section 4: an overlong AUTH command or response line gets 500 5.5.6, and an
  // exchange in progress ends with it.
  const bool auth = auth_step_ != AuthStep::kNone || StartsWithNoCase(line_, "AUTH ");
  line_.clear();
  if (auth) {
    CancelAuth(500, "5.5.6", "Authentication Exchange line is too long");
  } else {
    Reply(500, "5.5.2", "Error: line too long");
  }
}

void SmtpServerSession::HandleLine(std::string_view line) {
  ++commands_;
  if (commands_ > config_.limits.max_commands) {
    Close(421, "4.7.0", "Error: too many commands");
    return;
  }
  if (auth_step_ != AuthStep::kNone) {
    HandleAuthResponse(line);
    return;
  }
  if (line.find_first_of(std::string_view("\r\0", 2)) != std::string_view::npos) {
    Reply(500, "5.5.2", "Error: bad characters in command line");
    return;
  }
  const SmtpCommandLine cmd = ParseCommandLine(line);
  switch (cmd.verb) {
    case SmtpVerb::kEhlo:
      DoHelo(cmd.arg, true);
      break;
    case SmtpVerb::kHelo:
      DoHelo(cmd.arg, false);
      break;
    case SmtpVerb::kMail:
      DoMail(cmd.arg);
      break;
    case SmtpVerb::kRcpt:
      DoRcpt(cmd.arg);
      break;
    case SmtpVerb::kData:
      DoData(cmd.arg);
      break;
    case SmtpVerb::kBdat:
      DoBdat(cmd.arg);
      break;
    case SmtpVerb::kRset:
      ResetTransaction();
      Reply(250, "2.0.0", "Ok");
      break;
    case SmtpVerb::kNoop:
      Reply(250, "2.0.0", "Ok");
      break;
    case SmtpVerb::kQuit:
      Close(221, "2.0.0", "Bye");
      break;
    case SmtpVerb::kVrfy:
      Reply(252, "2.5.2", "Cannot VRFY user, but will accept message and attempt delivery");
      break;
    case SmtpVerb::kHelp:
      Reply(214, "2.0.0",
            "Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS AUTH");
      break;
    case SmtpVerb::kStartTls:
      DoStartTls(cmd.arg);
      break;
    case SmtpVerb::kAuth:
      DoAuth(cmd.arg);
      break;
    case SmtpVerb::kUnknown:
      Reply(500, "5.5.2", "Error: command not recognized");
      break;
  }
}

void SmtpServerSession::DoHelo(std::string_view arg, bool esmtp) {
  if (arg.empty()) {
    Reply(501, "5.5.4", esmtp ? "Syntax: EHLO hostname" : "Syntax: HELO hostname");
    return;
  }
  ResetTransaction();
  have_helo_ = true;
  env_.helo = std::string(arg);
  env_.esmtp = esmtp;
  if (!esmtp) {
    Reply(250, "", config_.hostname);
    return;
  }
  // RFC 2034: no enhanced codes in the EHLO response.
  absl::StrAppend(&out_, "250-", config_.hostname, "\r\n", "250-PIPELINING\r\n", "250-SIZE ",
                  config_.limits.max_message_bytes, "\r\n",
                  "250-8BITMIME\r\n250-SMTPUTF8\r\n250-ENHANCEDSTATUSCODES\r\n");
  if (config_.starttls_available && !env_.tls) out_ += "250-STARTTLS\r\n";
  // RFC 4954 section 4: no plaintext mechanisms outside TLS, so nothing to offer there.
  if (config_.auth_available && env_.tls) out_ += "250-AUTH PLAIN LOGIN\r\n";
  out_ += "250-DSN\r\n250 CHUNKING\r\n";
}

void SmtpServerSession::DoMail(std::string_view arg) {
  if (!have_helo_) {
    Reply(503, "5.5.1", "Error: send HELO/EHLO first");
    return;
  }
  if (have_mail_) {
    Reply(503, "5.5.1", "Error: nested MAIL command");
    return;
  }
  if (config_.auth_required && env_.auth_user.empty()) {
    Reply(530, "5.7.0", "Authentication required");
    return;
  }
  std::optional<std::string_view> rest = StripKeyword(arg, "FROM:");
  if (!rest) {
    Reply(501, "5.5.4", "Syntax: MAIL FROM:<address>");
    return;
  }
  // Parsed as UTF-8 first: whether non-ASCII is allowed depends on a parameter after the path.
  absl::StatusOr<SmtpPath> path = ParseSmtpPath(*rest, /*allow_null=*/true, /*utf8=*/true);
  if (!path.ok()) {
    Reply(501, "5.1.7", absl::StrCat("Bad sender address syntax: ", path.status().message()));
    return;
  }
  std::optional<std::vector<EsmtpParam>> params = ParseEsmtpParams(path->params);
  if (!params) {
    Reply(501, "5.5.4", "Syntax error in MAIL parameters");
    return;
  }
  if (!params->empty() && !env_.esmtp) {
    Reply(555, "5.5.4", "MAIL parameters require EHLO");
    return;
  }
  SmtpEnvelope e;
  bool seen_size = false, seen_body = false, seen_utf8 = false, seen_ret = false,
       seen_envid = false, seen_auth = false;
  for (const EsmtpParam& p : *params) {
    auto dup = [&](bool& seen) {
      if (seen) return true;
      seen = true;
      return false;
    };
    if (p.keyword == "SIZE") {
      std::optional<uint64_t> size = p.has_value ? ParseDecimal(p.value) : std::nullopt;
      if (dup(seen_size) || !size) {
        Reply(501, "5.5.4", "Bad SIZE parameter");
        return;
      }
      if (*size > config_.limits.max_message_bytes) {
        Reply(552, "5.3.4", "Message size exceeds fixed maximum message size");
        return;
      }
      e.declared_size = *size;
    } else if (p.keyword == "BODY") {
      std::string v = ToUpperAscii(p.value);
      if (dup(seen_body) || (v != "7BIT" && v != "8BITMIME")) {
        Reply(501, "5.5.4", "Bad BODY parameter");
        return;
      }
      e.body = std::move(v);
    } else if (p.keyword == "SMTPUTF8") {
      if (dup(seen_utf8) || p.has_value) {
        Reply(501, "5.5.4", "Bad SMTPUTF8 parameter");
        return;
      }
      e.smtputf8 = true;
    } else if (p.keyword == "RET") {
      std::string v = ToUpperAscii(p.value);
      if (dup(seen_ret) || (v != "FULL" && v != "HDRS")) {
        Reply(501, "5.5.4", "Bad RET parameter");
        return;
      }
      e.ret = std::move(v);
    } else if (p.keyword == "ENVID") {
      std::optional<std::string> envid = p.has_value ? DecodeXtext(p.value) : std::nullopt;
      // RFC 3461 4.4: at most 100 characters.
      if (dup(seen_envid) || !envid || p.value.size() > 100) {
        Reply(501, "5.5.4", "Bad ENVID parameter");
        return;
      }
      e.envid = std::move(*envid);
    } else if (p.keyword == "AUTH" && config_.auth_available) {
      // RFC 4954 section 5: the identity a relaying server vouches for. kensa trusts only
      // its own AUTH, so the value is checked for syntax and otherwise ignored.
      if (dup(seen_auth) || !p.has_value || !DecodeXtext(p.value)) {
        Reply(501, "5.5.4", "Bad AUTH parameter");
        return;
      }
    } else {
      Reply(555, "5.5.4", absl::StrCat("Unsupported parameter ", p.keyword));
      return;
    }
  }
  if (!e.smtputf8 && HasNonAscii(path->address)) {
    Reply(553, "5.6.7", "Non-ASCII address requires SMTPUTF8");
    return;
  }
  if (!env_.auth_user.empty()) {
    SmtpEnvelope probe = env_;
    probe.sender = path->address;
    if (std::optional<SmtpReply> refusal = host_->CheckSender(probe)) {
      Reply(*refusal);
      return;
    }
  }
  have_mail_ = true;
  env_.sender = std::move(path->address);
  env_.ret = std::move(e.ret);
  env_.envid = std::move(e.envid);
  env_.body = std::move(e.body);
  env_.smtputf8 = e.smtputf8;
  env_.declared_size = e.declared_size;
  env_.recipients.clear();
  Reply(250, "2.1.0", "Ok");
}

void SmtpServerSession::DoRcpt(std::string_view arg) {
  if (!have_mail_) {
    Reply(503, "5.5.1", "Error: need MAIL command");
    return;
  }
  if (bdat_txn_) {
    Reply(503, "5.5.1", "Error: RCPT not allowed after BDAT");
    return;
  }
  std::optional<std::string_view> rest = StripKeyword(arg, "TO:");
  if (!rest) {
    Reply(501, "5.5.4", "Syntax: RCPT TO:<address>");
    return;
  }
  absl::StatusOr<SmtpPath> path = ParseSmtpPath(*rest, /*allow_null=*/false, /*utf8=*/true);
  if (!path.ok()) {
    Reply(501, "5.1.3", absl::StrCat("Bad recipient address syntax: ", path.status().message()));
    return;
  }
  if (!env_.smtputf8 && HasNonAscii(path->address)) {
    Reply(553, "5.6.7", "Non-ASCII address requires SMTPUTF8");
    return;
  }
  std::optional<std::vector<EsmtpParam>> params = ParseEsmtpParams(path->params);
  if (!params) {
    Reply(501, "5.5.4", "Syntax error in RCPT parameters");
    return;
  }
  if (!params->empty() && !env_.esmtp) {
    Reply(555, "5.5.4", "RCPT parameters require EHLO");
    return;
  }
  SmtpRecipient rcpt;
  rcpt.address = std::move(path->address);
  bool seen_notify = false, seen_orcpt = false;
  for (const EsmtpParam& p : *params) {
    if (p.keyword == "NOTIFY") {
      // RFC 3461 4.1: NEVER alone, or a list of SUCCESS, FAILURE, DELAY without repeats.
      bool ok = p.has_value && !seen_notify;
      seen_notify = true;
      std::string v = ToUpperAscii(p.value);
      if (ok && v != "NEVER") {
        bool s = false, f = false, d = false;
        for (absl::string_view item : absl::StrSplit(v, ',')) {
          bool* flag = item == "SUCCESS" ? &s : item == "FAILURE" ? &f : item == "DELAY" ? &d
                                                                                        : nullptr;
          if (flag == nullptr || *flag) {
            ok = false;
            break;
          }
          *flag = true;
        }
      }
      if (!ok) {
        Reply(501, "5.5.4", "Bad NOTIFY parameter");
        return;
      }
      rcpt.notify = std::move(v);
    } else if (p.keyword == "ORCPT") {
      // addr-type ";" xtext (RFC 3461 4.2); kept as given for the DSN.
      size_t semi = p.value.find(';');
      bool ok = p.has_value && !seen_orcpt && semi != std::string_view::npos && semi > 0 &&
                semi + 1 < p.value.size();
      seen_orcpt = true;
      if (ok) {
        for (char c : p.value.substr(0, semi)) {
          if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-') ok = false;
        }
        std::string_view type = p.value.substr(0, semi);
        if (ok && EqualsNoCase(type, "rfc822") &&
            !DecodeXtext(p.value.substr(semi + 1))) {
          ok = false;
        }
      }
      if (!ok) {
        Reply(501, "5.5.4", "Bad ORCPT parameter");
        return;
      }
      rcpt.orcpt = std::string(p.value);
    } else {
      Reply(555, "5.5.4", absl::StrCat("Unsupported parameter ", p.keyword));
      return;
    }
  }
  if (env_.recipients.size() >= config_.limits.max_recipients) {
    Reply(452, "4.5.3", "Error: too many recipients");
    return;
  }
  std::optional<SmtpReply> refusal = host_->CheckRecipient(env_, rcpt);
  if (refusal) {
    Reply(*refusal);
    return;
  }
  env_.recipients.push_back(std::move(rcpt));
  Reply(250, "2.1.5", "Ok");
}

SmtpReply SmtpServerSession::LongLineReply() const {
  return SmtpReply{554, "5.6.0",
                   absl::StrCat("Message contains a line longer than ",
                                config_.limits.max_data_line_bytes, " bytes")};
}

SmtpReply SmtpServerSession::EmptyMessageReply() const {
  return SmtpReply{554, "5.6.0", "Message is empty"};
}

SmtpReply SmtpServerSession::BeginFailureReply(const absl::Status& status) const {
  if (status.code() == absl::StatusCode::kResourceExhausted) {
    return SmtpReply{452, "4.3.1", "Insufficient system storage"};
  }
  return SmtpReply{451, "4.3.0", "Local error in processing"};
}

void SmtpServerSession::DoData(std::string_view arg) {
  if (!arg.empty()) {
    Reply(501, "5.5.4", "Syntax: DATA");
    return;
  }
  if (!have_mail_) {
    Reply(503, "5.5.1", "Error: need MAIL command");
    return;
  }
  if (bdat_txn_) {
    Reply(503, "5.5.1", "Error: DATA not allowed after BDAT");
    return;
  }
  if (env_.recipients.empty()) {
    Reply(554, "5.5.1", "Error: no valid recipients");
    return;
  }
  absl::Status s = host_->BeginMessage(env_);
  if (!s.ok()) {
    Reply(BeginFailureReply(s));
    return;
  }
  message_open_ = true;
  phase_ = Phase::kData;
  data_state_ = DataState::kLineStart;
  data_bare_ = false;
  data_oversize_ = false;
  data_long_line_ = false;
  data_line_bytes_ = 0;
  message_bytes_ = 0;
  Reply(354, "", "End data with <CR><LF>.<CR><LF>");
  Flush();
}

void SmtpServerSession::DoBdat(std::string_view arg) {
  std::vector<std::string_view> words;
  for (std::string_view rest = TrimSpaces(arg); !rest.empty(); rest = TrimSpaces(rest)) {
    size_t end = rest.find_first_of(" \t");
    words.push_back(rest.substr(0, end));
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  }
  std::optional<uint64_t> size = words.empty() ? std::nullopt : ParseDecimal(words[0]);
  const bool last = words.size() == 2 && EqualsNoCase(words[1], "LAST");
  if (!size || words.size() > 2 || (words.size() == 2 && !last)) {
    // The chunk length is unknown, so the bytes that follow cannot be skipped: they are read
    // as commands (and mostly refused).
    Reply(501, "5.5.4", "Syntax: BDAT <size> [LAST]");
    return;
  }
  chunk_size_ = *size;
  chunk_left_ = *size;
  chunk_last_ = last;
  chunk_error_.reset();
  // Whatever is wrong, exactly <size> bytes follow and are consumed (RFC 3030 4.1).
  if (!have_mail_) {
    chunk_error_ = SmtpReply{503, "5.5.1", "Error: need MAIL command"};
  } else if (env_.recipients.empty()) {
    chunk_error_ = SmtpReply{554, "5.5.1", "Error: no valid recipients"};
  } else if (bdat_error_) {
    chunk_error_ = bdat_error_;
  } else if (!bdat_txn_) {
    bdat_txn_ = true;
    message_bytes_ = 0;
    data_long_line_ = false;
    data_line_bytes_ = 0;
    absl::Status s = host_->BeginMessage(env_);
    if (s.ok()) {
      message_open_ = true;
    } else {
      bdat_error_ = BeginFailureReply(s);
      chunk_error_ = bdat_error_;
    }
  }
  in_chunk_ = true;
  phase_ = Phase::kBdat;
  if (chunk_left_ == 0) FinishChunk();
}

void SmtpServerSession::DoStartTls(std::string_view arg) {
  if (!config_.starttls_available) {
    Reply(502, "5.5.1", "Error: STARTTLS not available");
    return;
  }
  if (env_.tls) {
    Reply(503, "5.5.1", "Error: TLS already active");
    return;
  }
  if (!arg.empty()) {
    Reply(501, "5.5.4", "Syntax: STARTTLS");
    return;
  }
  if (have_mail_) {
    Reply(503, "5.5.1", "Error: MAIL transaction in progress");
    return;
  }
  Reply(220, "2.0.0", "Ready to start TLS");
  // The 220 must leave in plaintext, before the host switches the stream to TLS.
  Flush();
  // RFC 3207 4.2: forget everything learnt before TLS; the client must EHLO again.
  ResetTransaction();
  have_helo_ = false;
  env_ = SmtpEnvelope{};
  awaiting_tls_ = true;
  ++tls_restarts_;
  line_.clear();
  skipping_line_ = false;
  pending_.clear();
  host_->StartTls();
}

// --- AUTH (RFC 4954) -------------------------------------------------------------------------

void SmtpServerSession::DoAuth(std::string_view arg) {
  if (!config_.auth_available) {
    Reply(502, "5.5.1", "Error: authentication not enabled");
    return;
  }
  if (!have_helo_ || !env_.esmtp) {
    Reply(503, "5.5.1", "Error: send EHLO first");
    return;
  }
  if (!env_.auth_user.empty()) {
    Reply(503, "5.5.1", "Error: already authenticated");
    return;
  }
  if (have_mail_) {
    Reply(503, "5.5.1", "Error: MAIL transaction in progress");
    return;
  }
  if (!env_.tls) {
    Reply(538, "5.7.11", "Encryption required for requested authentication mechanism");
    return;
  }
  std::string_view mech = arg;
  std::string_view initial;
  bool has_initial = false;
  if (size_t sp = arg.find_first_of(" \t"); sp != std::string_view::npos) {
    mech = arg.substr(0, sp);
    initial = TrimSpaces(arg.substr(sp));
    has_initial = true;
    if (initial.find_first_of(" \t") != std::string_view::npos) {
      Reply(501, "5.5.4", "Syntax: AUTH mechanism [initial-response]");
      return;
    }
  }
  if (mech.empty()) {
    Reply(501, "5.5.4", "Syntax: AUTH mechanism [initial-response]");
    return;
  }
  auth_request_ = SmtpAuthRequest{};
  if (EqualsNoCase(mech, "PLAIN")) {
    auth_request_.mechanism = "PLAIN";
    auth_step_ = AuthStep::kPlain;
    if (!has_initial) {
      Reply(334, "", "");
      return;
    }
  } else if (EqualsNoCase(mech, "LOGIN")) {
    auth_request_.mechanism = "LOGIN";
    auth_step_ = AuthStep::kLoginUser;
    if (!has_initial) {
      Reply(334, "", "VXNlcm5hbWU6");  // "Username:"
      return;
    }
  } else {
    Reply(504, "5.5.4", "Unrecognized authentication type");
    return;
  }
  if (initial == "*") {  // not a base64 string: a cancel, as on a response line
    CancelAuth(501, "5.7.0", "Authentication cancelled");
    return;
  }
  // "=" is an empty initial response (RFC 4954 section 4).
  HandleAuthResponse(initial == "=" ? std::string_view() : initial);
}

void SmtpServerSession::HandleAuthResponse(std::string_view line) {
  if (line == "*") {
    CancelAuth(501, "5.7.0", "Authentication cancelled");
    return;
  }
  std::optional<std::string> decoded = DecodeSaslBase64(line);
  if (!decoded) {
    CancelAuth(501, "5.5.2", "Cannot decode response");
    return;
  }
  OnAuthMessage(*decoded);
}

void SmtpServerSession::OnAuthMessage(std::string_view decoded) {
  switch (auth_step_) {
    case AuthStep::kPlain: {
      std::optional<SaslPlain> plain = ParseSaslPlain(decoded);
      if (!plain) {
        CancelAuth(501, "5.5.2", "Invalid PLAIN response");
        return;
      }
      auth_request_.authzid = std::move(plain->authzid);
      auth_request_.user = std::move(plain->user);
      auth_request_.password = std::move(plain->password);
      SubmitAuth();
      return;
    }
    case AuthStep::kLoginUser:
      if (decoded.empty() || decoded.find('\0') != std::string_view::npos) {
        CancelAuth(501, "5.5.2", "Invalid user name");
        return;
      }
      auth_request_.user = std::string(decoded);
      auth_step_ = AuthStep::kLoginPassword;
      Reply(334, "", "UGFzc3dvcmQ6");  // "Password:"
      return;
    case AuthStep::kLoginPassword:
      if (decoded.empty() || decoded.find('\0') != std::string_view::npos) {
        CancelAuth(501, "5.5.2", "Invalid password");
        return;
      }
      auth_request_.password = std::string(decoded);
      SubmitAuth();
      return;
    case AuthStep::kNone:
      return;
  }
}

void SmtpServerSession::SubmitAuth() {
  auth_step_ = AuthStep::kNone;
  phase_ = Phase::kAwaitingAuth;
  SmtpAuthRequest request = std::move(auth_request_);
  auth_request_ = SmtpAuthRequest{};
  // The host may answer at once (CompleteAuth from inside this call) or later.
  host_->Authenticate(request);
}

void SmtpServerSession::CancelAuth(int code, std::string_view enhanced, std::string_view text) {
  auth_step_ = AuthStep::kNone;
  auth_request_ = SmtpAuthRequest{};
  Reply(code, enhanced, text);
}

void SmtpServerSession::CompleteAuth(SmtpAuthResult result, std::string user) {
  if (phase_ != Phase::kAwaitingAuth) return;
  phase_ = Phase::kCommand;
  switch (result) {
    case SmtpAuthResult::kOk:
      env_.auth_user = std::move(user);
      Reply(235, "2.7.0", "Authentication successful");
      break;
    case SmtpAuthResult::kFailed:
      Reply(535, "5.7.8", "Error: authentication failed");
      ++auth_failures_;
      break;
    case SmtpAuthResult::kTempFail:
      Reply(454, "4.7.0", "Temporary authentication failure");
      ++auth_failures_;
      break;
  }
  if (auth_failures_ >= config_.limits.max_auth_failures) {
    Close(421, "4.7.0", "Error: too many failed authentications");
    return;
  }
  if (busy_) return;  // answered from inside Authenticate(): the Process loop goes on
  busy_ = true;
  if (!CloseIfTooManyErrors()) DrainPending();
  busy_ = false;
  Flush();
}

void SmtpServerSession::ResetTransaction() {
  if (message_open_) {
    message_open_ = false;
    host_->AbortMessage();
  }
  have_mail_ = false;
  env_.sender.clear();
  env_.ret.clear();
  env_.envid.clear();
  env_.body.clear();
  env_.smtputf8 = false;
  env_.declared_size = 0;
  env_.recipients.clear();
  bdat_txn_ = false;
  bdat_error_.reset();
  if (phase_ == Phase::kBdat && !in_chunk_) phase_ = Phase::kCommand;
}

// --- DATA ----------------------------------------------------------------------------------

size_t SmtpServerSession::ConsumeData(std::string_view in) {
  const char* const base = in.data();
  const size_t size = in.size();
  size_t i = 0;
  size_t span = 0;  // first byte not yet passed on (or copied to data_scratch_)
  bool ended = false;
  data_scratch_.clear();
  auto keep = [&](size_t upto) { data_scratch_.append(base + span, upto - span); };
  while (i < size && !ended) {
    switch (data_state_) {
      case DataState::kLineStart:
        if (base[i] == '.') {
          keep(i);  // dot-unstuffing: a leading dot is never data
          span = ++i;
          ++data_line_bytes_;
          data_state_ = DataState::kDot;
        } else {
          data_state_ = DataState::kMid;
        }
        break;
      case DataState::kDot:
        if (base[i] == '\r') {
          keep(i);  // held back: the end marker's CR, or a bare CR
          span = ++i;
          ++data_line_bytes_;
          data_state_ = DataState::kDotCr;
        } else {
          data_state_ = DataState::kMid;
        }
        break;
      case DataState::kDotCr:
        if (base[i] == '\n') {
          span = ++i;
          ended = true;
        } else {
          // ".\r" then something else: the CR was a bare CR and part of the data.
          data_bare_ = true;
          keep(i);
          data_scratch_.push_back('\r');
          span = i;
          data_state_ = DataState::kMid;
        }
        break;
      case DataState::kCr:
        if (base[i] == '\n') {
          ++i;
          EndDataLine(1);
          data_state_ = DataState::kLineStart;
        } else {
          data_bare_ = true;
          data_state_ = DataState::kMid;
        }
        break;
      case DataState::kMid: {
        // The hot path: one memchr for the line end, one for stray CRs inside the line.
        const void* lf = std::memchr(base + i, '\n', size - i);
        const size_t e = lf != nullptr ? static_cast<size_t>(static_cast<const char*>(lf) - base)
                                       : size;
        if (e > i + 1 && std::memchr(base + i, '\r', e - 1 - i) != nullptr) data_bare_ = true;
        const bool cr_before = e > i && base[e - 1] == '\r';
        if (lf == nullptr) {
          data_state_ = cr_before ? DataState::kCr : DataState::kMid;
          // Checked before the line ends too: an endless line is refused as it arrives.
          data_line_bytes_ += e - i;
          if (data_line_bytes_ > config_.limits.max_data_line_bytes) data_long_line_ = true;
          i = e;
        } else {
          EndDataLine(e + 1 - i);
          if (cr_before) {
            data_state_ = DataState::kLineStart;
          } else {
            data_bare_ = true;  // bare LF: not a line end for the end-of-data rule
          }
          i = e + 1;
        }
        break;
      }
    }
  }
  const size_t upto = ended ? span : i;
  if (data_scratch_.empty()) {
    EmitData(std::string_view(base + span, upto - span));
  } else {
    keep(upto);
    EmitData(data_scratch_);
  }
  // Large Feeds must not leave a large scratch buffer behind in every idle session.
  if (data_scratch_.capacity() > (64u << 10)) std::string().swap(data_scratch_);
  if (ended) FinishData();
  return i;
}

void SmtpServerSession::EndDataLine(uint64_t tail_bytes) {
  data_line_bytes_ += tail_bytes;
  if (data_line_bytes_ > config_.limits.max_data_line_bytes) data_long_line_ = true;
  data_line_bytes_ = 0;
}

void SmtpServerSession::CountChunkLines(std::string_view bytes) {
  while (!bytes.empty()) {
    const void* lf = std::memchr(bytes.data(), '\n', bytes.size());
    if (lf == nullptr) {
      data_line_bytes_ += bytes.size();
      if (data_line_bytes_ > config_.limits.max_data_line_bytes) data_long_line_ = true;
      return;
    }
    const size_t n = static_cast<size_t>(static_cast<const char*>(lf) - bytes.data()) + 1;
    EndDataLine(n);
    bytes.remove_prefix(n);
  }
}

void SmtpServerSession::EmitData(std::string_view bytes) {
  if (bytes.empty()) return;
  message_bytes_ += bytes.size();
  if (message_bytes_ > config_.limits.max_message_bytes) data_oversize_ = true;
  // A doomed message is still read to its end, but the host does not need its bytes.
  const bool doomed = data_oversize_ || data_long_line_ ||
                      (data_bare_ && config_.reject_bare_line_endings);
  if (!doomed && message_open_) host_->MessageData(bytes);
}

void SmtpServerSession::FinishData() {
  if (data_bare_ && config_.reject_bare_line_endings) {
    ResetTransaction();  // aborts the message
    phase_ = Phase::kCommand;
    Reply(550, "5.5.2", "Message contains bare <LF> or <CR> (SMTP smuggling protection)");
    return;
  }
  if (data_oversize_) {
    ResetTransaction();
    phase_ = Phase::kCommand;
    Reply(552, "5.3.4", "Message size exceeds fixed maximum message size");
    return;
  }
  if (data_long_line_) {
    ResetTransaction();
    phase_ = Phase::kCommand;
    Reply(LongLineReply());
    return;
  }
  if (message_bytes_ == 0) {
    ResetTransaction();
    phase_ = Phase::kCommand;
    Reply(EmptyMessageReply());
    return;
  }
  message_open_ = false;
  phase_ = Phase::kAwaitingCommit;
  host_->EndMessage();  // may call CompleteMessage() right away
}

// --- BDAT ----------------------------------------------------------------------------------

size_t SmtpServerSession::ConsumeChunk(std::string_view in) {
  const size_t take = static_cast<size_t>(std::min<uint64_t>(chunk_left_, in.size()));
  if (!chunk_error_ && message_open_) {
    if (message_bytes_ + take > config_.limits.max_message_bytes) {
      bdat_error_ = SmtpReply{552, "5.3.4", "Message size exceeds fixed maximum message size"};
      chunk_error_ = bdat_error_;
    } else {
      message_bytes_ += take;
      CountChunkLines(in.substr(0, take));
      if (data_long_line_) {
        // Sticky, like the size: the rest of the transaction is consumed and refused.
        bdat_error_ = LongLineReply();
        chunk_error_ = bdat_error_;
      } else {
        host_->MessageData(in.substr(0, take));
      }
    }
  }
  chunk_left_ -= take;
  if (chunk_left_ == 0) FinishChunk();
  return take;
}

void SmtpServerSession::FinishChunk() {
  in_chunk_ = false;
  if (chunk_error_) {
    if (bdat_error_ && message_open_) {
      message_open_ = false;
      host_->AbortMessage();
    }
    const SmtpReply reply = *chunk_error_;
    chunk_error_.reset();
    if (chunk_last_ && bdat_txn_) ResetTransaction();  // LAST ends even a failed transaction
    phase_ = bdat_txn_ ? Phase::kBdat : Phase::kCommand;
    Reply(reply);
    return;
  }
  if (chunk_last_ && message_bytes_ == 0) {
    // "BDAT 0 LAST" with nothing before it: an empty message (no header fields) is no message.
    ResetTransaction();
    phase_ = Phase::kCommand;
    Reply(EmptyMessageReply());
    return;
  }
  if (chunk_last_) {
    message_open_ = false;
    phase_ = Phase::kAwaitingCommit;
    host_->EndMessage();  // the reply is CompleteMessage()'s
    return;
  }
  phase_ = Phase::kBdat;
  Reply(250, "2.0.0", absl::StrCat(chunk_size_, " octets received"));
}

// --- output --------------------------------------------------------------------------------

void SmtpServerSession::Reply(int code, std::string_view enhanced, std::string_view text) {
  if (code >= 400) ++errors_;
  const size_t start = out_.size();
  absl::StrAppend(&out_, code, " ");
  if (!enhanced.empty()) out_.append(enhanced).append(" ");
  out_.append(text);
  // Host-supplied text (CheckRecipient) must not be able to break the reply framing.
  std::replace_if(out_.begin() + static_cast<std::ptrdiff_t>(start), out_.end(),
                  [](char c) { return c == '\r' || c == '\n'; }, ' ');
  out_ += "\r\n";
}

void SmtpServerSession::Flush() {
  if (out_.empty()) return;
  std::string bytes;
  bytes.swap(out_);  // SendToClient may re-enter (e.g. Shutdown); out_ must be free by then
  host_->SendToClient(bytes);
}

void SmtpServerSession::Close(int code, std::string_view enhanced, std::string_view text) {
  if (phase_ == Phase::kClosed) return;
  if (message_open_) {
    message_open_ = false;
    host_->AbortMessage();
  }
  const uint64_t errors = errors_;
  Reply(code, enhanced, text);
  errors_ = errors;  // the closing reply is not itself an error to count
  phase_ = Phase::kClosed;
  in_chunk_ = false;
  line_.clear();
  pending_.clear();
  Flush();
  host_->CloseConnection();
}

bool SmtpServerSession::CloseIfTooManyErrors() {
  if (phase_ == Phase::kClosed) return true;
  if (errors_ < config_.limits.max_errors) return false;
  Close(421, "4.7.0", "Error: too many errors");
  return true;
}

}  // namespace kensa::net
