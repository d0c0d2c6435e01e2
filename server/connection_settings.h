// SPDX-License-Identifier: GPL-2.0-or-later
// What the client connections read of the configuration, and nothing more: the listener a
// connection was accepted on, and one settings struct per protocol. appliance/config.h loads
// them (as part of KensaConfig) and the wiring copies the fields over, so a connection is
// built in a test without a configuration file.
#ifndef KENSA_SERVER_CONNECTION_SETTINGS_H_
#define KENSA_SERVER_CONNECTION_SETTINGS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "net/smtp_server_session.h"

namespace kensa {

enum class ListenerTls { kNone, kStartTls, kImplicit };
// kOptional: AUTH is offered (inside TLS) when a backend is configured, and unauthenticated
// mail is still accepted for local domains (MX on 25). kRequired: MAIL needs AUTH (submission).
enum class ListenerAuth { kOff, kOptional, kRequired };
enum class ListenerProtocol { kSmtp, kPop3 };

struct ListenerConfig {
  std::string name = "mx";
  std::string address = "0.0.0.0:25";
  ListenerTls tls = ListenerTls::kStartTls;
  ListenerAuth auth = ListenerAuth::kOptional;
  ListenerProtocol protocol = ListenerProtocol::kSmtp;
  // Behind an L4 load balancer: every connection starts with a PROXY protocol header (v1 or
  // v2) naming the client, accepted only from trusted_proxies (CIDRs); the client's address
  // then stands for the socket's everywhere (logs, limits, Received). A connection from any
  // other address, or whose header is bad, late or too long, is closed and logged.
  bool proxy_protocol = false;
  std::vector<std::string> trusted_proxies;
  absl::Duration proxy_header_timeout = absl::Seconds(5);
  size_t proxy_header_max_bytes = 536;  // the specification's advice for receivers
};

// Which envelope senders an authenticated user may use: its own addresses (the login name and
// the addresses its backend lists, plus "+tag" forms), any address in those addresses'
// domains, or anything.
enum class SenderRule { kOwn, kDomain, kAny };

struct SmtpConnectionSettings {
  std::string hostname = "localhost";  // greeting, trace header, notices
  net::SmtpServerLimits limits;        // [smtp] max_*, [auth] max_failures_per_session
  bool reject_bare_line_endings = true;
  absl::Duration command_timeout = absl::Minutes(5);
  absl::Duration data_timeout = absl::Minutes(10);
  // Unauthenticated clients reach these domains only (lower case).
  std::vector<std::string> local_domains;
  uint64_t spool_min_free_bytes = 100u << 20;  // below it, MAIL gets 452
  bool scan_enabled = true;
  // The reactor's message bytes waiting for its scan worker; above it, input pauses.
  uint64_t max_scan_bytes_in_flight = 16ull << 20;
  SenderRule sender_rule = SenderRule::kOwn;
  std::string quarantine_dir;
};

struct Pop3ConnectionSettings {
  std::string hostname = "localhost";
  std::string backend = "127.0.0.1:110";  // an IP literal and port
  std::string backend_tls = "none";       // none | starttls | implicit
  bool plaintext_auth = false;
  size_t max_line_bytes = 1024;
  uint64_t max_message_bytes = 100ull << 20;
  absl::Duration command_timeout = absl::Minutes(10);
  absl::Duration backend_timeout = absl::Seconds(60);
  size_t read_ahead_messages = 3;
  uint64_t read_ahead_max_bytes = 256 << 10;
  bool scan_enabled = true;
  uint64_t max_scan_bytes_in_flight = 16ull << 20;
};

// `domain` is one of `local_domains` (case-insensitive; a trailing dot is ignored).
bool IsLocalDomain(const std::vector<std::string>& local_domains, std::string_view domain);

}  // namespace kensa

#endif  // KENSA_SERVER_CONNECTION_SETTINGS_H_
