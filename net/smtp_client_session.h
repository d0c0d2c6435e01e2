// SPDX-License-Identifier: GPL-2.0-or-later
// SmtpClientSession: the SMTP and LMTP client (RFC 5321, RFC 2033) as a sans-I/O state
// machine, for delivery to a next hop. One session is one connection; it delivers one
// transaction at a time and is reused for the next (RSET between when needed).
//
// Flow: greeting 220 -> EHLO (LHLO) -> STARTTLS when offered and the policy is not kNone and
// the host has TLS (kRequired and not offered: the session fails) -> EHLO again -> OnReady().
// Send(message): MAIL (SIZE, BODY, SMTPUTF8, RET/ENVID when the server has DSN), RCPT per
// recipient (NOTIFY/ORCPT when DSN), pipelined when the server has PIPELINING; when at least
// one RCPT was accepted the host is asked for content (WantContent) and gives it with
// SendContent()... EndContent(). With CHUNKING the content goes as BDAT chunks, byte exact;
// otherwise as DATA, dot-stuffed, with a CRLF added before the final "." only if the content
// did not end with one. SMTP gets one reply after the data; LMTP one per accepted recipient.
// Then OnTransactionDone(results, one per recipient in order) and OnReady() again.
#ifndef KENSA_NET_SMTP_CLIENT_SESSION_H_
#define KENSA_NET_SMTP_CLIENT_SESSION_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "net/next_hop.h"

namespace kensa::net {

struct OutboundRecipient {
  std::string address;
  std::string notify;  // as received, or empty
  std::string orcpt;   // as received, or empty
};

struct OutboundMessage {
  std::string sender;  // "" = null sender
  std::string ret, envid, body;
  bool smtputf8 = false;
  uint64_t size = 0;  // content bytes, for SIZE=
  std::vector<OutboundRecipient> recipients;
};

struct RecipientResult {
  enum class Outcome { kDelivered, kTempFail, kPermFail };
  Outcome outcome = Outcome::kTempFail;
  int code = 0;          // the SMTP reply code that decided it; 0 when no reply (transport)
  std::string enhanced;  // "5.1.1", or empty
  std::string text;      // the reply text (multi-line joined with "; ")
};

struct SmtpClientConfig {
  std::string helo_name = "localhost";
  bool lmtp = false;
  TlsPolicy tls = TlsPolicy::kOpportunistic;
  bool tls_available = false;  // the host can do TLS at all
  size_t max_reply_line_bytes = 4096;
  size_t max_reply_lines = 100;
};

class SmtpClientHost {
 public:
  virtual ~SmtpClientHost() = default;
  virtual void SendToServer(std::string_view bytes) = 0;
  // The server said 220 to STARTTLS: start the TLS handshake; call OnTlsEstablished() after.
  virtual void StartTls() = 0;
  // Ready for Send(): after the EHLO exchange, and after each transaction.
  virtual void OnReady() = 0;
  // The server is ready for content (354 or accepted RCPTs with CHUNKING).
  virtual void WantContent() = 0;
  virtual void OnTransactionDone(std::vector<RecipientResult> results) = 0;
  // The session cannot go on (bad greeting, protocol error, TLS required but not offered, 421):
  // `as_result` is what every recipient of a transaction in progress gets. The host closes.
  virtual void OnSessionFailed(absl::Status why, RecipientResult as_result) = 0;
  // After QUIT's reply (or when QUIT was sent and nothing more is expected).
  virtual void CloseConnection() = 0;
};

class SmtpClientSession {
 public:
  SmtpClientSession(const SmtpClientConfig& config, SmtpClientHost* host);
  ~SmtpClientSession();

  void Feed(std::string_view bytes);
  void OnTlsEstablished();
  // Only when ready (after OnReady()).
  void Send(const OutboundMessage& message);
  // Content bytes, raw (this session stuffs or chunks them); only after WantContent().
  void SendContent(std::string_view bytes);
  void EndContent();
  void Quit();
  // The transport broke: a transaction in progress ends with temporary results (no callback
  // is made after this; the host already knows).
  void OnConnectionLost();

  bool ready() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace kensa::net

#endif  // KENSA_NET_SMTP_CLIENT_SESSION_H_
