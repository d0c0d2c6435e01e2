// SPDX-License-Identifier: GPL-2.0-or-later
// The POP3 proxy's state machine: client lines are processed one command at a time (the next
// waits until the backend's whole answer went back), backend bytes are read as status lines
// or as multi-line bodies found with the dot decoder.
#include "net/pop3_proxy_session.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
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
      return backend_ == Backend::kIdle;
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
  command_ = std::string(verb);
  if (words != 0) command_ += " " + std::string(arg);
  command_uid_.clear();
  if (expect == Backend::kScanStatus) {
    std::string_view n = arg;
    while (!n.empty() && n.front() == ' ') n.remove_prefix(1);
    n = n.substr(0, n.find(' '));
    // "007" and "7" are the same message; UIDL lists "7".
    while (n.size() > 1 && n.front() == '0') n.remove_prefix(1);
    auto it = uids_.find(std::string(n));
    if (it != uids_.end()) command_uid_ = it->second;
  }
  backend_ = expect;
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
      if (backend_ == Backend::kMultiBody || backend_ == Backend::kScanBody ||
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
      if (message_size_ > config_.max_message_bytes) {
        OnOversized();
        continue;
      }
      if (decoder_.done()) {
        backend_ = Backend::kScanning;
        host_->EndScan();
      }
      continue;
    }
    if (backend_ == Backend::kScanDiscard) {
      std::string scratch;
      backend_in_.erase(0, decoder_.Feed(backend_in_, &scratch));
      if (decoder_.done()) {
        backend_ = Backend::kScanning;
        host_->EndScan();
      }
      continue;
    }
    if (backend_ == Backend::kIdle || backend_ == Backend::kScanning ||
        backend_ == Backend::kTlsHandshake) {
      // Nothing was asked: kept until something is, but not without bound.
      if (backend_in_.size() > config_.max_line_bytes) {
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
      // size of the message and however long the scan takes.
      ReplyClient(line);
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
        FinishCommand();  // no UIDL at this backend: no cache, nothing else changes
      }
      return;
    case Backend::kUidlBody: {
      if (line == ".") {
        FinishCommand();
        return;
      }
      const size_t sp = line.find(' ');
      if (sp != std::string::npos && uids_.size() < kMaxUids) {
        uids_[line.substr(0, sp)] = line.substr(sp + 1);
      }
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
  if (backend_ != Backend::kScanning || phase_ == Phase::kClosed) return;
  host_->SendToClient(Pop3DotStuff(message));
  std::string().swap(message_);
  FinishCommand();
  ProcessBackend();
}

void Pop3ProxySession::OnMessageStreamed() {
  if (backend_ != Backend::kScanning || phase_ == Phase::kClosed) return;
  std::string().swap(message_);
  FinishCommand();
  ProcessBackend();
}

void Pop3ProxySession::FinishCommand() {
  backend_ = Backend::kIdle;
  command_.clear();
  command_uid_.clear();
  ProcessClient();
}

// --- ends ----------------------------------------------------------------------------------

void Pop3ProxySession::OnClientTimeout() {
  if (phase_ == Phase::kClosed) return;
  // RFC 1939 section 3: an autologout does not enter the UPDATE state (nothing is deleted).
  Fail("-ERR Autologout; idle for too long");
}

void Pop3ProxySession::OnBackendTimeout() {
  if (phase_ == Phase::kClosed) return;
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
