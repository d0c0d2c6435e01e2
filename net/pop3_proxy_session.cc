// SPDX-License-Identifier: GPL-2.0-or-later
// The POP3 proxy's state machine: client lines are processed one command at a time (the next
// waits until the backend's whole answer went back), backend bytes are read as status lines
// or as multi-line bodies found with the dot decoder.
#include "net/pop3_proxy_session.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "net/sasl.h"

namespace kensa::net {
namespace {

// Client input that may wait behind a command in flight (pipelining), beyond one line.
constexpr size_t kMaxPendingClientBytes = 64 * 1024;
// UIDLs remembered per session (a mailbox with more only misses the verdict cache).
constexpr size_t kMaxUids = 1000000;

bool IsOk(std::string_view line) { return line.substr(0, 3) == "+OK"; }

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = absl::ascii_toupper(static_cast<unsigned char>(c));
  return out;
}

// Message numbers and line counts: 1 to 10 digits, nothing else (so nothing else reaches the
// backend on a command line).
bool IsNumber(std::string_view s) {
  if (s.empty() || s.size() > 10) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The message number a RETR/TOP/DELE argument names: "007" and "7" are the same message, and
// UIDL and LIST list "7". The argument was checked with IsNumber.
std::string_view MessageNumber(std::string_view arg) {
  while (!arg.empty() && arg.front() == ' ') arg.remove_prefix(1);
  arg = arg.substr(0, arg.find(' '));
  while (arg.size() > 1 && arg.front() == '0') arg.remove_prefix(1);
  return arg;
}

uint64_t NumberValue(std::string_view digits) {
  uint64_t n = 0;
  for (char c : digits) n = n * 10 + static_cast<uint64_t>(c - '0');
  return n;
}

size_t CountWords(std::string_view s) {
  size_t n = 0;
  bool in_word = false;
  for (char c : s) {
    const bool space = c == ' ';
    if (!space && !in_word) ++n;
    in_word = !space;
  }
  return n;
}

}  // namespace

Pop3ProxySession::Pop3ProxySession(const Pop3ProxyConfig& config, Pop3ProxyHost* host)
    : config_(config), host_(host), client_tls_(config.implicit_tls) {}

void Pop3ProxySession::Start() {
  ReplyClient(absl::StrCat("+OK ", config_.hostname, " POP3 kensa ready"));
}

bool Pop3ProxySession::WantsClientInput() const {
  switch (phase_) {
    case Phase::kAuthorization:
      return true;  // also while awaiting TLS: the handshake must be read
    case Phase::kTransaction:
      // A command of the client's (or kensa's UIDL/LIST at the login) is in flight, or one
      // waits until the backend is free of a read-ahead.
      if (releasing_ || waiting_for_fetch_ || line_waits_) return false;
      return backend_ == Backend::kIdle || fetch_ != Fetch::kNone;
    case Phase::kRelay:
      return true;
    case Phase::kLoggingIn:
    case Phase::kClosed:
      return false;
  }
  return false;
}

// --- client side ---------------------------------------------------------------------------

void Pop3ProxySession::FeedClient(std::string_view bytes) {
  if (phase_ == Phase::kClosed || bytes.empty()) return;
  if (awaiting_client_tls_) return;  // RFC 2595: plaintext after STLS is an injection attempt
  if (phase_ == Phase::kRelay) {
    host_->SendToBackend(bytes);
    return;
  }
  if (client_in_.size() + bytes.size() > kMaxPendingClientBytes + config_.max_line_bytes) {
    Fail("-ERR Too much pipelined input");
    return;
  }
  client_in_.append(bytes);
  ProcessClient();
}

void Pop3ProxySession::OnClientTlsEstablished() {
  if (!awaiting_client_tls_ || phase_ == Phase::kClosed) return;
  awaiting_client_tls_ = false;
  client_tls_ = true;
  // RFC 2595 section 4: whatever was learnt before TLS is forgotten.
  user_.clear();
}

void Pop3ProxySession::ProcessClient() {
  if (busy_) return;
  busy_ = true;
  while (phase_ != Phase::kClosed && WantsClientInput() && phase_ != Phase::kRelay) {
    const size_t lf = client_in_.find('\n');
    if (lf == std::string::npos) {
      if (!skipping_line_ && client_in_.size() > config_.max_line_bytes) {
        skipping_line_ = true;
        ReplyClient("-ERR Line too long");
      }
      if (skipping_line_) client_in_.clear();
      break;
    }
    if (phase_ == Phase::kTransaction && backend_ != Backend::kIdle && !skipping_line_ &&
        !TakesReadAhead(std::string_view(client_in_).substr(0, lf))) {
      line_waits_ = true;  // the backend is reading ahead: the command goes when it is done
      break;
    }
    std::string line = client_in_.substr(0, lf);
    client_in_.erase(0, lf + 1);
    if (skipping_line_) {
      skipping_line_ = false;
      continue;
    }
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.size() + 2 > config_.max_line_bytes) {
      ReplyClient("-ERR Line too long");
      continue;
    }
    HandleClientLine(line);
  }
  busy_ = false;
}

void Pop3ProxySession::HandleClientLine(std::string_view line) {
  if (line.find_first_of(std::string_view("\r\0", 2)) != std::string_view::npos) {
    ReplyClient("-ERR Bad characters in command");
    return;
  }
  if (awaiting_auth_response_) {
    HandleAuthResponse(line);
    return;
  }
  const size_t sp = line.find(' ');
  const std::string verb = Upper(line.substr(0, sp));
  std::string_view arg = sp == std::string_view::npos ? std::string_view() : line.substr(sp + 1);
  if (phase_ == Phase::kAuthorization) {
    Authorization(verb, arg);
  } else {
    Transaction(verb, arg, line);
  }
}

void Pop3ProxySession::Authorization(std::string_view verb, std::string_view arg) {
  const bool auth_allowed = client_tls_ || config_.plaintext_auth;
  if (verb == "CAPA") {
    std::string capa = "+OK Capability list follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\n"
                       "AUTH-RESP-CODE\r\nPIPELINING\r\n";
    if (auth_allowed) capa += "USER\r\nSASL PLAIN\r\n";
    if (config_.stls_available && !client_tls_) capa += "STLS\r\n";
    capa += "IMPLEMENTATION kensa\r\n.\r\n";
    host_->SendToClient(capa);
  } else if (verb == "STLS") {
    if (!config_.stls_available || client_tls_) {
      ReplyClient(client_tls_ ? "-ERR Command not permitted when TLS active"
                              : "-ERR STLS not available");
      return;
    }
    ReplyClient("+OK Begin TLS negotiation");
    awaiting_client_tls_ = true;
    client_in_.clear();  // pipelined behind STLS: discarded
    host_->StartClientTls();
  } else if (verb == "USER" || verb == "PASS" || verb == "AUTH") {
    if (!auth_allowed) {
      ReplyClient("-ERR [AUTH] Plaintext authentication disallowed without TLS (use STLS)");
      return;
    }
    if (verb == "USER") {
      if (arg.empty()) {
        ReplyClient("-ERR Syntax: USER name");
        return;
      }
      user_ = std::string(arg);
      ReplyClient("+OK");
    } else if (verb == "PASS") {
      if (user_.empty()) {
        ReplyClient("-ERR USER first");
        return;
      }
      password_ = std::string(arg);
      auth_plain_.clear();
      BeginLogin();
    } else {
      const size_t sp = arg.find(' ');
      const std::string mech = Upper(arg.substr(0, sp));
      if (mech != "PLAIN") {
        ReplyClient("-ERR Unsupported authentication mechanism");
        return;
      }
      if (sp == std::string_view::npos) {
        host_->SendToClient("+ \r\n");
        awaiting_auth_response_ = true;
        return;
      }
      HandleAuthResponse(arg.substr(sp + 1));
    }
  } else if (verb == "QUIT") {
    ReplyClient(absl::StrCat("+OK ", config_.hostname, " POP3 kensa signing off"));
    Close();
  } else {
    ReplyClient("-ERR Unknown command or not logged in");
  }
}

void Pop3ProxySession::HandleAuthResponse(std::string_view line) {
  awaiting_auth_response_ = false;
  if (line == "*") {
    ReplyClient("-ERR Authentication cancelled");
    return;
  }
  std::optional<std::string> decoded = DecodeSaslBase64(line == "=" ? std::string_view() : line);
  std::optional<SaslPlain> plain;
  if (decoded) plain = ParseSaslPlain(*decoded);
  // The user may reach the backend on a USER line later (a PASS after a failed AUTH): it
  // must not be able to end that line.
  if (!plain || plain->user.find_first_of("\r\n") != std::string::npos ||
      plain->authzid.find_first_of("\r\n") != std::string::npos) {
    ReplyClient("-ERR Invalid AUTH PLAIN response");
    return;
  }
  // With an authorization identity (a Dovecot master user logging in for someone) the
  // mailbox, and so the subscription, is the authzid's.
  user_ = plain->authzid.empty() ? plain->user : plain->authzid;
  auth_plain_ = std::string(line);
  password_.clear();
  BeginLogin();
}

void Pop3ProxySession::BeginLogin() {
  phase_ = Phase::kLoggingIn;
  if (backend_connected_) {
    SendLogin();
    return;
  }
  backend_ = Backend::kGreeting;
  host_->ConnectBackend();
}

void Pop3ProxySession::SendLogin() {
  if (!auth_plain_.empty()) {
    host_->SendToBackend(absl::StrCat("AUTH PLAIN ", auth_plain_, "\r\n"));
    backend_ = Backend::kPass;
  } else {
    host_->SendToBackend(absl::StrCat("USER ", user_, "\r\n"));
    backend_ = Backend::kUser;
  }
}

void Pop3ProxySession::Transaction(std::string_view verb, std::string_view arg,
                                   std::string_view line) {
  (void)line;
  const size_t words = CountWords(arg);
  auto numbers_ok = [&](size_t min, size_t max) {
    if (words < min || words > max) return false;
    std::string_view rest = arg;
    while (!rest.empty()) {
      while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
      const size_t end = rest.find(' ');
      if (!IsNumber(rest.substr(0, end))) return false;
      rest = end == std::string_view::npos ? std::string_view() : rest.substr(end);
    }
    return true;
  };
  Backend expect;
  if (verb == "CAPA") {
    host_->SendToClient("+OK Capability list follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\n"
                        "AUTH-RESP-CODE\r\nPIPELINING\r\nIMPLEMENTATION kensa\r\n.\r\n");
    return;
  } else if (verb == "STAT" || verb == "RSET" || verb == "NOOP") {
    if (words != 0) {
      ReplyClient("-ERR Syntax: " + std::string(verb));
      return;
    }
    expect = Backend::kSingle;
  } else if (verb == "DELE") {
    if (!numbers_ok(1, 1)) {
      ReplyClient("-ERR Syntax: DELE msg");
      return;
    }
    expect = Backend::kSingle;
  } else if (verb == "LIST" || verb == "UIDL") {
    if (!numbers_ok(0, 1)) {
      ReplyClient("-ERR Syntax: " + std::string(verb) + " [msg]");
      return;
    }
    expect = words == 0 ? Backend::kMultiStatus : Backend::kSingle;
  } else if (verb == "RETR" || verb == "TOP") {
    if (!numbers_ok(verb == "RETR" ? 1 : 2, verb == "RETR" ? 1 : 2)) {
      ReplyClient(verb == "RETR" ? "-ERR Syntax: RETR msg" : "-ERR Syntax: TOP msg lines");
      return;
    }
    expect = Backend::kScanStatus;
  } else if (verb == "QUIT") {
    if (words != 0) {
      ReplyClient("-ERR Syntax: QUIT");
      return;
    }
    expect = Backend::kQuit;
  } else if (verb == "USER" || verb == "PASS" || verb == "AUTH" || verb == "STLS" ||
             verb == "APOP") {
    ReplyClient("-ERR Command not valid in this state");
    return;
  } else {
    ReplyClient("-ERR Unknown command");
    return;
  }
  const std::string_view number = words != 0 ? MessageNumber(arg) : std::string_view();
  const uint64_t n = NumberValue(number);
  if (verb == "TOP") walking_ = false;
  if (verb == "RETR") {
    walking_ = n == 1 || (last_retr_ != 0 && n == last_retr_ + 1);
    last_retr_ = n;
    if (!kept_.empty() && n == kept_.front().number) {
      ReleaseReadAhead();
      return;
    }
    if (kept_.empty() && fetch_ == Fetch::kFetching && n == fetch_number_) {
      waiting_for_fetch_ = true;  // answered when its copy is kept (FinishFetch)
      return;
    }
  }
  // Anything else finds the backend free (ProcessClient); a retrieval off the walk, or a
  // change to what was read ahead, leaves nothing read ahead.
  if (!kept_.empty() &&
      (verb == "RETR" || verb == "TOP" || verb == "QUIT" ||
       (verb == "DELE" && n >= kept_.front().number && n <= kept_.back().number))) {
    DropReadAheads();
  }
  std::string command(verb);
  if (words != 0) command += " " + std::string(arg);
  SendCommand(std::move(command), expect, number);
}

void Pop3ProxySession::ExpectAnswer(std::string command, Backend expect,
                                    std::string_view number) {
  command_ = std::move(command);
  command_uid_.clear();
  if (expect == Backend::kScanStatus) {
    auto it = uids_.find(std::string(number));
    if (it != uids_.end()) command_uid_ = it->second;
  }
  backend_ = expect;
}

void Pop3ProxySession::SendCommand(std::string command, Backend expect,
                                   std::string_view number) {
  ExpectAnswer(std::move(command), expect, number);
  host_->SendToBackend(absl::StrCat(command_, "\r\n"));
}

// --- backend side --------------------------------------------------------------------------

void Pop3ProxySession::OnBackendConnected() {
  if (phase_ != Phase::kLoggingIn) return;
  backend_connected_ = true;
  backend_ = Backend::kGreeting;
  ProcessBackend();
}

void Pop3ProxySession::OnBackendFailed(std::string_view why) {
  (void)why;  // the host logs it
  backend_connected_ = false;
  backend_in_.clear();
  if (phase_ == Phase::kLoggingIn) {
    phase_ = Phase::kAuthorization;
    backend_ = Backend::kIdle;
    password_.clear();
    ReplyClient("-ERR [SYS/TEMP] Mail server unavailable, try again later");
    ProcessClient();
    return;
  }
  OnBackendClosed();
}

void Pop3ProxySession::OnBackendTlsEstablished() {
  if (backend_ != Backend::kTlsHandshake || phase_ != Phase::kLoggingIn) return;
  SendLogin();
}

void Pop3ProxySession::OnBackendClosed() {
  backend_connected_ = false;
  switch (phase_) {
    case Phase::kAuthorization:
      backend_ = Backend::kIdle;  // connected again at the next login
      return;
    case Phase::kLoggingIn:
      OnBackendFailed("closed");
      return;
    case Phase::kRelay:
      Close();
      return;
    case Phase::kTransaction:
      if (releasing_) {
        Close();  // the copy on its way must not end in an error line
      } else if (fetch_ != Fetch::kNone) {
        // The client is between commands (or waits for the message being read ahead, of
        // which it has heard nothing yet): it hears why.
        Fail("-ERR [SYS/TEMP] Mail server closed the connection");
      } else if (backend_ == Backend::kMultiBody || backend_ == Backend::kScanBody ||
          backend_ == Backend::kScanDiscard) {
        Close();  // no final ".": the client must not take what it has for a whole message
      } else if (backend_ == Backend::kQuit) {
        Close();
      } else {
        Fail("-ERR [SYS/TEMP] Mail server closed the connection");
      }
      return;
    case Phase::kClosed:
      return;
  }
}

void Pop3ProxySession::FeedBackend(std::string_view bytes) {
  if (phase_ == Phase::kClosed || bytes.empty()) return;
  if (phase_ == Phase::kRelay) {
    host_->SendToClient(bytes);
    return;
  }
  backend_in_.append(bytes);
  ProcessBackend();
}

bool Pop3ProxySession::TakeBackendLine(std::string* line) {
  const size_t lf = backend_in_.find('\n');
  if (lf == std::string::npos) return false;
  line->assign(backend_in_, 0, lf);
  backend_in_.erase(0, lf + 1);
  if (!line->empty() && line->back() == '\r') line->pop_back();
  return true;
}

void Pop3ProxySession::ProcessBackend() {
  while (phase_ != Phase::kClosed && !backend_in_.empty()) {
    if (phase_ == Phase::kRelay) {
      std::string rest;
      rest.swap(backend_in_);
      host_->SendToClient(rest);
      return;
    }
    if (backend_ == Backend::kMultiBody) {
      std::string scratch;
      const size_t n = decoder_.Feed(backend_in_, &scratch);
      host_->SendToClient(std::string_view(backend_in_).substr(0, n));
      backend_in_.erase(0, n);
      if (decoder_.done()) FinishCommand();
      continue;
    }
    if (backend_ == Backend::kScanBody) {
      std::string piece;
      const size_t n = decoder_.Feed(backend_in_, &piece);
      backend_in_.erase(0, n);
      message_size_ += piece.size();
      if (config_.keep_message) {
        message_.append(piece);
      } else {
        KeepHeaderBlock(piece);
      }
      if (!piece.empty()) host_->ScanData(piece);
      if (fetch_ == Fetch::kFetching &&
          message_size_ > std::min(config_.max_message_bytes, config_.read_ahead_max_bytes)) {
        // Longer than LIST said: not worth keeping; the client's RETR fetches it again.
        kept_.clear();
        host_->DropReadAhead();
        fetch_ = Fetch::kDiscarding;
        walking_ = false;
        std::string().swap(message_);
        backend_ = Backend::kScanDiscard;
        if (decoder_.done()) FinishFetch();
        continue;
      }
      if (message_size_ > config_.max_message_bytes) {
        OnOversized();
        continue;
      }
      if (decoder_.done()) {
        backend_ = Backend::kScanning;
        QueueReadAhead(/*pipelined=*/false);  // the backend works on it during the scan
        host_->EndScan();
      }
      continue;
    }
    if (backend_ == Backend::kScanDiscard) {
      std::string scratch;
      backend_in_.erase(0, decoder_.Feed(backend_in_, &scratch));
      if (decoder_.done() && fetch_ == Fetch::kDiscarding) {
        FinishFetch();
        continue;
      }
      if (decoder_.done()) {
        backend_ = Backend::kScanning;
        host_->EndScan();
      }
      continue;
    }
    if (backend_ == Backend::kIdle || backend_ == Backend::kScanning ||
        backend_ == Backend::kTlsHandshake) {
      // Nothing was asked (or the answer to a queued read-ahead, which waits its turn): kept
      // until something is, but not without bound.
      const uint64_t bound =
          queued_fetch_ != 0 ? 2 * config_.read_ahead_max_bytes + 2 * config_.max_line_bytes
                             : config_.max_line_bytes;
      if (backend_in_.size() > bound) {
        Fail("-ERR [SYS/TEMP] Mail server sent unexpected data");
      }
      return;
    }
    std::string line;
    if (!TakeBackendLine(&line)) {
      if (backend_in_.size() > config_.max_line_bytes) {
        Fail("-ERR [SYS/TEMP] Mail server sent an overlong line");
      }
      return;
    }
    OnBackendLine(line);
  }
}

void Pop3ProxySession::KeepHeaderBlock(std::string_view piece) {
  if (header_block_done_) return;
  const size_t from = message_.size() < 3 ? 0 : message_.size() - 3;
  message_.append(piece);
  size_t end = message_.find("\n\n", from);
  size_t crlf = message_.find("\n\r\n", from);
  if (crlf != std::string::npos && (end == std::string::npos || crlf < end)) end = crlf + 1;
  if (end != std::string::npos) {
    message_.resize(end + 2);
    header_block_done_ = true;
  } else if (message_.size() > config_.max_notice_header_bytes) {
    std::string().swap(message_);  // too long for a notice: the notice has no headers
    header_block_done_ = true;
  }
}

void Pop3ProxySession::OnOversized() {
  if (host_->PassOversized()) {
    // What was decoded goes out stuffed again (by the host, which kept it, without
    // keep_message), then the decoder's held bytes and the raw rest: together exactly the
    // backend's bytes.
    std::string out = config_.keep_message ? Pop3DotStuffPrefix(message_) : std::string();
    out.append(decoder_.held());
    if (decoder_.done()) out.append(".\r\n");  // the terminator came in the same piece
    host_->SendToClient(out);
    std::string().swap(message_);
    backend_ = Backend::kMultiBody;
    if (decoder_.done()) FinishCommand();
    return;
  }
  // Only the header block is kept: the notice that replaces the message is built on it.
  size_t end = std::string::npos;
  if (config_.keep_message) {
    end = message_.find("\r\n\r\n");
    end = end == std::string::npos ? message_.find("\n\n") : end + 2;
  } else if (header_block_done_ && !message_.empty()) {
    end = message_.size() - 2;
  }
  // A header block beyond the limit is not kept either: the notice then has no headers.
  const bool fits = end != std::string::npos && end + 2 <= config_.max_message_bytes;
  message_.resize(fits ? end + 2 : 0);
  message_.shrink_to_fit();
  backend_ = Backend::kScanDiscard;
  if (decoder_.done()) {
    backend_ = Backend::kScanning;
    host_->EndScan();
  }
}

void Pop3ProxySession::OnBackendLine(const std::string& line) {
  switch (backend_) {
    case Backend::kGreeting:
      if (!IsOk(line)) {
        OnBackendFailed("greeting");
        return;
      }
      if (config_.backend_stls) {
        host_->SendToBackend("STLS\r\n");
        backend_ = Backend::kStls;
      } else {
        SendLogin();
      }
      return;
    case Backend::kStls:
      if (!IsOk(line)) {
        OnBackendFailed("STLS refused");
        return;
      }
      backend_ = Backend::kTlsHandshake;
      backend_in_.clear();
      host_->StartBackendTls();
      return;
    case Backend::kUser:
      if (IsOk(line)) {
        host_->SendToBackend(absl::StrCat("PASS ", password_, "\r\n"));
        backend_ = Backend::kPass;
        return;
      }
      [[fallthrough]];
    case Backend::kPass:
      password_.clear();
      backend_ = Backend::kIdle;
      if (!IsOk(line)) {
        phase_ = Phase::kAuthorization;
        if (!auth_plain_.empty()) user_.clear();  // a later PASS needs its own USER
        auth_plain_.clear();
        ReplyClient(line);
        ProcessClient();
        return;
      }
      scanned_ = host_->MailboxScanned(user_);
      ReplyClient(line);
      if (scanned_) {
        // The message numbers' UIDLs key the host's verdict cache; the client's commands
        // wait until they are known.
        phase_ = Phase::kTransaction;
        if (config_.read_ahead_messages != 0) {
          // Read-ahead pipelines its RETRs where the backend says it may.
          backend_ = Backend::kCapaStatus;
          host_->SendToBackend("CAPA\r\n");
          return;
        }
        backend_ = Backend::kUidlStatus;
        host_->SendToBackend("UIDL\r\n");
        return;
      }
      phase_ = Phase::kRelay;
      if (!client_in_.empty()) {
        std::string rest;
        rest.swap(client_in_);
        host_->SendToBackend(rest);
      }
      return;
    case Backend::kSingle:
      ReplyClient(line);
      FinishCommand();
      return;
    case Backend::kMultiStatus:
      ReplyClient(line);
      if (IsOk(line)) {
        decoder_.Reset();
        backend_ = Backend::kMultiBody;
      } else {
        FinishCommand();
      }
      return;
    case Backend::kScanStatus:
      // The status line goes out now: the client hears from kensa at once, whatever the
      // size of the message and however long the scan takes. Read ahead, it waits for the
      // client's RETR; an error there is forgotten (the client's own RETR hears it).
      if (fetch_ == Fetch::kFetching) {
        if (!IsOk(line)) {
          // The client's own RETR (if it waits for this one) hears the backend's answer.
          if (waiting_for_fetch_) {
            waiting_for_fetch_ = false;
            ReplyClient(line);
          }
          walking_ = false;
          FinishFetch();
          return;
        }
        fetch_status_ = line;
      } else {
        ReplyClient(line);
      }
      if (IsOk(line)) {
        decoder_.Reset();
        message_.clear();
        message_size_ = 0;
        header_block_done_ = false;
        backend_ = Backend::kScanBody;
        host_->BeginScan(command_, command_uid_);
      } else {
        FinishCommand();
      }
      return;
    case Backend::kUidlStatus:
      if (IsOk(line)) {
        backend_ = Backend::kUidlBody;
      } else {
        AfterUidl();  // no UIDL at this backend: no cache, nothing else changes
      }
      return;
    case Backend::kUidlBody: {
      if (line == ".") {
        AfterUidl();
        return;
      }
      const size_t sp = line.find(' ');
      if (sp != std::string::npos && uids_.size() < kMaxUids) {
        uids_[line.substr(0, sp)] = line.substr(sp + 1);
      }
      return;
    }
    case Backend::kCapaStatus:
    case Backend::kCapaBody:
      if (backend_ == Backend::kCapaStatus ? IsOk(line) : line != ".") {
        if (backend_ == Backend::kCapaBody && Upper(line) == "PIPELINING") {
          backend_pipelining_ = true;
        }
        backend_ = Backend::kCapaBody;
        return;
      }
      backend_ = Backend::kUidlStatus;  // no CAPA (RFC 1939 only): no pipelining
      host_->SendToBackend("UIDL\r\n");
      return;
    case Backend::kListStatus:
      if (IsOk(line)) {
        backend_ = Backend::kListBody;
      } else {
        FinishCommand();  // no sizes: no read-ahead
      }
      return;
    case Backend::kListBody: {
      if (line == ".") {
        FinishCommand();
        return;
      }
      const size_t sp = line.find(' ');
      if (sp == std::string::npos || sizes_.size() >= kMaxUids) return;
      const std::string_view number = std::string_view(line).substr(0, sp);
      std::string_view size = std::string_view(line).substr(sp + 1);
      size = size.substr(0, size.find(' '));
      if (IsNumber(number) && IsNumber(size)) sizes_[std::string(number)] = NumberValue(size);
      return;
    }
    case Backend::kQuit:
      ReplyClient(line);
      Close();
      return;
    case Backend::kIdle:
    case Backend::kTlsHandshake:
    case Backend::kMultiBody:
    case Backend::kScanBody:
    case Backend::kScanDiscard:
    case Backend::kScanning:
      return;
  }
}

void Pop3ProxySession::DeliverMessage(std::string_view message) {
  if (phase_ == Phase::kClosed || (!releasing_ && backend_ != Backend::kScanning)) return;
  host_->SendToClient(Pop3DotStuff(message));
  OnMessageStreamed();
}

void Pop3ProxySession::OnMessageStreamed() {
  if (phase_ == Phase::kClosed) return;
  if (releasing_) {
    releasing_ = false;
    ProcessClient();
    MaybeReadAhead();
    return;
  }
  if (backend_ != Backend::kScanning) return;
  std::string().swap(message_);
  FinishCommand();
  ProcessBackend();
}

void Pop3ProxySession::AfterUidl() {
  if (config_.read_ahead_messages == 0) {
    FinishCommand();
    return;
  }
  backend_ = Backend::kListStatus;
  host_->SendToBackend("LIST\r\n");
}

bool Pop3ProxySession::TakesReadAhead(std::string_view line) const {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.size() < 6 || Upper(line.substr(0, 5)) != "RETR ") return false;
  const std::string_view arg = line.substr(5);
  if (CountWords(arg) != 1 || !IsNumber(MessageNumber(arg)) ||
      arg.find_first_not_of(" 0123456789") != std::string_view::npos) {
    return false;
  }
  const uint64_t n = NumberValue(MessageNumber(arg));
  return kept_.empty() ? fetch_ == Fetch::kFetching && n == fetch_number_
                       : n == kept_.front().number;
}

uint64_t Pop3ProxySession::NextReadAhead() const {
  uint64_t last = last_retr_;
  if (!kept_.empty()) last = std::max(last, kept_.back().number);
  if (fetch_ != Fetch::kNone) last = std::max(last, fetch_number_);
  return std::max(last, queued_fetch_) + 1;
}

bool Pop3ProxySession::MayReadAhead(uint64_t next) const {
  const size_t ahead = kept_.size() + (fetch_ != Fetch::kNone ? 1 : 0) + (queued_fetch_ ? 1 : 0);
  if (config_.read_ahead_messages == 0 || !walking_ || phase_ != Phase::kTransaction ||
      queued_fetch_ != 0 || ahead >= config_.read_ahead_messages) {
    return false;
  }
  auto size = sizes_.find(absl::StrCat(next));
  return size != sizes_.end() && size->second <= config_.read_ahead_max_bytes;
}

void Pop3ProxySession::BeginFetch(uint64_t number) {
  fetch_ = Fetch::kFetching;
  fetch_number_ = number;
  fetch_status_.clear();
  const std::string n = absl::StrCat(number);
  ExpectAnswer("RETR " + n, Backend::kScanStatus, n);
}

void Pop3ProxySession::MaybeReadAhead() {
  const uint64_t next = NextReadAhead();
  if (backend_ != Backend::kIdle || waiting_for_fetch_ || !MayReadAhead(next)) return;
  BeginFetch(next);
  host_->SendToBackend(absl::StrCat(command_, "\r\n"));
  QueueReadAhead(/*pipelined=*/true);
}

void Pop3ProxySession::QueueReadAhead(bool pipelined) {
  if (pipelined && !backend_pipelining_) return;
  // Only behind a RETR of the walk (the client's own, or kensa's), and not ahead of a
  // command the client is waiting to send.
  if (line_waits_ || (fetch_ != Fetch::kFetching && !absl::StartsWith(command_, "RETR "))) {
    return;
  }
  const uint64_t next = NextReadAhead();
  if (!MayReadAhead(next)) return;
  queued_fetch_ = next;
  host_->SendToBackend(absl::StrCat("RETR ", next, "\r\n"));
}

void Pop3ProxySession::StartQueuedFetch() {
  if (queued_fetch_ == 0 || phase_ == Phase::kClosed) return;
  BeginFetch(std::exchange(queued_fetch_, 0));  // its answer may be in backend_in_ already
  QueueReadAhead(/*pipelined=*/true);
}

void Pop3ProxySession::ReleaseReadAhead() {
  // Its status line now, then the copy the host kept.
  KeptCopy copy = std::move(kept_.front());
  kept_.pop_front();
  releasing_ = true;
  host_->SendReadAhead(copy.status + "\r\n");  // OnMessageStreamed follows, now or later
}

void Pop3ProxySession::DropReadAheads() {
  if (kept_.empty()) return;
  kept_.clear();
  host_->DropReadAhead();
}

void Pop3ProxySession::OnReadAheadReady() {
  if (fetch_ != Fetch::kFetching || backend_ != Backend::kScanning || phase_ == Phase::kClosed) {
    return;
  }
  kept_.push_back(KeptCopy{fetch_number_, std::move(fetch_status_)});
  FinishFetch();
}

void Pop3ProxySession::OnReadAheadDropped() {
  if (fetch_ != Fetch::kFetching || backend_ != Backend::kScanning || phase_ == Phase::kClosed) {
    return;
  }
  kept_.clear();  // the host forgot them all
  walking_ = false;
  FinishFetch();
}

void Pop3ProxySession::FinishFetch() {
  fetch_ = Fetch::kNone;
  fetch_status_.clear();
  backend_ = Backend::kIdle;
  command_.clear();
  command_uid_.clear();
  std::string().swap(message_);
  line_waits_ = false;
  StartQueuedFetch();
  if (waiting_for_fetch_) {
    if (!kept_.empty() && kept_.front().number == last_retr_) {
      waiting_for_fetch_ = false;
      ReleaseReadAhead();
    } else if (fetch_ == Fetch::kNone) {
      // Dropped or discarded: the client's RETR goes to the backend after all.
      waiting_for_fetch_ = false;
      const std::string number = absl::StrCat(last_retr_);
      SendCommand("RETR " + number, Backend::kScanStatus, number);
      return;
    }
    // Otherwise a queued read-ahead goes first (the client's, or one to get out of the way).
  }
  ProcessClient();
  MaybeReadAhead();
  ProcessBackend();
}

void Pop3ProxySession::FinishCommand() {
  backend_ = Backend::kIdle;
  command_.clear();
  command_uid_.clear();
  StartQueuedFetch();
  ProcessClient();
  MaybeReadAhead();
}

// --- ends ----------------------------------------------------------------------------------

void Pop3ProxySession::OnClientTimeout() {
  if (phase_ == Phase::kClosed) return;
  // RFC 1939 section 3: an autologout does not enter the UPDATE state (nothing is deleted).
  Fail("-ERR Autologout; idle for too long");
}

void Pop3ProxySession::OnBackendTimeout() {
  if (phase_ == Phase::kClosed) return;
  if (releasing_) {
    Close();
    return;
  }
  if (fetch_ != Fetch::kNone) {
    Fail("-ERR [SYS/TEMP] Mail server timed out");
    return;
  }
  if (backend_ == Backend::kMultiBody || backend_ == Backend::kScanBody ||
      backend_ == Backend::kScanDiscard) {
    Close();
    return;
  }
  if (phase_ == Phase::kLoggingIn) {
    OnBackendFailed("timeout");
    return;
  }
  Fail("-ERR [SYS/TEMP] Mail server timed out");
}

void Pop3ProxySession::Shutdown() {
  if (phase_ == Phase::kClosed) return;
  if (releasing_) {
    Close();
    return;
  }
  if (fetch_ != Fetch::kNone || !kept_.empty()) {
    Fail("-ERR [SYS/TEMP] Server shutting down");
    return;
  }
  if (backend_ == Backend::kMultiBody || backend_ == Backend::kScanBody ||
      backend_ == Backend::kScanDiscard || backend_ == Backend::kScanning) {
    Close();
    return;
  }
  Fail("-ERR [SYS/TEMP] Server shutting down");
}

void Pop3ProxySession::ReplyClient(std::string_view line) {
  std::string out(line);
  out += "\r\n";
  host_->SendToClient(out);
}

void Pop3ProxySession::Fail(std::string_view client_reply) {
  if (phase_ == Phase::kClosed) return;
  ReplyClient(client_reply);
  Close();
}

void Pop3ProxySession::Close() {
  if (phase_ == Phase::kClosed) return;
  phase_ = Phase::kClosed;
  password_.clear();
  client_in_.clear();
  backend_in_.clear();
  std::string().swap(message_);
  host_->CloseConnection();
}

}  // namespace kensa::net
