// SPDX-License-Identifier: GPL-2.0-or-later
#include "appliance/connection_wiring.h"

namespace kensa {

SmtpConnectionSettings SmtpSettingsFrom(const KensaConfig& c) {
  SmtpConnectionSettings s;
  s.hostname = c.hostname;
  s.limits.max_command_line_bytes = c.max_command_line_bytes;
  s.limits.max_recipients = c.max_recipients;
  s.limits.max_data_line_bytes = c.max_data_line_bytes;
  s.limits.max_message_bytes = c.max_message_bytes;
  s.limits.max_commands = c.max_commands_per_session;
  s.limits.max_errors = c.max_errors_per_session;
  s.limits.max_auth_failures = c.auth_max_failures_per_session;
  s.reject_bare_line_endings = c.reject_bare_line_endings;
  s.command_timeout = c.command_timeout;
  s.data_timeout = c.data_timeout;
  s.local_domains = c.local_domains;
  s.spool_min_free_bytes = c.spool_min_free_bytes;
  s.scan_enabled = c.scan_enabled;
  s.max_scan_bytes_in_flight = c.max_scan_bytes_in_flight;
  s.sender_rule = c.auth_sender_rule;
  s.quarantine_dir = c.quarantine_dir;
  return s;
}

Pop3ConnectionSettings Pop3SettingsFrom(const KensaConfig& c) {
  Pop3ConnectionSettings s;
  s.hostname = c.hostname;
  s.backend = c.pop3_backend;
  s.backend_tls = c.pop3_backend_tls;
  s.plaintext_auth = c.pop3_plaintext_auth;
  s.max_line_bytes = c.pop3_max_line_bytes;
  s.max_message_bytes = c.pop3_max_message_bytes;
  s.command_timeout = c.pop3_command_timeout;
  s.backend_timeout = c.pop3_backend_timeout;
  s.read_ahead_messages = c.pop3_read_ahead_messages;
  s.read_ahead_max_bytes = c.pop3_read_ahead_max_bytes;
  s.scan_enabled = c.scan_enabled;
  s.max_scan_bytes_in_flight = c.max_scan_bytes_in_flight;
  return s;
}

}  // namespace kensa
