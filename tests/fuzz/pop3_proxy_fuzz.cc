// SPDX-License-Identifier: GPL-2.0-or-later
// The POP3 proxy reads a client from the Internet and a backend it trusts less than itself:
// whatever either sends, in whatever cuts, the session must not crash, grow without bound,
// send the backend anything before the login or outside the checked commands, or end a
// message towards the client that the backend did not finish.
//
// Input layout: byte 0 selects the configuration; the rest is a script cut at 0x1f bytes,
// each piece starting with a selector: 'c' client bytes, 'b' backend bytes, 'C' backend
// connected, 'F' backend failed, 'X' backend closed, 'T' client TLS done, 'S' backend TLS
// done, 'D' deliver the scanned message (keep it, read ahead; or send a kept one), 'L' a
// local failure of a read-ahead's scan, 'O' client timeout, 'B' backend timeout.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "net/pop3_proxy_session.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using kensa::net::Pop3ProxyConfig;
using kensa::net::Pop3ProxyHost;
using kensa::net::Pop3ProxySession;
using Phase = Pop3ProxySession::Phase;

class FuzzHost : public Pop3ProxyHost {
 public:
  void SendToClient(std::string_view b) override {
    Check(!closed);
    to_client += b.size();
  }
  void StartClientTls() override { tls_pending = true; }
  void ConnectBackend() override {
    Check(!closed);
    connecting = true;
  }
  void SendToBackend(std::string_view b) override {
    Check(!closed);
    // Only whole command lines reach the backend outside the relay.
    if (session->phase() != Phase::kRelay) {
      Check(!b.empty() && b.back() == '\n');
      Check(b.find('\n') == b.size() - 1);
    }
  }
  void StartBackendTls() override { backend_tls_pending = true; }
  bool MailboxScanned(const std::string& user) override {
    Check(!user.empty());
    return scan;
  }
  void BeginScan(std::string_view command, std::string_view uid) override {
    Check(!scanning);
    scanning = true;
    bytes = 0;
  }
  void ScanData(std::string_view b) override {
    Check(scanning);
    bytes += b.size();
  }
  void EndScan() override {
    if (oversized) {  // only the header block is left
      oversized = false;
      Check(session->message().size() <= max_message);
      awaiting_delivery = true;
      return;
    }
    Check(scanning);
    Check(bytes == session->message().size());
    Check(bytes <= max_message);
    scanning = false;
    awaiting_delivery = true;
  }
  bool PassOversized() override {
    Check(scanning);
    scanning = false;
    oversized = !pass_oversized;  // passed on: no EndScan follows
    return pass_oversized;
  }
  void SendReadAhead(std::string_view status) override {
    Check(kept > 0 && !releasing);
    Check(status.substr(0, 3) == "+OK" && status.find('\n') == status.size() - 1);
    to_client += status.size();
    --kept;
    releasing = true;  // delivered at the next 'D'
  }
  void DropReadAhead() override {
    kept = 0;
    if (session->reading_ahead_unasked()) scanning = awaiting_delivery = false;
  }
  void CloseConnection() override {
    Check(!closed);
    closed = true;
  }

  Pop3ProxySession* session = nullptr;
  bool scan = true;
  bool closed = false, connecting = false, tls_pending = false, backend_tls_pending = false;
  bool scanning = false, awaiting_delivery = false, oversized = false, pass_oversized = false;
  bool releasing = false;  // a kept copy on its way to the client
  size_t kept = 0;         // read-ahead copies kept
  uint64_t bytes = 0, to_client = 0, max_message = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  Pop3ProxyConfig c;
  c.hostname = "pop.fuzz.test";
  c.stls_available = (flags & 1) != 0;
  c.implicit_tls = (flags & 2) != 0;
  c.plaintext_auth = (flags & 4) != 0;
  c.backend_stls = (flags & 8) != 0;
  c.max_line_bytes = (flags & 16) != 0 ? 256 : 1024;
  c.max_message_bytes = (flags & 32) != 0 ? 300 : 1 << 20;
  c.read_ahead_messages = (((flags >> 4) ^ flags) & 1) != 0 ? 1 + 2 * ((flags >> 2) & 1) : 0;
  c.read_ahead_max_bytes = (flags & 2) != 0 ? 200 : 1 << 20;
  FuzzHost host;
  host.scan = (flags & 64) == 0;
  host.max_message = c.max_message_bytes;
  host.pass_oversized = (flags & 128) != 0;
  Pop3ProxySession s(c, &host);
  host.session = &s;
  s.Start();
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  while (!in.empty() && !host.closed) {
    const size_t cut = in.find('\x1f');
    std::string_view piece = in.substr(0, cut);
    in = cut == std::string_view::npos ? std::string_view() : in.substr(cut + 1);
    if (piece.empty()) continue;
    const char op = piece[0];
    piece.remove_prefix(1);
    switch (op) {
      case 'c': s.FeedClient(piece); break;
      case 'b': s.FeedBackend(piece); break;
      case 'C':
        if (host.connecting) {
          host.connecting = false;
          s.OnBackendConnected();
        }
        break;
      case 'F':
        host.connecting = false;
        s.OnBackendFailed("fuzz");
        break;
      case 'X': s.OnBackendClosed(); break;
      case 'T':
        if (host.tls_pending) {
          host.tls_pending = false;
          s.OnClientTlsEstablished();
        }
        break;
      case 'S':
        if (host.backend_tls_pending) {
          host.backend_tls_pending = false;
          s.OnBackendTlsEstablished();
        }
        break;
      case 'D':
        if (host.releasing) {
          host.releasing = false;
          s.DeliverMessage(piece);
        } else if (host.awaiting_delivery && s.reading_ahead_unasked()) {
          host.awaiting_delivery = false;
          ++host.kept;
          s.OnReadAheadReady();
        } else if (host.awaiting_delivery) {
          host.awaiting_delivery = false;
          s.DeliverMessage(std::string(piece) + std::string(s.message()));
        }
        break;
      case 'L':
        if (host.awaiting_delivery && s.reading_ahead_unasked()) {
          host.awaiting_delivery = false;
          host.kept = 0;
          s.OnReadAheadDropped();
        }
        break;
      case 'O': s.OnClientTimeout(); break;
      case 'B': s.OnBackendTimeout(); break;
      default: break;
    }
    Check(host.closed == (s.phase() == Phase::kClosed));
    if (!host.closed) Check(s.read_ahead_kept() == host.kept);
  }
  s.Shutdown();
  Check(s.phase() == Phase::kClosed && host.closed);
  return 0;
}
