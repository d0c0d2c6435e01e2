// SPDX-License-Identifier: GPL-2.0-or-later
// Pop3ProxySession: kensa between a POP3 client and the ISP's POP3 server, as a sans-I/O state
// machine. Client bytes go in through FeedClient(), backend bytes through FeedBackend();
// everything else (sockets, TLS, the scanner, timers) is the host's.
//
// Before login kensa itself speaks POP3 (RFC 1939, CAPA RFC 2449, STLS RFC 2595, AUTH PLAIN
// RFC 5034) and offers only what it supports. Credentials are not checked here: at PASS or
// AUTH the host connects to the backend and the same credentials are presented there; its
// answer is the client's answer. After login one command is in flight at a time (pipelined
// input waits its turn): STAT LIST UIDL DELE RSET NOOP QUIT CAPA pass through with their
// responses; for a mailbox that is scanned, RETR and TOP responses are read from the backend
// whole (dot-unstuffed), handed to the host to scan, and what the host returns is sent
// (dot-stuffed). The "+OK" line goes out at once, so the client hears from kensa promptly; if
// the backend fails mid-message the connection is closed without the final ".", so a client
// never takes a truncated message for a complete one. A mailbox that is not scanned gets the
// backend's bytes as they are, in both directions, from the login on.
//
// Read-ahead (config read_ahead_messages): a client that walks its mailbox (RETR 1, or RETR k
// after RETR k-1) would wait at every message for the backend and then the scan. Instead,
// while the client reads message k, kensa asks the backend for k+1, k+2, ... itself (up to
// read_ahead_messages kept or in flight, each only if LIST says it exists and is at most
// read_ahead_max_bytes) and has each scanned; the host keeps the copies in order
// (OnReadAheadReady) until the client's RETR takes the oldest (SendReadAhead). Any other RETR
// or TOP, a DELE of a message read ahead, or QUIT drops them all (DropReadAhead). While kensa
// reads ahead the client's next command is read: a RETR of what is being read ahead waits for
// it, anything else waits until the backend is free. The next RETR goes to the backend as the
// last answer ends, before it is scanned, or (to a backend whose CAPA lists PIPELINING, RFC
// 2449) as soon as the RETR before it went.
#ifndef KENSA_NET_POP3_PROXY_SESSION_H_
#define KENSA_NET_POP3_PROXY_SESSION_H_

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "net/pop3_dot_codec.h"

namespace kensa::net {

struct Pop3ProxyConfig {
  std::string hostname = "localhost";
  size_t max_line_bytes = 1024;              // client command lines and backend status lines
  uint64_t max_message_bytes = 100ull << 20;  // larger RETR/TOP responses: connection closed
  bool stls_available = false;               // offer STLS (not when already in TLS)
  bool implicit_tls = false;                 // the session starts inside TLS (port 995)
  bool plaintext_auth = false;               // USER/PASS/AUTH also outside TLS
  bool backend_stls = false;                 // say STLS to the backend before the credentials
  // Whether message() keeps the whole scanned response. A host that spools what ScanData()
  // hands it turns this off: message() then keeps only the header block, for the notice of
  // an oversized message, and only up to max_notice_header_bytes.
  bool keep_message = true;
  size_t max_notice_header_bytes = 1 << 20;
  // Read-ahead of the next messages of a mailbox walked in order (see above); 0 = off. kensa
  // then also asks the backend for CAPA and LIST after the login (pipelining, the sizes).
  size_t read_ahead_messages = 0;
  uint64_t read_ahead_max_bytes = 256 << 10;  // by the backend's LIST size
};

class Pop3ProxyHost {
 public:
  virtual ~Pop3ProxyHost() = default;
  virtual void SendToClient(std::string_view bytes) = 0;
  // The client's STLS got "+OK": every later byte with the client is TLS; the host calls
  // OnClientTlsEstablished() after the handshake.
  virtual void StartClientTls() = 0;
  // Connect to the backend (implicit TLS included); answer OnBackendConnected() or
  // OnBackendFailed().
  virtual void ConnectBackend() = 0;
  virtual void SendToBackend(std::string_view bytes) = 0;
  // The backend answered STLS with "+OK"; the host calls OnBackendTlsEstablished().
  virtual void StartBackendTls() = 0;
  // The backend accepted `user`: whether this mailbox's RETR/TOP are scanned.
  virtual bool MailboxScanned(const std::string& user) = 0;
  // A scanned RETR/TOP response: its content (dot-unstuffed) as it arrives, so the scan runs
  // while the backend sends; at EndScan() it is complete (message(), or what the host kept of
  // ScanData()) and the host answers with DeliverMessage(), or sends the dot-stuffed copy
  // itself and calls OnMessageStreamed(), or closes. ScanData() gets every byte up to and
  // with the piece that outgrew max_message_bytes.
  // `uid` is the message's UIDL (RFC 1939: unique and persistent in its mailbox) when the
  // backend gave one, so the host can answer a re-fetch from a verdict cache.
  virtual void BeginScan(std::string_view command, std::string_view uid) = 0;
  virtual void ScanData(std::string_view bytes) = 0;
  virtual void EndScan() = 0;
  // The response outgrew max_message_bytes: true passes it on unscanned from here (the bytes
  // so far, then the rest as the backend sends it; without keep_message the host sends the
  // bytes so far, dot-stuffed, before it returns); false keeps only its header block in
  // message(), drops the rest, and EndScan() follows at its end (the host sends a notice).
  virtual bool PassOversized() = 0;
  // Read-ahead: while reading_ahead_unasked() the response being scanned is one the client
  // has not asked for; when its copy is ready the host keeps it (after those it keeps already)
  // and calls OnReadAheadReady(), or OnReadAheadDropped() if it has none to keep (a local
  // failure; it then forgets the others too). SendReadAhead(): the client asked for the oldest
  // copy kept: the host sends `status` (the backend's status line, with its CRLF) and the copy
  // after it, in one write where it can, as for any retrieval (DeliverMessage or
  // OnMessageStreamed follow). DropReadAhead(): none will be asked for; the
  // host forgets every copy it keeps and a read-ahead scan still running.
  virtual void SendReadAhead(std::string_view status) = 0;
  virtual void DropReadAhead() = 0;
  // The host closes both connections after flushing what was sent to the client.
  virtual void CloseConnection() = 0;
};

class Pop3ProxySession {
 public:
  enum class Phase {
    kAuthorization,  // kensa speaks POP3 itself
    kLoggingIn,      // the credentials are on their way to the backend
    kTransaction,    // logged in, commands checked and passed on
    kRelay,          // logged in, a mailbox that is not scanned: bytes pass as they are
    kClosed,
  };

  Pop3ProxySession(const Pop3ProxyConfig& config, Pop3ProxyHost* host);

  void Start();  // the greeting
  void FeedClient(std::string_view bytes);
  void FeedBackend(std::string_view bytes);
  void OnClientTlsEstablished();
  void OnBackendConnected();
  void OnBackendFailed(std::string_view why);
  void OnBackendTlsEstablished();
  void OnBackendClosed();
  // The scanned response to send for the message EndScan() announced (unstuffed).
  void DeliverMessage(std::string_view message);
  // The host sent the scanned response itself (dot-stuffed, with its final "."): the next
  // command goes on.
  void OnMessageStreamed();
  // The host kept the read-ahead response's copy / has none to keep (a local failure).
  void OnReadAheadReady();
  void OnReadAheadDropped();
  // Autologout (RFC 1939 section 3) or drain: "-ERR" and close.
  void OnClientTimeout();
  void OnBackendTimeout();
  void Shutdown();

  // False while kensa waits on the backend or the scanner: the host stops reading the client
  // (input pipelined meanwhile stays in the kernel's buffer, bounded).
  bool WantsClientInput() const;
  // The complete (unstuffed) message of the response being scanned (its header block only,
  // without keep_message).
  const std::string& message() const { return message_; }
  Phase phase() const { return phase_; }
  const std::string& user() const { return user_; }
  bool scanned() const { return scanned_; }
  bool client_tls() const { return client_tls_; }
  // The response being scanned is kensa's own read-ahead: the host keeps its copy.
  bool reading_ahead_unasked() const { return fetch_ == Fetch::kFetching; }
  // Copies the host keeps for the client, and whether one is on its way from the backend.
  size_t read_ahead_kept() const { return kept_.size(); }
  bool read_ahead_in_flight() const { return fetch_ != Fetch::kNone; }

 private:
  // What the backend's next bytes are.
  enum class Backend {
    kIdle,         // nothing asked
    kGreeting,     // its "+OK" greeting
    kStls,         // the answer to STLS
    kTlsHandshake,
    kUser,         // the answer to USER
    kPass,         // the answer to PASS or AUTH PLAIN (the login)
    kSingle,       // a one-line answer to pass on
    kMultiStatus,  // the status line of a possibly multi-line answer
    kMultiBody,    // a multi-line body passed on as it comes
    kScanStatus,   // the status line of RETR/TOP (scanned mailbox)
    kUidlStatus,   // kensa's own UIDL after the login (scanned mailbox)
    kUidlBody,
    kListStatus,   // kensa's own LIST after the UIDL (read-ahead: the sizes)
    kListBody,
    kCapaStatus,   // kensa's own CAPA after the login (read-ahead: PIPELINING?)
    kCapaBody,
    kScanBody,     // a RETR/TOP body collected for the scanner
    kScanDiscard,  // an oversized body: read to its end, dropped
    kScanning,     // waiting for DeliverMessage()
    kQuit,         // the answer to QUIT, then close
  };

  void ProcessClient();
  void HandleClientLine(std::string_view line);
  void Authorization(std::string_view verb, std::string_view arg);
  void Transaction(std::string_view verb, std::string_view arg, std::string_view line);
  void HandleAuthResponse(std::string_view line);
  void BeginLogin();
  void SendLogin();
  void ProcessBackend();
  bool TakeBackendLine(std::string* line);
  void OnBackendLine(const std::string& line);
  void OnOversized();
  void KeepHeaderBlock(std::string_view piece);
  void FinishCommand();
  void AfterUidl();
  // The backend's next answer is to `command` (sent now by SendCommand, or already, queued);
  // `number` for RETR/TOP (the UIDL).
  void ExpectAnswer(std::string command, Backend expect, std::string_view number);
  void SendCommand(std::string command, Backend expect, std::string_view number);
  // Kensa's own RETR of `number` is the command in flight.
  void BeginFetch(uint64_t number);
  // Whether `line` (a client command line) is a RETR of the copy read ahead next.
  bool TakesReadAhead(std::string_view line) const;
  uint64_t NextReadAhead() const;  // the number the client's walk asks for next
  // Whether the walk may be read further ahead, to `next` (LIST has it, small enough).
  bool MayReadAhead(uint64_t next) const;
  void MaybeReadAhead();
  // `pipelined`: the answer to the RETR in flight has not all come yet (only to a backend
  // that offers PIPELINING, RFC 2449).
  void QueueReadAhead(bool pipelined);
  void StartQueuedFetch();
  void ReleaseReadAhead();
  void DropReadAheads();
  // Kensa's own RETR is done with the backend (kept, dropped or failed).
  void FinishFetch();
  void ReplyClient(std::string_view line);
  void Fail(std::string_view client_reply);
  void Close();

  Pop3ProxyConfig config_;
  Pop3ProxyHost* host_;
  Phase phase_ = Phase::kAuthorization;
  Backend backend_ = Backend::kIdle;
  bool client_tls_ = false;
  bool awaiting_client_tls_ = false;
  bool busy_ = false;          // inside ProcessClient
  bool scanned_ = false;

  std::string client_in_;      // client bytes not yet processed (one command at a time)
  bool skipping_line_ = false;
  std::string backend_in_;     // backend bytes not yet processed

  // Login.
  std::string user_;
  std::string password_;
  std::string auth_plain_;      // the client's AUTH PLAIN response (base64) when it used AUTH
  bool awaiting_auth_response_ = false;
  bool backend_connected_ = false;  // kept across a failed login, for the next try

  // The command in flight after login.
  std::string command_;         // as sent to the backend, without CRLF
  std::string command_uid_;     // the UIDL of the message RETR/TOP asks for, or ""
  absl::flat_hash_map<std::string, std::string> uids_;  // message number -> UIDL
  absl::flat_hash_map<std::string, uint64_t> sizes_;     // message number -> LIST size

  // Read-ahead.
  struct KeptCopy {
    uint64_t number;
    std::string status;  // the backend's "+OK" line, for the client when it asks
  };
  std::deque<KeptCopy> kept_;  // the copies the host keeps, oldest first
  enum class Fetch {
    kNone,
    kFetching,    // kensa's own RETR: asked of the backend, or being scanned
    kDiscarding,  // longer than LIST said: read to its end and dropped
  };
  Fetch fetch_ = Fetch::kNone;
  uint64_t fetch_number_ = 0;
  std::string fetch_status_;
  // A RETR of kensa's sent while the backend's previous answer is being scanned, so that the
  // backend works on it meanwhile; its answer waits in backend_in_ (0: none).
  uint64_t queued_fetch_ = 0;
  bool backend_pipelining_ = false;  // its CAPA lists PIPELINING
  bool waiting_for_fetch_ = false;  // the client's RETR is the one in flight
  bool releasing_ = false;          // the host sends a kept copy to the client
  bool line_waits_ = false;         // a client command waits for the backend to be free
  uint64_t last_retr_ = 0;          // the number of the client's last RETR (0: none yet)
  bool walking_ = false;            // that RETR was message 1 or followed the one before it
  Pop3DotDecoder decoder_;
  std::string message_;
  uint64_t message_size_ = 0;   // of the scanned response so far, unstuffed
  bool header_block_done_ = false;  // without keep_message: message_ is the header block
};

}  // namespace kensa::net

#endif  // KENSA_NET_POP3_PROXY_SESSION_H_
