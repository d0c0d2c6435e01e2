// SPDX-License-Identifier: GPL-2.0-or-later
#include "appliance/live_settings.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "appliance/connection_wiring.h"
#include "appliance/directories.h"
#include "appliance/queue_wiring.h"
#include "appliance/subscriber_policy.h"
#include "auth/auth_backend_factory.h"
#include "net/self_signed_cert.h"

namespace kensa {
namespace {

absl::Status Keyed(const char* key, const absl::Status& s) {
  return absl::Status(s.code(), absl::StrCat(key, ": ", s.message()));
}

// `tls` ([delivery] tls or outbound_tls) applies unless the URI says "?tls=" itself.
absl::StatusOr<net::NextHop> HopFromConfig(const std::string& uri, const std::string& tls) {
  absl::StatusOr<net::NextHop> hop = net::ParseNextHop(uri);
  if (!hop.ok()) return hop.status();
  if (!absl::StrContains(uri, "tls=")) {
    if (tls == "none") hop->tls = net::TlsPolicy::kNone;
    if (tls == "required") hop->tls = net::TlsPolicy::kRequired;
    if (tls == "opportunistic") hop->tls = net::TlsPolicy::kOpportunistic;
  }
  return hop;
}

absl::Status SetHops(const KensaConfig& c, LiveSettings& s) {
  absl::StatusOr<net::NextHop> local = HopFromConfig(c.next_hop, c.delivery_tls);
  if (!local.ok()) return Keyed("delivery.next_hop", local.status());
  s.local_hop = *local;
  // relay_next_hop defaults to next_hop, and outbound_next_hop to the relay hop.
  absl::StatusOr<net::NextHop> relay =
      c.relay_next_hop.empty() ? absl::StatusOr<net::NextHop>(s.local_hop)
                               : HopFromConfig(c.relay_next_hop, c.delivery_tls);
  if (!relay.ok()) return Keyed("delivery.relay_next_hop", relay.status());
  s.relay_hop = *relay;
  absl::StatusOr<net::NextHop> outbound =
      c.outbound_next_hop.empty() ? absl::StatusOr<net::NextHop>(s.relay_hop)
                                  : HopFromConfig(c.outbound_next_hop, c.outbound_tls);
  if (!outbound.ok()) return Keyed("delivery.outbound_next_hop", outbound.status());
  s.outbound_hop = *outbound;
  for (const net::NextHop* hop : {&s.local_hop, &s.relay_hop, &s.outbound_hop}) {
    if (hop->kind != net::NextHop::Kind::kMaildir) continue;
    if (absl::Status st = MakeDirs(hop->path); !st.ok()) return Keyed("delivery", st);
  }
  return absl::OkStatus();
}

absl::Status SetServerTls(const KensaConfig& c, LiveSettings& s) {
  if (!AnyListenerUsesTls(c)) return absl::OkStatus();
  if (c.tls_self_signed) {
    absl::Status st = net::EnsureSelfSignedCertificate(c.tls_cert_file, c.tls_key_file, c.hostname);
    if (!st.ok()) return Keyed("tls", st);
  }
  net::TlsServerOptions so;
  so.cert_file = c.tls_cert_file;
  so.key_file = c.tls_key_file;
  absl::StatusOr<std::shared_ptr<net::TlsContext>> ctx = net::TlsContext::CreateServer(so);
  if (!ctx.ok()) return Keyed("tls", ctx.status());
  s.server_tls = *std::move(ctx);
  return absl::OkStatus();
}

absl::Status SetAuth(const KensaConfig& c, LiveSettings& s) {
  if (c.auth_backend == "none") return absl::OkStatus();
  auth::AuthBackendOptions o;
  o.kind = c.auth_backend;
  o.passwd_file = c.auth_passwd_file;
  o.dovecot_endpoint = c.auth_dovecot_socket;
  o.timeout = c.auth_timeout;
  absl::StatusOr<std::unique_ptr<auth::AuthBackend>> backend = auth::MakeAuthBackend(o);
  if (!backend.ok()) return Keyed("auth", backend.status());
  s.auth = std::shared_ptr<auth::AuthBackend>(std::move(*backend));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::shared_ptr<const LiveSettings>> BuildLiveSettings(
    const KensaConfig& c, const LiveSettingsInputs& in) {
  auto s = std::make_shared<LiveSettings>();
  s->generation = in.previous != nullptr ? in.previous->generation + 1 : 1;
  s->config = c;
  s->smtp = SmtpSettingsFrom(c);
  s->pop3 = Pop3SettingsFrom(c);
  if (absl::Status st = SetServerTls(c, *s); !st.ok()) return st;
  // The passwd file is read again too: a reload is how an edit of it takes effect.
  if (absl::Status st = SetAuth(c, *s); !st.ok()) return st;
  if (absl::Status st = SetHops(c, *s); !st.ok()) return st;
  if (c.scan_enabled && c.scan_action == ScanAction::kQuarantine) {
    if (absl::Status st = MakeDirs(c.quarantine_dir); !st.ok()) {
      return Keyed("policy.quarantine_dir", st);
    }
  }
  s->policy = std::make_shared<StoreSubscriberPolicy>(in.subscribers, c);
  s->scan.mime.max_depth = c.max_mime_depth;
  s->scan.mime.max_parts = c.max_mime_parts;
  s->scan.mime.max_header_bytes = c.max_header_bytes;
  s->scan.part_memory_bytes = c.part_memory_bytes;
  s->scan.max_part_bytes = c.max_file_bytes;
  s->scan.temp_dir = c.scan_temp_dir;
  s->scan.whole_message_check = c.whole_message_check;
  s->scan.whole_message_max_bytes = c.whole_message_max_bytes;
  s->scan.reactor_scan_max_bytes = c.reactor_scan_max_bytes;
  s->delivery = DeliverySettingsFrom(c, in.reactors);
  return std::shared_ptr<const LiveSettings>(std::move(s));
}

}  // namespace kensa
