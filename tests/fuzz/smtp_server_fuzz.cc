// SPDX-License-Identifier: GPL-2.0-or-later
// The SMTP server session reads bytes straight from the Internet: whatever they are, it must
// not crash, grow without bound, break reply framing, call the host out of order, or act on
// input pipelined behind STARTTLS.
//
// Input layout (so seeds stay readable): byte 0 selects the configuration and host
// behaviour; the rest is client input, cut into Feed() calls at each 0x1f byte. The byte
// after a 0x1f may be an event instead of data:
//   'T' OnTlsEstablished()   'C' CompleteMessage(queue id)   'E' CompleteMessage(error)
//   'S' Shutdown()           'O' OnTimeout()                 anything else: a plain cut
//   'A' CompleteAuth(ok)     'F' CompleteAuth(failed)        'P' CompleteAuth(temporary)
// AUTH is always available (it needs TLS); flag bits 0x01 and 0x02 together make it required.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "net/smtp_server_session.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using kensa::net::SmtpAuthRequest;
using kensa::net::SmtpAuthResult;
using kensa::net::SmtpEnvelope;
using kensa::net::SmtpRecipient;
using kensa::net::SmtpReply;
using kensa::net::SmtpServerConfig;
using kensa::net::SmtpServerHost;
using kensa::net::SmtpServerSession;
using Phase = SmtpServerSession::Phase;

// Every write is a sequence of complete reply lines "ddd" (" "|"-") text CRLF, with no other
// CR or LF and printable-or-8bit text.
void CheckReplies(std::string_view bytes) {
  Check(!bytes.empty());
  while (!bytes.empty()) {
    size_t end = bytes.find("\r\n");
    Check(end != std::string_view::npos);
    std::string_view line = bytes.substr(0, end);
    Check(line.size() >= 4);
    for (int i = 0; i < 3; ++i) Check(line[i] >= '0' && line[i] <= '9');
    Check(line[0] >= '2' && line[0] <= '5');
    Check(line[3] == ' ' || line[3] == '-');
    Check(line.find_first_of("\r\n") == std::string_view::npos);
    bytes.remove_prefix(end + 2);
  }
}

class FuzzHost : public SmtpServerHost {
 public:
  void SendToClient(std::string_view bytes) override {
    Check(!closed);
    // Between StartTls() and the handshake only a session-ending 421 may be sent (and it
    // would go out inside TLS); never an answer to injected commands.
    Check(!tls_pending || allow_send_while_tls_pending);
    CheckReplies(bytes);
  }
  std::optional<SmtpReply> CheckRecipient(const SmtpEnvelope& env,
                                          const SmtpRecipient& rcpt) override {
    Check(!closed && !tls_pending && !open);
    Check(env.recipients.size() < max_recipients);
    if (refuse_some && !rcpt.address.empty() && rcpt.address[0] == 'x') {
      return SmtpReply{550, "5.7.1", "Relay access denied\r\nfake"};
    }
    return std::nullopt;
  }
  void StartTls() override {
    Check(!closed && !tls_pending && !open);
    tls_pending = true;
  }
  absl::Status BeginMessage(const SmtpEnvelope& env) override {
    Check(!closed && !tls_pending && !open && !committing);
    Check(!env.recipients.empty());
    if (begin_fails) return absl::ResourceExhaustedError("full");
    open = true;
    bytes = 0;
    return absl::OkStatus();
  }
  void MessageData(std::string_view data) override {
    Check(open && !data.empty());
    bytes += data.size();
    Check(bytes <= max_message_bytes);
  }
  void EndMessage() override {
    Check(open && !committing);
    open = false;
    committing = true;
    if (sync_commit) {
      committing = false;
      session->CompleteMessage(std::string("SYNC"));
    }
  }
  void AbortMessage() override {
    Check(open);
    open = false;
  }
  void CloseConnection() override {
    Check(!closed);
    closed = true;
  }
  void Authenticate(const SmtpAuthRequest& request) override {
    // Credentials are only ever taken inside TLS, outside a transaction, one at a time.
    Check(!closed && !tls_pending && !open && !committing && !authenticating);
    Check(session->envelope().tls && session->envelope().auth_user.empty());
    Check(!request.user.empty() && !request.password.empty());
    Check(request.mechanism == "PLAIN" || request.mechanism == "LOGIN");
    if (sync_commit) {
      session->CompleteAuth(request.password == "good" ? SmtpAuthResult::kOk
                                                       : SmtpAuthResult::kFailed,
                            request.user);
      return;
    }
    authenticating = true;
  }
  std::optional<SmtpReply> CheckSender(const SmtpEnvelope& env) override {
    Check(!closed && !open && !env.auth_user.empty());
    if (!env.sender.empty() && env.sender[0] == 'x') {
      return SmtpReply{553, "5.7.1", "Sender address rejected"};
    }
    return std::nullopt;
  }

  SmtpServerSession* session = nullptr;
  bool refuse_some = false;
  bool begin_fails = false;
  bool sync_commit = false;
  size_t max_recipients = 0;
  uint64_t max_message_bytes = 0;
  bool open = false;
  bool committing = false;
  bool authenticating = false;
  bool closed = false;
  bool tls_pending = false;
  bool allow_send_while_tls_pending = false;
  uint64_t bytes = 0;
};

void Feed(SmtpServerSession& s, FuzzHost& host, std::string_view bytes) {
  if (bytes.empty()) return;
  s.Feed(bytes);
  Check(s.WantsMoreInput() == (s.phase() != Phase::kAwaitingCommit &&
                               s.phase() != Phase::kAwaitingAuth &&
                               s.phase() != Phase::kClosed));
  Check(host.authenticating == (s.phase() == Phase::kAwaitingAuth) || host.closed);
  Check(host.closed == (s.phase() == Phase::kClosed));
  Check(host.open == (s.phase() == Phase::kData || s.phase() == Phase::kBdat) || !host.open);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);

  SmtpServerConfig config;
  config.hostname = "mx.fuzz.test";
  config.starttls_available = (flags & 0x01) != 0;
  config.implicit_tls = (flags & 0x02) != 0;
  config.reject_bare_line_endings = (flags & 0x04) == 0;
  config.auth_available = true;
  config.auth_required = (flags & 0x03) == 0x03;
  if ((flags & 0x10) != 0) {  // small limits, so the fuzzer reaches them
    config.limits.max_command_line_bytes = 64;
    config.limits.max_recipients = 3;
    config.limits.max_message_bytes = 200;
    config.limits.max_commands = 40;
    config.limits.max_errors = 8;
  } else {
    config.limits.max_message_bytes = 1 << 20;
  }
  FuzzHost host;
  host.sync_commit = (flags & 0x08) != 0;
  host.begin_fails = (flags & 0x20) != 0;
  host.refuse_some = (flags & 0x40) != 0;
  host.max_recipients = config.limits.max_recipients;
  host.max_message_bytes = config.limits.max_message_bytes;
  SmtpServerSession session(config, &host, "192.0.2.1");
  host.session = &session;
  if ((flags & 0x80) != 0) Feed(session, host, "EHLO early\r\n");  // before the greeting
  session.Start();

  while (!in.empty()) {
    size_t cut = in.find('\x1f');
    Feed(session, host, in.substr(0, cut));
    if (cut == std::string_view::npos) break;
    in.remove_prefix(cut + 1);
    if (in.empty()) break;
    const char ev = in[0];
    bool consumed = true;
    switch (ev) {
      case 'T':
        if (host.tls_pending) {
          host.tls_pending = false;
          session.OnTlsEstablished();
          Check(session.envelope().tls || session.phase() == Phase::kClosed);
        }
        break;
      case 'C':
      case 'E':
        if (host.committing) {
          host.committing = false;
          if (ev == 'C') {
            session.CompleteMessage(std::string("Q1"));
          } else {
            session.CompleteMessage(absl::UnavailableError("io"));
          }
        }
        break;
      case 'A':
      case 'F':
      case 'P':
        if (host.authenticating) {
          host.authenticating = false;
          session.CompleteAuth(ev == 'A'   ? SmtpAuthResult::kOk
                               : ev == 'F' ? SmtpAuthResult::kFailed
                                           : SmtpAuthResult::kTempFail,
                               "user@fuzz.test");
          Check(ev != 'A' || session.phase() == Phase::kClosed ||
                session.envelope().auth_user == "user@fuzz.test");
        }
        break;
      case 'S':
        host.allow_send_while_tls_pending = true;
        session.Shutdown();
        break;
      case 'O':
        host.allow_send_while_tls_pending = true;
        session.OnTimeout();
        break;
      default:
        consumed = false;
        break;
    }
    if (consumed) in.remove_prefix(1);
  }
  // Whatever state it ended in, the session winds down cleanly.
  if (host.committing) {
    host.committing = false;
    session.CompleteMessage(std::string("END"));
  }
  if (host.authenticating) {
    host.authenticating = false;
    session.CompleteAuth(SmtpAuthResult::kFailed, "");
  }
  host.allow_send_while_tls_pending = true;
  session.OnTimeout();
  Check(session.phase() == Phase::kClosed && host.closed && !host.open);
  return 0;
}
