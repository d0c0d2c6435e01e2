// SPDX-License-Identifier: GPL-2.0-or-later
// KensaConfig: every setting of kensad, with its safe default, loaded from TOML. An unknown
// key or a bad value is an error naming the key ("smtp.max_recipients: must be > 0").
// The embedded default (no --config) is the whole job on one machine, loopback only.
//
// TOML layout (every key optional):
//   hostname, state_dir, reactors, pin_reactors, recv_buffers, log_file, log_level,
//   drain_timeout, drain_grace
//   [[listener]]  name, address ("127.0.0.1:25"), tls ("none" | "starttls" | "implicit"),
//                 auth ("off" | "optional" | "required": required = submission, MAIL needs AUTH),
//                 protocol ("smtp" | "pop3"; for pop3, starttls means STLS), proxy_protocol,
//                 trusted_proxies, proxy_header_timeout, proxy_header_max_bytes
//   [smtp]        local_domains, max_command_line_bytes, max_data_line_bytes (1048576),
//                 max_recipients, max_message_bytes,
//                 max_commands_per_session, max_errors_per_session, command_timeout,
//                 data_timeout, reject_bare_line_endings, max_connections,
//                 max_connections_per_client, connection_limit_exempt
//   [tls]         cert_file, key_file, self_signed
//   [spool]       dir, min_free_bytes
//   [delivery]    next_hop, relay_next_hop, outbound_next_hop, outbound_tls, tls, connect_timeout, reply_timeout, retry_min,
//                 retry_max, max_queue_lifetime, max_connections_per_next_hop
//   [scan]        enabled, signature_dir, check_canaries, temp_dir, max_scan_bytes,
//                 max_file_bytes, max_recursion, max_files, max_scan_time, part_memory_bytes,
//                 max_mime_depth, max_mime_parts, max_header_bytes, verdict_cache_entries,
//                 whole_message_check, whole_message_max_bytes, reactor_scan_max_bytes,
//                 engine_temp_dir,
//                 prefilter, prefilter_cache_dir, prefilter_min_signatures,
//                 max_bytes_in_flight
//   [policy]      inbound_addresses, inbound_domains, outbound_addresses, outbound_domains,
//                 action ("remove" | "reject" | "quarantine"), unscannable ("infected" |
//                 "pass"), quarantine_dir, subscriber_db, subscriber_db_map_bytes
//   [pop3]        backend ("127.0.0.1:110"), backend_tls ("none" | "starttls" | "implicit"),
//                 plaintext_auth, max_line_bytes, max_message_bytes, command_timeout,
//                 backend_timeout, read_ahead_messages, read_ahead_max_bytes
//   [auth]        backend ("none" | "file" | "dovecot"), passwd_file, dovecot_socket
//                 ("unix:/path" | "inet:host:port"), timeout, sender_rule ("own" | "domain" |
//                 "any"), max_failures, failure_window, failure_delay, max_failure_delay,
//                 max_failures_per_session
//   [provisioning] subscribers_url, poll_interval, connect_timeout, transfer_timeout,
//                 max_bytes, keep_local_domains
//   [signatures]  store_dir, poll_interval, poll_jitter, connect_timeout, transfer_timeout,
//                 max_download_bytes, retry_min, retry_max, keep_sets, max_age_warning
//   [[signatures.feed]]  name, url, kind ("bundle"), public_keys (PEM files); no feed: no
//                 updater, [scan] signature_dir as before (feed/updater_settings.h)
//   [control]     socket (<state_dir>/control.sock), admin_group ("kensa-admin"), max_clients
//                 (16), idle_timeout ("60s")
//   [metrics]     address ("127.0.0.1:9464"; "off" or "" = no metrics endpoint)
// Durations are strings with a unit: "300ms", "30s", "5m", "1h", "5d".
#ifndef KENSA_APPLIANCE_CONFIG_H_
#define KENSA_APPLIANCE_CONFIG_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "feed/updater_settings.h"
#include "server/connection_settings.h"
#include "server/subscription.h"

namespace kensa {

struct KensaConfig {
  // process
  std::string hostname;  // default: gethostname()
  std::string state_dir = "/var/lib/kensa";
  int reactors = 0;  // 0 = one per usable CPU
  bool pin_reactors = true;
  // 16 KiB receive buffers each reactor lends to the kernel (io_uring provided buffers, a power
  // of 2). The kernel takes them in turn, so all of them are touched after a while: 1024 is
  // 16 MiB of resident memory per reactor; fewer only means more ENOBUFS re-arms under bursts.
  int recv_buffers = 1024;
  std::string log_file;  // empty = stderr
  std::string log_level = "info";
  absl::Duration drain_timeout = absl::Seconds(30);
  // Behind a balancer (listeners with proxy_protocol): how long a draining node still takes
  // sessions while it fails the balancer's health checks (a PROXY LOCAL connection gets 421),
  // before its listeners close. Above the balancer's check interval x fall, connections the
  // balancer has already sent never meet a closed port. 0: the listeners close at once.
  absl::Duration drain_grace = absl::ZeroDuration();

  std::vector<ListenerConfig> listeners;

  // smtp
  std::vector<std::string> local_domains;
  size_t max_command_line_bytes = 2048;
  uint64_t max_data_line_bytes = 1u << 20;  // one line of message data; longer: 554 5.6.0
  size_t max_recipients = 1000;
  uint64_t max_message_bytes = 50u << 20;
  size_t max_commands_per_session = 10000;
  size_t max_errors_per_session = 20;
  absl::Duration command_timeout = absl::Minutes(5);
  absl::Duration data_timeout = absl::Minutes(10);
  bool reject_bare_line_endings = true;
  size_t max_connections = 20000;
  size_t max_connections_per_client = 100;
  std::vector<std::string> connection_limit_exempt;

  // tls
  std::string tls_cert_file;  // default <state_dir>/tls/cert.pem
  std::string tls_key_file;   // default <state_dir>/tls/key.pem
  bool tls_self_signed = false;

  // spool
  std::string spool_dir;  // default <state_dir>/spool
  uint64_t spool_min_free_bytes = 100u << 20;

  // delivery
  std::string next_hop = "smtp://127.0.0.1:10025";
  std::string relay_next_hop;  // empty = next_hop
  // Where mail from authenticated senders goes (the ISP's outbound relay); empty = relay hop.
  std::string outbound_next_hop;
  std::string outbound_tls = "required";  // none | opportunistic | required
  std::string delivery_tls = "opportunistic";  // none | opportunistic | required
  absl::Duration connect_timeout = absl::Seconds(30);
  absl::Duration reply_timeout = absl::Minutes(5);
  absl::Duration retry_min = absl::Minutes(1);
  absl::Duration retry_max = absl::Hours(1);
  absl::Duration max_queue_lifetime = absl::Hours(24 * 5);
  size_t max_connections_per_next_hop = 20;

  // scan
  bool scan_enabled = true;
  std::string signature_dir;  // default <state_dir>/signatures
  bool check_canaries = true;
  std::string scan_temp_dir;  // default <state_dir>/tmp
  uint64_t max_scan_bytes = 400ull << 20;  // libclamav MaxScanSize
  uint64_t max_file_bytes = 100ull << 20;  // libclamav MaxFileSize; also the largest part kensa
                                           // buffers for a scan
  uint32_t max_recursion = 17;
  uint32_t max_files = 10000;
  absl::Duration max_scan_time = absl::Seconds(120);
  size_t part_memory_bytes = 1 << 20;
  size_t max_mime_depth = 32;
  size_t max_mime_parts = 2000;
  size_t max_header_bytes = 1 << 20;
  size_t verdict_cache_entries = 100000;  // per reactor
  bool whole_message_check = true;
  uint64_t whole_message_max_bytes = 4ull << 20;
  // A message at most this large is first scanned on its reactor with no libclamav call
  // allowed (scan::ScanSettings::reactor_scan_max_bytes); at most 64 KiB, 0 = off.
  uint64_t reactor_scan_max_bytes = 64 * 1024;
  // The Hyperscan prefilter in front of libclamav (scan/prefilter.h), and where its compiled
  // databases are kept by signature version (default <state_dir>/prefilter).
  bool prefilter = true;
  std::string prefilter_cache_dir;
  // Sets with fewer signatures are scanned by libclamav alone (the prefilter's probe costs
  // about what libclamav costs with a small set).
  uint64_t prefilter_min_signatures = 20000;
  // libclamav's: kensad uses its subdirectory kensa-engine-<hash of state_dir>, emptied at
  // start (appliance/engine_temp_dir.h); empty = $TMPDIR or /tmp.
  std::string engine_temp_dir;
  // Message bytes a reactor's connections may have waiting for its scan worker; above it,
  // connections with a message being scanned stop reading (memory stays bounded under load).
  uint64_t max_scan_bytes_in_flight = 16ull << 20;

  // policy (first version: lists in the configuration)
  std::vector<std::string> inbound_addresses, inbound_domains;
  std::vector<std::string> outbound_addresses, outbound_domains;
  ScanAction scan_action = ScanAction::kRemove;
  UnscannableAction unscannable_action = UnscannableAction::kInfected;
  std::string quarantine_dir;  // default <state_dir>/quarantine
  // The LMDB subscriber store (kensa-subscribers writes it); default <state_dir>/subscribers.
  // Looked up first; the lists above still apply to addresses it does not know.
  std::string subscriber_db;
  uint64_t subscriber_db_map_bytes = 4ull << 30;

  // provisioning (a fleet: every node pulls the subscriber list from the ISP's provisioning
  // system and replaces its store with it; appliance/subscriber_provisioner.h)
  std::string provisioning_subscribers_url;  // empty: no pull
  absl::Duration provisioning_poll_interval = absl::Minutes(5);
  absl::Duration provisioning_connect_timeout = absl::Seconds(30);
  absl::Duration provisioning_transfer_timeout = absl::Minutes(10);
  uint64_t provisioning_max_bytes = 1ull << 30;
  // Domains whose entries are this node's own (kensa-subscribers, the shell): the export does
  // not touch them.
  std::vector<std::string> provisioning_keep_local_domains;

  // pop3 (the proxy in front of the ISP's POP3 server)
  std::string pop3_backend = "127.0.0.1:110";      // an IP literal and port
  std::string pop3_backend_tls = "none";           // none | starttls | implicit
  bool pop3_plaintext_auth = false;                // USER/PASS/AUTH also outside TLS
  size_t pop3_max_line_bytes = 1024;
  uint64_t pop3_max_message_bytes = 100ull << 20;  // larger scanned RETR/TOP: connection closed
  absl::Duration pop3_command_timeout = absl::Minutes(10);  // RFC 1939's autologout minimum
  absl::Duration pop3_backend_timeout = absl::Seconds(60);
  // Messages fetched and scanned ahead of a client that walks its mailbox (README, "POP3
  // proxy"; 0 = off), each of at most read_ahead_max_bytes by the backend's LIST.
  size_t pop3_read_ahead_messages = 3;
  uint64_t pop3_read_ahead_max_bytes = 256 << 10;

  // auth (SMTP AUTH for submission and for subscribers on 25)
  std::string auth_backend = "none";  // none | file | dovecot
  std::string auth_passwd_file;       // user:crypt-hash[:address,...] lines
  std::string auth_dovecot_socket;    // "unix:/run/dovecot/auth-client" or "inet:host:port"
  absl::Duration auth_timeout = absl::Seconds(10);
  SenderRule auth_sender_rule = SenderRule::kOwn;
  // Failed checks per client address within the window (a check counts from its start until
  // it succeeds); and per user, applied only to addresses that have tried that user
  // (README, SMTP AUTH).
  size_t auth_max_failures = 10;
  absl::Duration auth_failure_window = absl::Minutes(10);
  absl::Duration auth_failure_delay = absl::Seconds(1);  // first failure; doubles each time
  absl::Duration auth_max_failure_delay = absl::Seconds(30);
  size_t auth_max_failures_per_session = 3;  // then 421 and close

  // signatures: the updater's feeds and store (defaults in feed/updater_settings.h; store_dir
  // defaults to <state_dir>/signature-store)
  feed::UpdaterSettings signatures;
  // control (the admin socket that kensa-shell talks to; control/control_server.h)
  std::string control_socket;  // default <state_dir>/control.sock
  // Members may use the socket (mode 0660, this group); without the group, root only.
  std::string control_admin_group = "kensa-admin";
  size_t control_max_clients = 16;  // connections at once; more wait in the backlog
  absl::Duration control_idle_timeout = absl::Seconds(60);  // a silent client is closed
  // metrics: Prometheus text exposition at http://<address>/metrics (metrics/); empty = off.
  // Loopback by default: the counters say much about the mail an ISP carries.
  std::string metrics_address = "127.0.0.1:9464";
};

// 127.0.0.1 only, state in ./kensa-data, MX 2525 (STARTTLS, self-signed certificate),
// local domain example.test, Maildir delivery to ./kensa-data/maildir.
KensaConfig EmbeddedDefaultConfig();
// What a program needs of the configuration beyond its syntax: kensad listens, so the TLS
// certificate files must be readable; kensa-scan only takes the scan settings.
enum class ConfigUse { kDaemon, kScanOnly };
absl::StatusOr<KensaConfig> LoadConfig(const std::string& path, ConfigUse use = ConfigUse::kDaemon);
// `source` names the text in errors.
absl::StatusOr<KensaConfig> ParseConfig(std::string_view toml, std::string_view source,
                                        ConfigUse use = ConfigUse::kDaemon);
// Whether a listener speaks TLS (STARTTLS or implicit): then kensad needs a certificate.
bool AnyListenerUsesTls(const KensaConfig& config);
// Whether a listener is behind a balancer (proxy_protocol): then a drain fails its health
// checks for drain_grace before the listeners close.
bool AnyListenerUsesProxy(const KensaConfig& config);
// The effective configuration as TOML (what --check-config prints).
std::string DescribeConfig(const KensaConfig& config);
std::string ScanActionName(ScanAction a);
std::string SenderRuleName(SenderRule r);
std::string ListenerAuthName(ListenerAuth a);
std::string UnscannableActionName(UnscannableAction a);
// "30s", "5m", "1h", "5d", "250ms".
absl::StatusOr<absl::Duration> ParseConfigDuration(std::string_view text);

}  // namespace kensa

#endif  // KENSA_APPLIANCE_CONFIG_H_
