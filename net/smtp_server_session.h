// SPDX-License-Identifier: GPL-2.0-or-later
// SmtpServerSession: the ESMTP server protocol (RFC 5321) as a sans-I/O state machine. Bytes
// from the client go in through Feed(); replies, message bytes and decisions come out through
// the SmtpServerHost. It knows nothing of sockets, TLS libraries, spools or time.
//
// Extensions: PIPELINING, SIZE, 8BITMIME, SMTPUTF8, ENHANCEDSTATUSCODES, STARTTLS, DSN,
// CHUNKING (BDAT), AUTH (PLAIN, LOGIN; RFC 4954, offered and accepted only inside TLS).
// Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY(252) HELP STARTTLS AUTH.
//
// Strictness (SMTP smuggling cannot happen): inside DATA the only end of data is
// CRLF "." CRLF. A bare LF or bare CR anywhere in the data (with reject_bare_line_endings) makes
// the whole transaction fail after that real end of data, with "550 5.5.2"; the data is never
// split into two messages. Input pipelined behind STARTTLS is discarded (RFC 3207 injection).
// An overlong command line is answered "500 5.5.2 line too long" and skipped to its end.
//
// Message bytes go to MessageData() dot-unstuffed, exactly as the client meant them, CRLF line
// endings kept, without the terminating "." line; BDAT chunks go through unchanged.
#ifndef KENSA_NET_SMTP_SERVER_SESSION_H_
#define KENSA_NET_SMTP_SERVER_SESSION_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace kensa::net {

struct SmtpReply {
  int code = 250;
  std::string enhanced;  // "2.1.0"; omitted from the wire when empty
  std::string text;
};

struct SmtpRecipient {
  std::string address;
  std::string notify;  // DSN NOTIFY as given, uppercased ("SUCCESS,DELAY"), or empty
  std::string orcpt;   // DSN ORCPT as given ("rfc822;user@example.org"), or empty
};

struct SmtpEnvelope {
  std::string helo;    // the EHLO/HELO argument
  bool esmtp = false;  // EHLO (not HELO)
  bool tls = false;    // the session is inside TLS
  std::string sender;  // reverse-path without brackets; "" for <>
  std::string ret;     // DSN RET (FULL|HDRS) or empty
  std::string envid;   // DSN ENVID (xtext-decoded) or empty
  std::string body;    // BODY=7BIT|8BITMIME (uppercased) or empty
  bool smtputf8 = false;
  uint64_t declared_size = 0;  // SIZE= or 0
  std::vector<SmtpRecipient> recipients;  // accepted ones only
  std::string auth_user;  // the identity AUTH established (kept across transactions), or ""
};

// What AUTH decoded; the host checks it (off the reactor: backends block).
struct SmtpAuthRequest {
  std::string mechanism;  // "PLAIN" or "LOGIN"
  std::string authzid;    // PLAIN's authorization identity, usually empty
  std::string user;
  std::string password;
};

enum class SmtpAuthResult {
  kOk,        // 235 2.7.0
  kFailed,    // 535 5.7.8
  kTempFail,  // 454 4.7.0 (backend unreachable, or too many recent failures)
};

struct SmtpServerLimits {
  size_t max_command_line_bytes = 2048;  // including CRLF
  size_t max_recipients = 1000;
  uint64_t max_message_bytes = 50u << 20;  // SIZE advertised; larger data gets 552
  // One line of message data, CRLF included (DATA and BDAT). RFC 5321 4.5.3.1.6 allows 1000;
  // real mail (unwrapped HTML, long base64) exceeds that, so the default is generous. A longer
  // line refuses the message after its end (554 5.6.0): never folded, since kensa passes the
  // bytes it accepts unchanged.
  uint64_t max_data_line_bytes = 1u << 20;
  size_t max_commands = 10000;             // per session, then 421
  size_t max_errors = 20;                  // 4xx/5xx replies per session, then 421
  size_t max_auth_failures = 3;            // failed AUTH exchanges per session, then 421
};

struct SmtpServerConfig {
  std::string hostname = "localhost";
  SmtpServerLimits limits;
  bool starttls_available = false;  // offer STARTTLS (not when already in TLS)
  bool implicit_tls = false;        // the session starts inside TLS (port 465)
  bool reject_bare_line_endings = true;
  bool auth_available = false;  // offer AUTH PLAIN LOGIN (inside TLS only)
  bool auth_required = false;   // submission: MAIL needs AUTH first (530 5.7.0)
};

// The session's environment. Calls come synchronously from within the session's methods.
class SmtpServerHost {
 public:
  virtual ~SmtpServerHost() = default;
  virtual void SendToClient(std::string_view bytes) = 0;
  // Relay policy for one RCPT: nullopt accepts, a reply refuses (the session counts it).
  virtual std::optional<SmtpReply> CheckRecipient(const SmtpEnvelope& env,
                                                  const SmtpRecipient& rcpt) = 0;
  // The client asked for STARTTLS and got "220": every later byte in both directions is TLS.
  // The host calls OnTlsEstablished() once the handshake is done.
  virtual void StartTls() = 0;
  // DATA (after 354 is decided) or the first BDAT: open the message. An error refuses it:
  // ResourceExhausted -> "452 4.3.1 Insufficient system storage", others -> "451 4.3.0".
  virtual absl::Status BeginMessage(const SmtpEnvelope& env) = 0;
  virtual void MessageData(std::string_view bytes) = 0;
  // The complete message was received; the host makes it durable and then calls
  // CompleteMessage(). Until then the session is kAwaitingCommit and buffers further input.
  virtual void EndMessage() = 0;
  // The open message is dropped (RSET, bare LF, size exceeded, connection lost, ...).
  virtual void AbortMessage() = 0;
  // After the last reply (QUIT, 421): the host flushes output and closes.
  virtual void CloseConnection() = 0;
  // AUTH decoded credentials (only when auth_available, inside TLS). The host answers with
  // CompleteAuth(), later or at once; until then the session is kAwaitingAuth.
  virtual void Authenticate(const SmtpAuthRequest& request) = 0;
  // MAIL FROM of an authenticated session: may this user send as env.sender? nullopt allows,
  // a reply refuses (553 5.7.1).
  virtual std::optional<SmtpReply> CheckSender(const SmtpEnvelope& env) = 0;
};

class SmtpServerSession {
 public:
  enum class Phase { kGreeting, kCommand, kData, kBdat, kAwaitingCommit, kAwaitingAuth, kClosed };

  SmtpServerSession(const SmtpServerConfig& config, SmtpServerHost* host,
                    std::string client_host);

  // Sends the 220 greeting.
  void Start();
  void Feed(std::string_view bytes);
  // False while a message is being committed or the session is over: the host stops reading.
  bool WantsMoreInput() const;
  void OnTlsEstablished();
  // Answer to EndMessage(): a queue id gives "250 2.0.0 Ok: queued as <id>"; an error status
  // gives 452 4.3.1 (ResourceExhausted) or 451 4.3.0. Then buffered input is processed.
  void CompleteMessage(absl::StatusOr<std::string> queue_id);
  // Answer to EndMessage() refusing the message with `reply` (a 5xx for an infected message
  // under the reject policy). Then buffered input is processed.
  void RefuseMessage(const SmtpReply& reply);
  // Answer to Authenticate(): `user` is the identity the backend established (kOk only).
  void CompleteAuth(SmtpAuthResult result, std::string user);
  // "421 4.3.2 Service shutting down" and close (drain). Aborts an open message.
  void Shutdown();
  // "421 4.4.2 <hostname> Error: timeout exceeded" and close. Aborts an open message.
  void OnTimeout();

  Phase phase() const { return phase_; }
  const SmtpEnvelope& envelope() const { return env_; }
  uint64_t commands() const { return commands_; }

 private:
  // Where DATA scanning stands between bytes (and between Feed calls): what the last bytes
  // were, as far as the end-of-data sequence CRLF "." CRLF and dot-unstuffing care.
  enum class DataState : uint8_t {
    kLineStart,  // after a real CRLF (or right after the DATA command)
    kMid,        // inside a line, the last byte was not CR
    kCr,         // inside a line, the last byte was CR (already passed on)
    kDot,        // a '.' at line start (dropped: dot-unstuffing or the end marker)
    kDotCr,      // ".\r" at line start; the CR is held back until the next byte says what it is
  };

  // Input dispatch: every byte goes to exactly one of the three consumers.
  void Process(std::string_view in);
  void DrainPending();
  void BufferInput(std::string_view bytes);
  size_t ConsumeCommandBytes(std::string_view in);
  size_t ConsumeData(std::string_view in);
  size_t ConsumeChunk(std::string_view in);
  void EmitData(std::string_view bytes);
  // Line-length accounting of message data: the current line grew by `tail_bytes` and ended.
  void EndDataLine(uint64_t tail_bytes);
  void CountChunkLines(std::string_view bytes);
  void FinishData();
  void FinishChunk();

  // Commands.
  void HandleLine(std::string_view line);
  void DoHelo(std::string_view arg, bool esmtp);
  void DoMail(std::string_view arg);
  void DoRcpt(std::string_view arg);
  void DoData(std::string_view arg);
  void DoBdat(std::string_view arg);
  void DoStartTls(std::string_view arg);
  void DoAuth(std::string_view arg);
  void HandleAuthResponse(std::string_view line);
  void OnAuthMessage(std::string_view decoded);
  void SubmitAuth();
  void CancelAuth(int code, std::string_view enhanced, std::string_view text);
  void RefuseOverlongLine();
  void ResetTransaction();
  SmtpReply BeginFailureReply(const absl::Status& status) const;
  SmtpReply LongLineReply() const;
  SmtpReply EmptyMessageReply() const;
  void FinishAwaitedMessage(const SmtpReply& reply);

  // Output.
  void Reply(int code, std::string_view enhanced, std::string_view text);
  void Reply(const SmtpReply& reply) { Reply(reply.code, reply.enhanced, reply.text); }
  void Flush();
  void Close(int code, std::string_view enhanced, std::string_view text);
  bool CloseIfTooManyErrors();

  SmtpServerConfig config_;
  SmtpServerHost* host_;
  std::string client_host_;

  Phase phase_ = Phase::kGreeting;
  SmtpEnvelope env_;
  uint64_t commands_ = 0;
  uint64_t errors_ = 0;

  bool busy_ = false;          // inside Process: re-entrant calls only queue
  bool have_helo_ = false;
  bool have_mail_ = false;
  bool message_open_ = false;  // BeginMessage succeeded, neither ended nor aborted yet
  bool awaiting_tls_ = false;  // STARTTLS answered 220; input is discarded until the handshake
  uint64_t tls_restarts_ = 0;  // bumps at STARTTLS so Process drops the rest of its buffer

  std::string line_;           // partial command line (never beyond max_command_line_bytes)
  bool skipping_line_ = false;  // an overlong line was answered; drop bytes up to its LF
  std::string pending_;        // input that arrived while a message commits (or before Start)
  std::string out_;            // replies not yet sent: one SendToClient per Feed

  // DATA.
  DataState data_state_ = DataState::kLineStart;
  bool data_bare_ = false;      // a bare CR or LF was seen
  bool data_oversize_ = false;  // more than max_message_bytes
  bool data_long_line_ = false;  // a line over max_data_line_bytes (DATA and BDAT)
  uint64_t data_line_bytes_ = 0;  // bytes of the current line so far
  uint64_t message_bytes_ = 0;
  std::string data_scratch_;    // this Feed's data when dot-unstuffing cut it into pieces

  // AUTH: the SASL exchange in progress (the next line is a response, not a command).
  enum class AuthStep : uint8_t { kNone, kPlain, kLoginUser, kLoginPassword };
  AuthStep auth_step_ = AuthStep::kNone;
  SmtpAuthRequest auth_request_;
  uint64_t auth_failures_ = 0;

  // BDAT (CHUNKING).
  bool bdat_txn_ = false;                 // this transaction uses BDAT (phase kBdat)
  std::optional<SmtpReply> bdat_error_;   // the BDAT transaction failed: chunks get this
  bool in_chunk_ = false;
  bool chunk_last_ = false;
  uint64_t chunk_size_ = 0;
  uint64_t chunk_left_ = 0;
  std::optional<SmtpReply> chunk_error_;  // this chunk is consumed and dropped, then refused
};

}  // namespace kensa::net

#endif  // KENSA_NET_SMTP_SERVER_SESSION_H_
