// SPDX-License-Identifier: GPL-2.0-or-later
// OutboundConnection: one connection from a reactor to an SMTP/LMTP next hop, driving the
// sans-I/O client session over a socket (and TLS after STARTTLS), streaming message content
// with back-pressure, with connect, reply and idle timeouts.
#ifndef KENSA_QUEUE_OUTBOUND_CONNECTION_H_
#define KENSA_QUEUE_OUTBOUND_CONNECTION_H_

#include <memory>
#include <optional>
#include <string>

#include "core/lifetime.h"
#include "net/secure_stream.h"
#include "queue/delivery_settings.h"
#include "queue/smtp_hop_pool.h"

namespace kensa::queue {

// Content streams from the queue file: one piece of kContentChunk is read on the worker while
// the socket sends, and handed to the socket only while it holds less than kMaxQueuedBytes, so
// a connection holds at most kMaxQueuedBytes + 2 x kContentChunk (the piece in the socket's
// queue with its dot-stuffing, and the next one) of a message of any size.
class OutboundConnection : public net::SmtpClientHost, public net::SecureStream::Handler {
 public:
  static constexpr size_t kContentChunk = 256 * 1024;
  static constexpr size_t kMaxQueuedBytes = 1024 * 1024;

  // `settings`, `env` and `pool` outlive the connection (the pool owns it).
  OutboundConnection(const DeliverySettings* settings, const DeliveryEnvironment* env,
                     SmtpHopPool* pool, const net::NextHop& hop);
  ~OutboundConnection() override;

  // Connects (resolving the host on the worker if it is a name) and delivers `first`.
  void Start(DeliveryJob first);
  // Idle connection: deliver another job on it.
  void Deliver(DeliveryJob job);
  void Quit();
  // Said QUIT (idle too long): the pool must not hand it another job.
  bool quitting() const { return quitting_; }

  // net::SmtpClientHost
  void SendToServer(std::string_view bytes) override;
  void StartTls() override;
  void OnReady() override;
  void WantContent() override;
  void OnTransactionDone(std::vector<net::RecipientResult> results) override;
  void OnSessionFailed(absl::Status why, net::RecipientResult as_result) override;
  void CloseConnection() override;

  // net::SecureStream::Handler
  void OnBytesReceived(size_t n) override;
  void OnData(std::string_view plaintext) override;
  void OnTlsEstablished() override;
  void OnTlsPeerClosed() override;
  void OnTlsFailed(absl::Status error) override;
  void OnStreamClosed(int error) override;
  void OnSendDrained() override;

 private:
  void Connect(const SocketAddress& addr);
  void FailJob(const net::RecipientResult& r);
  // Reads the next piece of the copy on the worker (opening it first if need be).
  void ReadContent();
  void OnContentRead(uint64_t transfer, std::unique_ptr<spool::CopyReader> copy,
                     absl::StatusOr<std::string> piece);
  void PumpContent();
  // A TLS failure met inside a session call: the session hears of it from the loop.
  void FailTlsLater(absl::Status error);
  void StopContent();
  void Touch();
  void ArmTimer();
  void Close();

  const DeliverySettings* settings_;
  const DeliveryEnvironment* env_;
  SmtpHopPool* pool_;
  net::NextHop hop_;
  std::shared_ptr<net::SecureStream> stream_;
  std::unique_ptr<net::SmtpClientSession> session_;
  std::optional<DeliveryJob> job_;
  bool sending_content_ = false;
  // The copy being sent: here between reads, with the worker during one (reading_).
  std::unique_ptr<spool::CopyReader> copy_;
  std::string next_piece_;  // read, not yet handed to the session
  bool reading_ = false;
  bool copy_ended_ = false;
  // Numbers each content transfer, so a read that returns after its transfer ended is
  // dropped instead of feeding the next job.
  uint64_t transfer_ = 0;
  bool ready_ = false;
  bool closed_ = false;
  bool quitting_ = false;
  Lifetime lifetime_;  // what async work tests before touching this (core/lifetime.h)
  absl::Time deadline_;
  uint64_t timer_ = 0;
};

}  // namespace kensa::queue

#endif  // KENSA_QUEUE_OUTBOUND_CONNECTION_H_
