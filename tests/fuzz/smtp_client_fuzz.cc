// SPDX-License-Identifier: GPL-2.0-or-later
// The SMTP/LMTP client session reads what remote MTAs send during delivery: whatever they
// send, it must not crash, call the host out of order or after the end, write to the server
// between StartTls() and the handshake, or report a transaction with other than one result
// per recipient whose outcome agrees with its reply code.
//
// Input layout: byte 0 picks the configuration (bit 0 LMTP, bits 1-2 the TLS policy, bit 3
// TLS available, bit 4 small reply limits, bits 5-6 the recipients per message minus one,
// bit 7 DSN and SMTPUTF8 parameters). The rest is server output, cut into Feed() calls at
// each 0x1f byte. The byte after a 0x1f may be an event: 'T' the TLS handshake completes,
// 'Q' the host quits, 'L' the connection is lost; anything else is a plain cut.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "net/smtp_client_session.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using kensa::net::OutboundMessage;
using kensa::net::RecipientResult;
using kensa::net::SmtpClientConfig;
using kensa::net::SmtpClientHost;
using kensa::net::SmtpClientSession;
using kensa::net::TlsPolicy;

constexpr int kTransactions = 3;  // messages offered per session

class FuzzHost : public SmtpClientHost {
 public:
  void SendToServer(std::string_view bytes) override {
    Check(!ended);
    // Nothing may go out between "220" to STARTTLS and the handshake: it would travel in
    // plaintext, or be read by the server as coming from inside TLS.
    Check(!tls_pending);
    Check(!bytes.empty());
    sent += bytes.size();
  }
  void StartTls() override {
    Check(!ended && !tls_pending && !in_transaction);
    Check(tls_available);
    tls_pending = true;
  }
  void OnReady() override {
    Check(!ended && !tls_pending && !in_transaction);
    Check(session->ready());
    if (offered >= kTransactions || quit) return;
    ++offered;
    in_transaction = true;
    content_given = false;
    session->Send(message);
  }
  void WantContent() override {
    Check(!ended && in_transaction && !content_given);
    content_given = true;
    // Content that needs stuffing: a leading dot, a lone dot line, no final CRLF.
    session->SendContent("Subject: x\r\n\r\n.leading dot\r\n.\r\n");
    session->SendContent("line without end");
    session->EndContent();
  }
  void OnTransactionDone(std::vector<RecipientResult> results) override {
    Check(!ended && in_transaction);
    in_transaction = false;
    Check(results.size() == message.recipients.size());
    for (const RecipientResult& r : results) {
      if (r.code != 0) {
        Check(r.code >= 200 && r.code <= 599);
        Check((r.outcome == RecipientResult::Outcome::kDelivered) == (r.code / 100 == 2));
        Check((r.outcome == RecipientResult::Outcome::kPermFail) == (r.code / 100 == 5));
      } else {
        Check(r.outcome != RecipientResult::Outcome::kDelivered);
      }
      Check(r.text.find('\n') == std::string::npos);
    }
  }
  void OnSessionFailed(absl::Status why, RecipientResult as_result) override {
    Check(!ended && !why.ok());
    Check(as_result.outcome != RecipientResult::Outcome::kDelivered);
    ended = true;
  }
  void CloseConnection() override {
    Check(!ended);
    ended = true;
  }

  SmtpClientSession* session = nullptr;
  OutboundMessage message;
  bool tls_available = false;
  bool tls_pending = false;
  bool in_transaction = false;
  bool content_given = false;
  bool quit = false;
  bool ended = false;
  int offered = 0;
  size_t sent = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);

  SmtpClientConfig config;
  config.helo_name = "kensa.fuzz.test";
  config.lmtp = (flags & 0x01) != 0;
  const int policy = (flags >> 1) & 0x03;
  config.tls = policy == 0 ? TlsPolicy::kNone
               : policy == 1 ? TlsPolicy::kOpportunistic
                             : TlsPolicy::kRequired;
  config.tls_available = (flags & 0x08) != 0;
  if ((flags & 0x10) != 0) {
    config.max_reply_line_bytes = 32;
    config.max_reply_lines = 4;
  }
  FuzzHost host;
  host.tls_available = config.tls_available;
  host.message.sender = "sender@example.org";
  const int recipients = 1 + ((flags >> 5) & 0x03);
  for (int i = 0; i < recipients; ++i) {
    host.message.recipients.push_back({"rcpt" + std::to_string(i) + "@example.test", "", ""});
  }
  if ((flags & 0x80) != 0) {
    host.message.ret = "HDRS";
    host.message.envid = "id+with=odd chars";
    host.message.body = "8BITMIME";
    host.message.smtputf8 = true;
    host.message.recipients[0].notify = "SUCCESS,FAILURE";
    host.message.recipients[0].orcpt = "rfc822;a+2Bb@example.test";
  }
  host.message.size = 48;
  SmtpClientSession session(config, &host);
  host.session = &session;

  bool lost = false;
  while (!lost) {
    const size_t cut = in.find('\x1f');
    // While the handshake runs the host feeds the TLS engine, not the session.
    if (!host.ended && !host.tls_pending) session.Feed(in.substr(0, cut));
    if (cut == std::string_view::npos) break;
    in.remove_prefix(cut + 1);
    if (in.empty()) break;
    bool consumed = true;
    switch (in[0]) {
      case 'T':
        if (host.tls_pending && !host.ended) {
          host.tls_pending = false;
          session.OnTlsEstablished();
        }
        break;
      case 'Q':
        if (!host.ended && !host.tls_pending) {
          host.quit = true;
          session.Quit();
          host.in_transaction = false;  // Quit() reports a transaction in progress
        }
        break;
      case 'L':
        session.OnConnectionLost();
        lost = true;
        break;
      default:
        consumed = false;
        break;
    }
    if (consumed) in.remove_prefix(1);
  }
  if (!lost && !host.ended && !host.tls_pending) session.Quit();
  return 0;
}
