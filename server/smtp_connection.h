// SPDX-License-Identifier: GPL-2.0-or-later
// SmtpConnection: one client connection on a reactor. It joins the socket, optional TLS, the
// sans-I/O SMTP session and the spool writer, and owns the session's timers and back-pressure:
// input pauses while a commit is pending, while the client is not reading our replies, or
// while too many spool bytes are in flight.
#ifndef KENSA_SERVER_SMTP_CONNECTION_H_
#define KENSA_SERVER_SMTP_CONNECTION_H_

#include <memory>
#include <optional>
#include <string>

#include "auth/auth_backend.h"
#include "core/reactor.h"
#include "core/socket_address.h"
#include "core/socket_stream.h"
#include "net/secure_stream.h"
#include "net/smtp_server_session.h"
#include "server/client_connection.h"
#include "server/connection_environment.h"
#include "server/scan_decision.h"
#include "server/scan_session.h"
#include "spool/spool_writer.h"

namespace kensa {

class SmtpConnection : public ClientConnection,
                       public net::SmtpServerHost,
                       public net::SecureStream::Handler {
 public:
  static constexpr size_t kMaxSpoolBytesInFlight = 4 * 1024 * 1024;
  static constexpr size_t kMaxUnsentReplyBytes = 256 * 1024;
  // Message bytes handed to the scan worker and not yet scanned: above this, input pauses.
  static constexpr size_t kMaxScanBytesInFlight = 4 * 1024 * 1024;

  // `env` holds the settings generation the session started with, for its whole life.
  SmtpConnection(std::shared_ptr<const ConnectionEnvironment> env, uint64_t id,
                 std::shared_ptr<SocketStream> stream, const SocketAddress& peer,
                 const ListenerConfig& listener);
  ~SmtpConnection() override;

  void Start() override;
  // SIGTERM: an idle session gets 421 now; one mid-transaction may finish until the shard's
  // drain deadline, when ForceClose() answers 421.
  void Drain() override;
  void ForceClose() override;
  const char* StateName() const override;
  bool idle() const;
  bool CanEndForDrain() const;

  // net::SmtpServerHost
  void SendToClient(std::string_view bytes) override;
  std::optional<net::SmtpReply> CheckRecipient(const net::SmtpEnvelope& env,
                                               const net::SmtpRecipient& rcpt) override;
  void StartTls() override;
  absl::Status BeginMessage(const net::SmtpEnvelope& env) override;
  void MessageData(std::string_view bytes) override;
  void EndMessage() override;
  void AbortMessage() override;
  void CloseConnection() override;
  void Authenticate(const net::SmtpAuthRequest& request) override;
  std::optional<net::SmtpReply> CheckSender(const net::SmtpEnvelope& env) override;

  // net::SecureStream::Handler
  void OnBytesReceived(size_t n) override;
  void OnData(std::string_view plaintext) override;
  void OnTlsEstablished() override;
  void OnTlsPeerClosed() override;
  void OnTlsFailed(absl::Status error) override;
  void OnStreamClosed(int error) override;
  void OnSendDrained() override;

 private:
  // A TLS failure ends the connection without a reply (there is no channel left for one).
  void FailTls(const char* event, const absl::Status& error);
  void UpdateInputFlow();
  // A task for a stage that paused input (spool, scan): re-evaluates the flow when it runs.
  Task ResumeInputTask();
  void TouchDeadline();
  void ArmTimer();
  void OnTimer();
  void Finish();
  std::string TraceHeader(const std::string& queue_id, const net::SmtpEnvelope& env) const;
  // What the scan said, for the message's log line and counters.
  struct ScanReport {
    bool scanned = false;
    std::string result = "unscanned";
    std::vector<std::string> names;
    scan::MessageVerdict verdict;
    absl::Duration wait;  // end of data to verdict
    bool quarantine = false;
  };
  void StartScan(const net::SmtpEnvelope& env);
  void CancelScan();
  void OnVerdict(scan::MessageVerdict verdict);
  void CommitMessage(ScanReport report);
  void Reply(const std::string& queue_id, absl::Status s);
  // The final reply to a message is going out: its wait since the end of data.
  void ObserveFinalReply();
  static void CountScan(const ConnectionEnvironment& env, const ScanReport& report);
  void OnAuthOutcome(const std::string& mechanism, const std::string& user,
                     auth::AuthOutcome outcome);

  std::shared_ptr<const ConnectionEnvironment> env_;
  uint64_t id_;
  std::shared_ptr<net::SecureStream> stream_;
  SocketAddress peer_;
  std::string peer_host_;
  ListenerConfig listener_;
  std::unique_ptr<net::SmtpServerSession> session_;
  bool starttls_pending_ = false;  // the session hears of the handshake (not for implicit TLS)
  std::shared_ptr<spool::SpoolWriter> spool_;
  std::string queue_id_;
  std::shared_ptr<ScanSession> scan_;  // from BeginMessage until the verdict
  std::vector<RecipientScan> rcpt_scans_;
  absl::Time data_end_;  // of the message being answered
  absl::Time deadline_;
  uint64_t timer_ = 0;
  bool draining_ = false;
  bool finished_ = false;
  bool closing_ = false;
  uint64_t messages_ = 0;
  // What the backend said the authenticated user owns (the sender rule checks against it).
  std::vector<std::string> auth_addresses_;
  uint64_t auth_timer_ = 0;  // the delay before a failed AUTH is answered
};

}  // namespace kensa

#endif  // KENSA_SERVER_SMTP_CONNECTION_H_
