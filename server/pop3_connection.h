// SPDX-License-Identifier: GPL-2.0-or-later
// Pop3Connection: one POP3 client on a reactor and its connection to the ISP's POP3 server.
// It joins the two sockets, TLS on either side, the sans-I/O proxy session and the scan
// pipeline (the same ScanSession and cleaning decision as SMTP), and owns the timers and the
// back-pressure between the two sides.
#ifndef KENSA_SERVER_POP3_CONNECTION_H_
#define KENSA_SERVER_POP3_CONNECTION_H_

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "core/reactor.h"
#include "core/socket_address.h"
#include "core/socket_stream.h"
#include "net/pop3_clean_writer.h"
#include "net/pop3_proxy_session.h"
#include "net/secure_stream.h"
#include "scan/message_spool.h"
#include "server/client_connection.h"
#include "server/connection_environment.h"
#include "server/pop3_verdict_cache.h"
#include "server/scan_session.h"
#include "server/subscription.h"

namespace kensa {

class Pop3Connection : public ClientConnection, public net::Pop3ProxyHost {
 public:
  // Bytes queued towards one side: above this the other side stops being read.
  static constexpr size_t kMaxQueuedBytes = 1024 * 1024;
  // A scanned response's cleaned copy streams out of its spool file in pieces of this many
  // original bytes; the next is read while less than one piece waits for the client, so a
  // session streaming out holds about two pieces (64 sessions: ~16 MiB).
  static constexpr size_t kCleanedChunkBytes = 128 * 1024;

  // `env` holds the settings generation the session started with, for its whole life.
  Pop3Connection(std::shared_ptr<const ConnectionEnvironment> env, uint64_t id,
                 std::shared_ptr<SocketStream> client, const SocketAddress& peer,
                 const ListenerConfig& listener);
  ~Pop3Connection() override;

  void Start() override;
  void Drain() override;
  void ForceClose() override;
  const char* StateName() const override;

  // net::Pop3ProxyHost
  void SendToClient(std::string_view bytes) override;
  void StartClientTls() override;
  void ConnectBackend() override;
  void SendToBackend(std::string_view bytes) override;
  void StartBackendTls() override;
  bool MailboxScanned(const std::string& user) override;
  void BeginScan(std::string_view command, std::string_view uid) override;
  void ScanData(std::string_view bytes) override;
  void EndScan() override;
  bool PassOversized() override;
  void SendReadAhead(std::string_view status) override;
  void DropReadAhead() override;
  void CloseConnection() override;

 private:
  // The two sockets' callbacks, told apart.
  class Side : public net::SecureStream::Handler {
   public:
    Side(Pop3Connection* c, bool backend) : c_(c), backend_(backend) {}
    void OnBytesReceived(size_t n) override;
    void OnData(std::string_view plaintext) override;
    void OnTlsEstablished() override;
    void OnTlsPeerClosed() override;
    void OnTlsFailed(absl::Status error) override;
    void OnStreamClosed(int error) override;
    void OnSendDrained() override;

   private:
    Pop3Connection* c_;
    bool backend_;
  };

  void OnClientBytes(std::string_view bytes);
  void OnBackendBytes(std::string_view bytes);
  void OnClientTls();
  void OnBackendTls();
  void OnClientTlsFailed(const char* event, const absl::Status& error);
  void OnBackendTlsFailed(const absl::Status& error);
  void OnClientClosed(int error);
  void OnBackendClosed(int error);
  void StartScan(std::shared_ptr<const sigs::SignatureSet> set);
  void OnVerdict(scan::MessageVerdict verdict);
  void Deliver(const std::string& headers, const std::vector<spool::ContentEdit>& edits,
               const std::string& result, const std::string& viruses, bool from_cache);
  struct Retrieval;
  // `prefix`: bytes that go to the client before the copy, in the same write.
  void Send(Retrieval r, bool read_ahead, std::string_view prefix = {});
  void FailLocally(std::string_view error);
  // The read-ahead response in hand is forgotten (its scan, its copy); `why` for the log.
  void ForgetReadAhead(std::string_view why);
  // Sends spool_ through `writer` to the client: at once when it is in memory, else from the
  // file in pieces read on the worker (ReadCleaned), paced by the client's socket.
  void StreamOut(std::unique_ptr<net::Pop3CleanWriter> writer,
                 std::shared_ptr<scan::MessageSpool> spool, std::string_view prefix = {});
  void ReadCleaned();
  struct CleanedOutput;
  void OnCleanedPiece(const std::shared_ptr<CleanedOutput>& out, const absl::Status& status,
                      std::string bytes, bool last);
  void UpdateFlow();
  // A task for the scanner to run when it has drained: re-evaluates the flow.
  Task ResumeFlowTask();
  void Touch();
  void ArmTimer();
  void OnTimer();
  bool WaitingOnBackend() const;
  void CloseBackend();
  void Finish();

  std::shared_ptr<const ConnectionEnvironment> env_;
  uint64_t id_;
  std::shared_ptr<net::SecureStream> client_;
  SocketAddress peer_;
  std::string peer_host_;
  ListenerConfig listener_;
  Side client_side_{this, false};
  Side backend_side_{this, true};
  std::unique_ptr<net::Pop3ProxySession> session_;
  bool client_stls_pending_ = false;  // the session hears of the handshake (not implicit TLS)

  std::shared_ptr<net::SecureStream> backend_;
  std::string backend_host_;
  bool backend_implicit_tls_ = false;

  Subscription subscription_;
  std::shared_ptr<ScanSession> scan_;
  std::string scan_command_;
  const char* scanned_on_ = "worker";  // the last verdict's: "reactor" or "worker" (log)
  std::string cache_key_;                  // "" when the message has no UIDL
  std::optional<CachedRetrieval> cached_;  // a verdict-cache hit for this retrieval
  std::shared_ptr<const sigs::SignatureSet> scan_set_;
  bool oversized_ = false;  // this response outgrew [pop3] max_message_bytes
  // The scanned response as the backend sent it (unstuffed), kept while it is scanned.
  std::shared_ptr<scan::MessageSpool> spool_;
  std::shared_ptr<CleanedOutput> cleaned_;  // the cleaned copy on its way to the client
  // A scanned response, decided: what goes to the client, and its log line.
  struct Retrieval {
    std::shared_ptr<scan::MessageSpool> spool;  // the response as the backend sent it
    std::unique_ptr<net::Pop3CleanWriter> writer;  // the cleaning decided for it
    absl::Status fits;                             // writer->Check(spool->size())
    std::string command;
    std::string result;
    std::string viruses;
    std::string signatures;
    const char* scanned_on = "worker";
    bool from_cache = false;
    absl::Duration scan_wait;
  };
  // Read ahead and decided, for the client's RETRs, oldest first (the session's order).
  std::deque<Retrieval> kept_;
  absl::Time scan_start_;
  uint64_t messages_ = 0;

  absl::Time deadline_;
  absl::Time timer_at_;  // when the armed timer fires
  uint64_t timer_ = 0;
  bool draining_ = false;
  bool closing_ = false;
  bool finished_ = false;
};

}  // namespace kensa

#endif  // KENSA_SERVER_POP3_CONNECTION_H_
