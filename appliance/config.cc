// SPDX-License-Identifier: GPL-2.0-or-later
// Loading kensa.toml. toml++ parses; this file checks every key against the settings it knows,
// so a typo is an error naming the key instead of a silently ignored line.
#include "appliance/config.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include <toml++/toml.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "core/socket_address.h"
#include "feed/bundle_version.h"
#include "net/next_hop.h"
#include "sigs/signature_set.h"

namespace kensa {
namespace {

std::string DefaultHostname() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

// Reads the keys of one TOML table into settings, remembering which keys were used.
class TableReader {
 public:
  TableReader(const toml::table& table, std::string prefix)
      : table_(table), prefix_(std::move(prefix)) {}

  std::string Name(std::string_view key) const {
    return prefix_.empty() ? std::string(key) : absl::StrCat(prefix_, ".", std::string(key));
  }

  absl::Status Error(std::string_view key, const std::string& what) const {
    return absl::InvalidArgumentError(absl::StrCat(Name(key), ": ", what));
  }

  absl::Status Error(std::string_view key, absl::string_view what) const {
    return Error(key, std::string(what));
  }
  absl::Status Error(std::string_view key, const char* what) const {
    return Error(key, std::string(what));
  }

  const toml::node* Get(std::string_view key) {
    known_.push_back(std::string(key));
    return table_.get(key);
  }

  absl::Status String(std::string_view key, std::string* out) {
    const toml::node* n = Get(key);
    if (n == nullptr) return absl::OkStatus();
    if (!n->is_string()) return Error(key, "must be a string");
    *out = *n->value<std::string>();
    return absl::OkStatus();
  }

  absl::Status Bool(std::string_view key, bool* out) {
    const toml::node* n = Get(key);
    if (n == nullptr) return absl::OkStatus();
    if (!n->is_boolean()) return Error(key, "must be true or false");
    *out = *n->value<bool>();
    return absl::OkStatus();
  }

  template <typename T>
  absl::Status Integer(std::string_view key, T* out, int64_t min, int64_t max) {
    const toml::node* n = Get(key);
    if (n == nullptr) return absl::OkStatus();
    if (!n->is_integer()) return Error(key, "must be an integer");
    int64_t v = *n->value<int64_t>();
    if (v < min || v > max) {
      return Error(key, absl::StrCat("must be between ", min, " and ", max, " (got ", v, ")"));
    }
    *out = static_cast<T>(v);
    return absl::OkStatus();
  }

  absl::Status Duration(std::string_view key, absl::Duration* out, absl::Duration min) {
    const toml::node* n = Get(key);
    if (n == nullptr) return absl::OkStatus();
    if (!n->is_string()) return Error(key, "must be a duration string such as \"30s\"");
    absl::StatusOr<absl::Duration> d = ParseConfigDuration(*n->value<std::string>());
    if (!d.ok()) return Error(key, d.status().message());
    if (*d < min) return Error(key, absl::StrCat("must be at least ", absl::FormatDuration(min)));
    *out = *d;
    return absl::OkStatus();
  }

  absl::Status StringList(std::string_view key, std::vector<std::string>* out) {
    const toml::node* n = Get(key);
    if (n == nullptr) return absl::OkStatus();
    const toml::array* a = n->as_array();
    if (a == nullptr) return Error(key, "must be an array of strings");
    out->clear();
    for (const toml::node& e : *a) {
      if (!e.is_string()) return Error(key, "must be an array of strings");
      out->push_back(*e.value<std::string>());
    }
    return absl::OkStatus();
  }

  // Every key present must have been asked for.
  absl::Status CheckNoUnknownKeys(const std::vector<std::string>& subtables = {}) const {
    for (const auto& [k, v] : table_) {
      std::string key(k.str());
      bool known = std::find(known_.begin(), known_.end(), key) != known_.end() ||
                   std::find(subtables.begin(), subtables.end(), key) != subtables.end();
      if (!known) return absl::InvalidArgumentError(absl::StrCat(Name(key), ": unknown setting"));
    }
    return absl::OkStatus();
  }

 private:
  const toml::table& table_;
  std::string prefix_;
  std::vector<std::string> known_;
};

#define KENSA_RETURN_IF_ERROR(expr)       \
  do {                                    \
    absl::Status _s = (expr);             \
    if (!_s.ok()) return _s;              \
  } while (0)

absl::StatusOr<ListenerTls> ParseListenerTls(std::string_view v) {
  if (v == "none") return ListenerTls::kNone;
  if (v == "starttls") return ListenerTls::kStartTls;
  if (v == "implicit") return ListenerTls::kImplicit;
  return absl::InvalidArgumentError("must be \"none\", \"starttls\" or \"implicit\"");
}

std::string ListenerTlsName(ListenerTls t) {
  switch (t) {
    case ListenerTls::kNone: return "none";
    case ListenerTls::kStartTls: return "starttls";
    case ListenerTls::kImplicit: return "implicit";
  }
  return "none";
}

absl::StatusOr<ListenerAuth> ParseListenerAuth(std::string_view v) {
  if (v == "off") return ListenerAuth::kOff;
  if (v == "optional") return ListenerAuth::kOptional;
  if (v == "required") return ListenerAuth::kRequired;
  return absl::InvalidArgumentError("must be \"off\", \"optional\" or \"required\"");
}

const toml::table* SubTable(const toml::table& root, std::string_view name, absl::Status* err) {
  const toml::node* n = root.get(name);
  if (n == nullptr) return nullptr;
  if (!n->is_table()) *err = absl::InvalidArgumentError(absl::StrCat(std::string(name), ": must be a table"));
  return n->as_table();
}

absl::Status ReadSmtp(TableReader& r, KensaConfig& c) {
  KENSA_RETURN_IF_ERROR(r.StringList("local_domains", &c.local_domains));
  for (std::string& d : c.local_domains) {
    d = absl::AsciiStrToLower(d);
    if (d.empty() || d.find_first_of(" @/<>") != std::string::npos) {
      return r.Error("local_domains", absl::StrCat("not a domain: \"", d, "\""));
    }
  }
  KENSA_RETURN_IF_ERROR(r.Integer("max_command_line_bytes", &c.max_command_line_bytes, 512, 1 << 20));
  // At least RFC 5321's 1000 octets: a smaller limit would refuse conforming mail.
  KENSA_RETURN_IF_ERROR(r.Integer("max_data_line_bytes", &c.max_data_line_bytes, 1000, int64_t{1} << 40));
  KENSA_RETURN_IF_ERROR(r.Integer("max_recipients", &c.max_recipients, 1, 100000));
  KENSA_RETURN_IF_ERROR(r.Integer("max_message_bytes", &c.max_message_bytes, 1024, int64_t{1} << 40));
  KENSA_RETURN_IF_ERROR(r.Integer("max_commands_per_session", &c.max_commands_per_session, 10, 100000000));
  KENSA_RETURN_IF_ERROR(r.Integer("max_errors_per_session", &c.max_errors_per_session, 1, 100000));
  KENSA_RETURN_IF_ERROR(r.Duration("command_timeout", &c.command_timeout, absl::Seconds(1)));
  KENSA_RETURN_IF_ERROR(r.Duration("data_timeout", &c.data_timeout, absl::Seconds(1)));
  KENSA_RETURN_IF_ERROR(r.Bool("reject_bare_line_endings", &c.reject_bare_line_endings));
  KENSA_RETURN_IF_ERROR(r.Integer("max_connections", &c.max_connections, 1, 10000000));
  KENSA_RETURN_IF_ERROR(r.Integer("max_connections_per_client", &c.max_connections_per_client, 1, 10000000));
  KENSA_RETURN_IF_ERROR(r.StringList("connection_limit_exempt", &c.connection_limit_exempt));
  for (const std::string& cidr : c.connection_limit_exempt) {
    if (!CidrBlock::Parse(cidr).ok()) {
      return r.Error("connection_limit_exempt", absl::StrCat("not a network: \"", cidr, "\""));
    }
  }
  return r.CheckNoUnknownKeys();
}

absl::Status ReadDelivery(TableReader& r, KensaConfig& c) {
  KENSA_RETURN_IF_ERROR(r.String("next_hop", &c.next_hop));
  if (absl::StatusOr<net::NextHop> h = net::ParseNextHop(c.next_hop); !h.ok()) {
    return r.Error("next_hop", h.status().message());
  }
  KENSA_RETURN_IF_ERROR(r.String("relay_next_hop", &c.relay_next_hop));
  if (!c.relay_next_hop.empty()) {
    if (absl::StatusOr<net::NextHop> h = net::ParseNextHop(c.relay_next_hop); !h.ok()) {
      return r.Error("relay_next_hop", h.status().message());
    }
  }
  KENSA_RETURN_IF_ERROR(r.String("outbound_next_hop", &c.outbound_next_hop));
  if (!c.outbound_next_hop.empty()) {
    if (absl::StatusOr<net::NextHop> h = net::ParseNextHop(c.outbound_next_hop); !h.ok()) {
      return r.Error("outbound_next_hop", h.status().message());
    }
  }
  for (auto [key, value] : {std::pair{"tls", &c.delivery_tls},
                            std::pair{"outbound_tls", &c.outbound_tls}}) {
    KENSA_RETURN_IF_ERROR(r.String(key, value));
    if (*value != "none" && *value != "opportunistic" && *value != "required") {
      return r.Error(key, "must be \"none\", \"opportunistic\" or \"required\"");
    }
  }
  KENSA_RETURN_IF_ERROR(r.Duration("connect_timeout", &c.connect_timeout, absl::Milliseconds(100)));
  KENSA_RETURN_IF_ERROR(r.Duration("reply_timeout", &c.reply_timeout, absl::Seconds(1)));
  KENSA_RETURN_IF_ERROR(r.Duration("retry_min", &c.retry_min, absl::Milliseconds(100)));
  KENSA_RETURN_IF_ERROR(r.Duration("retry_max", &c.retry_max, absl::Milliseconds(100)));
  if (c.retry_max < c.retry_min) return r.Error("retry_max", "must not be less than retry_min");
  KENSA_RETURN_IF_ERROR(r.Duration("max_queue_lifetime", &c.max_queue_lifetime, absl::Seconds(1)));
  KENSA_RETURN_IF_ERROR(r.Integer("max_connections_per_next_hop", &c.max_connections_per_next_hop, 1, 100000));
  return r.CheckNoUnknownKeys();
}

absl::Status ReadScan(TableReader& r, KensaConfig& c) {
  KENSA_RETURN_IF_ERROR(r.Bool("enabled", &c.scan_enabled));
  KENSA_RETURN_IF_ERROR(r.String("signature_dir", &c.signature_dir));
  KENSA_RETURN_IF_ERROR(r.Bool("check_canaries", &c.check_canaries));
  KENSA_RETURN_IF_ERROR(r.String("temp_dir", &c.scan_temp_dir));
  KENSA_RETURN_IF_ERROR(r.Integer("max_scan_bytes", &c.max_scan_bytes, 1 << 20, int64_t{1} << 40));
  KENSA_RETURN_IF_ERROR(r.Integer("max_file_bytes", &c.max_file_bytes, 1 << 16, int64_t{1} << 40));
  KENSA_RETURN_IF_ERROR(r.Integer("max_recursion", &c.max_recursion, 1, 100));
  KENSA_RETURN_IF_ERROR(r.Integer("max_files", &c.max_files, 1, 10000000));
  KENSA_RETURN_IF_ERROR(r.Duration("max_scan_time", &c.max_scan_time, absl::Seconds(1)));
  KENSA_RETURN_IF_ERROR(r.Integer("part_memory_bytes", &c.part_memory_bytes, 4096, int64_t{1} << 32));
  KENSA_RETURN_IF_ERROR(r.Integer("max_mime_depth", &c.max_mime_depth, 1, 10000));
  KENSA_RETURN_IF_ERROR(r.Integer("max_mime_parts", &c.max_mime_parts, 1, 10000000));
  KENSA_RETURN_IF_ERROR(r.Integer("max_header_bytes", &c.max_header_bytes, 1024, int64_t{1} << 30));
  KENSA_RETURN_IF_ERROR(r.Integer("verdict_cache_entries", &c.verdict_cache_entries, 0, 100000000));
  KENSA_RETURN_IF_ERROR(r.Bool("whole_message_check", &c.whole_message_check));
  KENSA_RETURN_IF_ERROR(r.Integer("whole_message_max_bytes", &c.whole_message_max_bytes, 0,
                                  int64_t{1} << 40));
  // Beyond 64 KiB a message is handed to the worker while it arrives (ScanSession).
  KENSA_RETURN_IF_ERROR(r.Integer("reactor_scan_max_bytes", &c.reactor_scan_max_bytes, 0,
                                  int64_t{64} * 1024));
  KENSA_RETURN_IF_ERROR(r.String("engine_temp_dir", &c.engine_temp_dir));
  KENSA_RETURN_IF_ERROR(r.Integer("max_bytes_in_flight", &c.max_scan_bytes_in_flight, 1 << 20,
                                  int64_t{1} << 40));
  KENSA_RETURN_IF_ERROR(r.Bool("prefilter", &c.prefilter));
  KENSA_RETURN_IF_ERROR(r.String("prefilter_cache_dir", &c.prefilter_cache_dir));
  KENSA_RETURN_IF_ERROR(r.Integer("prefilter_min_signatures", &c.prefilter_min_signatures, 0,
                                  int64_t{1} << 40));
  return r.CheckNoUnknownKeys();
}

absl::Status ReadPolicy(TableReader& r, KensaConfig& c) {
  for (auto [key, list] : {std::pair{"inbound_addresses", &c.inbound_addresses},
                           std::pair{"outbound_addresses", &c.outbound_addresses}}) {
    KENSA_RETURN_IF_ERROR(r.StringList(key, list));
    for (std::string& a : *list) {
      a = absl::AsciiStrToLower(a);
      if (a.find('@') == std::string::npos || a.find_first_of(" <>") != std::string::npos) {
        return r.Error(key, absl::StrCat("not an address: \"", a, "\""));
      }
    }
  }
  for (auto [key, list] : {std::pair{"inbound_domains", &c.inbound_domains},
                           std::pair{"outbound_domains", &c.outbound_domains}}) {
    KENSA_RETURN_IF_ERROR(r.StringList(key, list));
    for (std::string& d : *list) {
      d = absl::AsciiStrToLower(d);
      if (d.empty() || d.find_first_of(" @/<>") != std::string::npos) {
        return r.Error(key, absl::StrCat("not a domain: \"", d, "\""));
      }
    }
  }
  std::string action = ScanActionName(c.scan_action);
  KENSA_RETURN_IF_ERROR(r.String("action", &action));
  if (action == "remove") {
    c.scan_action = ScanAction::kRemove;
  } else if (action == "reject") {
    c.scan_action = ScanAction::kReject;
  } else if (action == "quarantine") {
    c.scan_action = ScanAction::kQuarantine;
  } else {
    return r.Error("action", "must be \"remove\", \"reject\" or \"quarantine\"");
  }
  std::string unscannable = UnscannableActionName(c.unscannable_action);
  KENSA_RETURN_IF_ERROR(r.String("unscannable", &unscannable));
  if (unscannable == "infected") {
    c.unscannable_action = UnscannableAction::kInfected;
  } else if (unscannable == "pass") {
    c.unscannable_action = UnscannableAction::kPass;
  } else {
    return r.Error("unscannable", "must be \"infected\" or \"pass\"");
  }
  KENSA_RETURN_IF_ERROR(r.String("quarantine_dir", &c.quarantine_dir));
  KENSA_RETURN_IF_ERROR(r.String("subscriber_db", &c.subscriber_db));
  KENSA_RETURN_IF_ERROR(r.Integer("subscriber_db_map_bytes", &c.subscriber_db_map_bytes,
                                  1 << 20, int64_t{1} << 42));
  return r.CheckNoUnknownKeys();
}

absl::Status ReadPop3(TableReader& r, KensaConfig& c) {
  KENSA_RETURN_IF_ERROR(r.String("backend", &c.pop3_backend));
  if (absl::StatusOr<SocketAddress> a = ParseSocketAddress(c.pop3_backend); !a.ok()) {
    return r.Error("backend", a.status().message());
  }
  KENSA_RETURN_IF_ERROR(r.String("backend_tls", &c.pop3_backend_tls));
  if (c.pop3_backend_tls != "none" && c.pop3_backend_tls != "starttls" &&
      c.pop3_backend_tls != "implicit") {
    return r.Error("backend_tls", "must be \"none\", \"starttls\" or \"implicit\"");
  }
  KENSA_RETURN_IF_ERROR(r.Bool("plaintext_auth", &c.pop3_plaintext_auth));
  KENSA_RETURN_IF_ERROR(r.Integer("max_line_bytes", &c.pop3_max_line_bytes, 256, 1 << 20));
  KENSA_RETURN_IF_ERROR(r.Integer("max_message_bytes", &c.pop3_max_message_bytes, 1024,
                                  int64_t{1} << 40));
  KENSA_RETURN_IF_ERROR(r.Duration("command_timeout", &c.pop3_command_timeout, absl::Seconds(1)));
  KENSA_RETURN_IF_ERROR(r.Duration("backend_timeout", &c.pop3_backend_timeout, absl::Seconds(1)));
  KENSA_RETURN_IF_ERROR(r.Integer("read_ahead_messages", &c.pop3_read_ahead_messages, 0, 16));
  KENSA_RETURN_IF_ERROR(r.Integer("read_ahead_max_bytes", &c.pop3_read_ahead_max_bytes, 0,
                                  int64_t{1} << 30));
  return r.CheckNoUnknownKeys();
}

absl::Status ReadAuth(TableReader& r, KensaConfig& c) {
  KENSA_RETURN_IF_ERROR(r.String("backend", &c.auth_backend));
  if (c.auth_backend != "none" && c.auth_backend != "file" && c.auth_backend != "dovecot") {
    return r.Error("backend", "must be \"none\", \"file\" or \"dovecot\"");
  }
  KENSA_RETURN_IF_ERROR(r.String("passwd_file", &c.auth_passwd_file));
  if (c.auth_backend == "file" && c.auth_passwd_file.empty()) {
    return r.Error("passwd_file", "needed with backend = \"file\"");
  }
  KENSA_RETURN_IF_ERROR(r.String("dovecot_socket", &c.auth_dovecot_socket));
  if (c.auth_backend == "dovecot" && !absl::StartsWith(c.auth_dovecot_socket, "unix:") &&
      !absl::StartsWith(c.auth_dovecot_socket, "inet:")) {
    return r.Error("dovecot_socket", "must be \"unix:/path\" or \"inet:host:port\"");
  }
  KENSA_RETURN_IF_ERROR(r.Duration("timeout", &c.auth_timeout, absl::Milliseconds(100)));
  std::string rule = SenderRuleName(c.auth_sender_rule);
  KENSA_RETURN_IF_ERROR(r.String("sender_rule", &rule));
  if (rule == "own") {
    c.auth_sender_rule = SenderRule::kOwn;
  } else if (rule == "domain") {
    c.auth_sender_rule = SenderRule::kDomain;
  } else if (rule == "any") {
    c.auth_sender_rule = SenderRule::kAny;
  } else {
    return r.Error("sender_rule", "must be \"own\", \"domain\" or \"any\"");
  }
  KENSA_RETURN_IF_ERROR(r.Integer("max_failures", &c.auth_max_failures, 1, 1000000));
  KENSA_RETURN_IF_ERROR(r.Duration("failure_window", &c.auth_failure_window, absl::Seconds(1)));
  KENSA_RETURN_IF_ERROR(r.Duration("failure_delay", &c.auth_failure_delay, absl::ZeroDuration()));
  KENSA_RETURN_IF_ERROR(r.Duration("max_failure_delay", &c.auth_max_failure_delay,
                                   absl::ZeroDuration()));
  if (c.auth_max_failure_delay < c.auth_failure_delay) {
    return r.Error("max_failure_delay", "must not be less than failure_delay");
  }
  KENSA_RETURN_IF_ERROR(r.Integer("max_failures_per_session", &c.auth_max_failures_per_session,
                                  1, 1000));
  return r.CheckNoUnknownKeys();
}

// [signatures] and its [[signatures.feed]] tables.
absl::Status ReadSignatures(TableReader& r, KensaConfig& c) {
  feed::UpdaterSettings& u = c.signatures;
  KENSA_RETURN_IF_ERROR(r.String("store_dir", &u.store_dir));
  KENSA_RETURN_IF_ERROR(r.Duration("poll_interval", &u.poll_interval, absl::Milliseconds(100)));
  KENSA_RETURN_IF_ERROR(r.Duration("poll_jitter", &u.poll_jitter, absl::ZeroDuration()));
  KENSA_RETURN_IF_ERROR(r.Duration("connect_timeout", &u.connect_timeout, absl::Milliseconds(100)));
  KENSA_RETURN_IF_ERROR(
      r.Duration("transfer_timeout", &u.transfer_timeout, absl::Milliseconds(100)));
  if (u.transfer_timeout < u.connect_timeout) {
    return r.Error("transfer_timeout", "must not be less than connect_timeout");
  }
  KENSA_RETURN_IF_ERROR(r.Integer("max_download_bytes", &u.max_download_bytes, 1024,
                                  int64_t{16} << 30));
  KENSA_RETURN_IF_ERROR(r.Duration("retry_min", &u.retry_min, absl::Milliseconds(100)));
  KENSA_RETURN_IF_ERROR(r.Duration("retry_max", &u.retry_max, absl::Milliseconds(100)));
  if (u.retry_max < u.retry_min) return r.Error("retry_max", "must not be less than retry_min");
  KENSA_RETURN_IF_ERROR(r.Integer("keep_sets", &u.keep_sets, 2, 100));
  KENSA_RETURN_IF_ERROR(r.Duration("max_age_warning", &u.max_age_warning, absl::Minutes(1)));
  if (const toml::node* n = r.Get("feed"); n != nullptr) {
    const toml::array* a = n->as_array();
    if (a == nullptr) return r.Error("feed", "must be an array of tables ([[signatures.feed]])");
    for (size_t i = 0; i < a->size(); ++i) {
      const toml::table* ft = (*a)[i].as_table();
      std::string prefix = absl::StrCat("signatures.feed[", i, "]");
      if (ft == nullptr) {
        return absl::InvalidArgumentError(absl::StrCat(prefix, ": must be a table"));
      }
      TableReader fr(*ft, prefix);
      feed::FeedSettings f;
      KENSA_RETURN_IF_ERROR(fr.String("name", &f.name));
      if (f.name.empty() || f.name.size() > 64 ||
          f.name.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                   "0123456789._-") != std::string::npos ||
          f.name[0] == '.') {
        return fr.Error("name", "must be 1 to 64 of [A-Za-z0-9._-], not starting with '.'");
      }
      KENSA_RETURN_IF_ERROR(fr.String("url", &f.url));
      if (!absl::StartsWith(f.url, "http://") && !absl::StartsWith(f.url, "https://")) {
        return fr.Error("url", "must be an http:// or https:// URL");
      }
      std::string kind = "bundle";
      KENSA_RETURN_IF_ERROR(fr.String("kind", &kind));
      if (kind != "bundle" && kind != "clamav-mirror") {
        return fr.Error("kind", "must be \"bundle\" or \"clamav-mirror\"");
      }
      KENSA_RETURN_IF_ERROR(fr.StringList("public_keys", &f.public_keys));
      if (kind == "bundle") {
        if (f.public_keys.empty()) {
          return fr.Error("public_keys", "must name at least one public key file (PEM)");
        }
      } else {
        f.kind = feed::FeedKind::kClamavMirror;
        // A CVD is checked against ClamAV's key inside libclamav: a key here would be a
        // promise the feed does not keep.
        if (!f.public_keys.empty()) {
          return fr.Error("public_keys", "is for bundle feeds (a CVD carries ClamAV's signature)");
        }
        KENSA_RETURN_IF_ERROR(fr.StringList("databases", &f.databases));
        // Each database is one component of the set's version (feed/bundle_version.h).
        if (f.databases.empty() ||
            f.databases.size() > static_cast<size_t>(feed::kMaxVersionComponents)) {
          return fr.Error("databases", absl::StrCat("must name 1 to ", feed::kMaxVersionComponents,
                                                    " databases"));
        }
        for (size_t d = 0; d < f.databases.size(); ++d) {
          const std::string& db = f.databases[d];
          if (db.empty() || db.size() > 64 ||
              db.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                   "0123456789_-") != std::string::npos) {
            return fr.Error("databases", "names must be 1 to 64 of [A-Za-z0-9_-] (\"daily\")");
          }
          for (size_t e = 0; e < d; ++e) {
            if (f.databases[e] == db) {
              return fr.Error("databases", absl::StrCat("duplicate database \"", db, "\""));
            }
          }
        }
      }
      KENSA_RETURN_IF_ERROR(fr.CheckNoUnknownKeys());
      for (const feed::FeedSettings& other : u.feeds) {
        if (other.name == f.name) {
          return fr.Error("name", absl::StrCat("duplicate feed name \"", f.name, "\""));
        }
      }
      u.feeds.push_back(std::move(f));
    }
  }
  return r.CheckNoUnknownKeys();
}

absl::Status ReadControl(TableReader& r, KensaConfig& c) {
  KENSA_RETURN_IF_ERROR(r.String("socket", &c.control_socket));
  KENSA_RETURN_IF_ERROR(r.String("admin_group", &c.control_admin_group));
  if (c.control_admin_group.empty()) return r.Error("admin_group", "must not be empty");
  KENSA_RETURN_IF_ERROR(r.Integer("max_clients", &c.control_max_clients, 1, 1024));
  KENSA_RETURN_IF_ERROR(r.Duration("idle_timeout", &c.control_idle_timeout, absl::Seconds(1)));
  return r.CheckNoUnknownKeys();
}

absl::Status ReadProvisioning(TableReader& r, KensaConfig& c) {
  KENSA_RETURN_IF_ERROR(r.String("subscribers_url", &c.provisioning_subscribers_url));
  const std::string& url = c.provisioning_subscribers_url;
  if (!url.empty() && !absl::StartsWith(url, "http://") && !absl::StartsWith(url, "https://")) {
    return r.Error("subscribers_url", "must be an http:// or https:// URL");
  }
  KENSA_RETURN_IF_ERROR(
      r.Duration("poll_interval", &c.provisioning_poll_interval, absl::Seconds(1)));
  KENSA_RETURN_IF_ERROR(
      r.Duration("connect_timeout", &c.provisioning_connect_timeout, absl::Seconds(1)));
  KENSA_RETURN_IF_ERROR(
      r.Duration("transfer_timeout", &c.provisioning_transfer_timeout, absl::Seconds(1)));
  KENSA_RETURN_IF_ERROR(r.Integer("max_bytes", &c.provisioning_max_bytes, 1024, INT64_MAX));
  KENSA_RETURN_IF_ERROR(r.StringList("keep_local_domains", &c.provisioning_keep_local_domains));
  for (std::string& d : c.provisioning_keep_local_domains) {
    d = absl::AsciiStrToLower(absl::StripPrefix(d, "@"));
    if (d.empty() || d.find('@') != std::string::npos) {
      return r.Error("keep_local_domains", "a domain (\"isp.example\")");
    }
  }
  return r.CheckNoUnknownKeys();
}

absl::Status ReadMetrics(TableReader& r, KensaConfig& c) {
  KENSA_RETURN_IF_ERROR(r.String("address", &c.metrics_address));
  if (c.metrics_address == "off") c.metrics_address.clear();
  if (!c.metrics_address.empty()) {
    if (absl::StatusOr<SocketAddress> a = ParseSocketAddress(c.metrics_address); !a.ok()) {
      return r.Error("address", absl::StrCat(a.status().message(), " (or \"off\")"));
    }
  }
  return r.CheckNoUnknownKeys();
}

absl::Status ReadListeners(const toml::node& n, KensaConfig& c) {
  const toml::array* a = n.as_array();
  if (a == nullptr) return absl::InvalidArgumentError("listener: must be an array of tables ([[listener]])");
  c.listeners.clear();
  for (size_t i = 0; i < a->size(); ++i) {
    const toml::table* t = (*a)[i].as_table();
    std::string prefix = absl::StrCat("listener[", i, "]");
    if (t == nullptr) return absl::InvalidArgumentError(absl::StrCat(prefix, ": must be a table"));
    TableReader r(*t, prefix);
    ListenerConfig l;
    KENSA_RETURN_IF_ERROR(r.String("name", &l.name));
    KENSA_RETURN_IF_ERROR(r.String("address", &l.address));
    if (absl::StatusOr<SocketAddress> a = ParseSocketAddress(l.address); !a.ok()) {
      return r.Error("address", a.status().message());
    }
    std::string tls = ListenerTlsName(l.tls);
    KENSA_RETURN_IF_ERROR(r.String("tls", &tls));
    absl::StatusOr<ListenerTls> lt = ParseListenerTls(tls);
    if (!lt.ok()) return r.Error("tls", lt.status().message());
    l.tls = *lt;
    std::string auth = ListenerAuthName(l.auth);
    KENSA_RETURN_IF_ERROR(r.String("auth", &auth));
    absl::StatusOr<ListenerAuth> la = ParseListenerAuth(auth);
    if (!la.ok()) return r.Error("auth", la.status().message());
    l.auth = *la;
    std::string protocol = l.protocol == ListenerProtocol::kPop3 ? "pop3" : "smtp";
    KENSA_RETURN_IF_ERROR(r.String("protocol", &protocol));
    if (protocol == "smtp") {
      l.protocol = ListenerProtocol::kSmtp;
    } else if (protocol == "pop3") {
      l.protocol = ListenerProtocol::kPop3;
    } else {
      return r.Error("protocol", "must be \"smtp\" or \"pop3\"");
    }
    KENSA_RETURN_IF_ERROR(r.Bool("proxy_protocol", &l.proxy_protocol));
    KENSA_RETURN_IF_ERROR(r.StringList("trusted_proxies", &l.trusted_proxies));
    for (const std::string& cidr : l.trusted_proxies) {
      if (!CidrBlock::Parse(cidr).ok()) {
        return r.Error("trusted_proxies", absl::StrCat("not a network: \"", cidr, "\""));
      }
    }
    if (l.proxy_protocol && l.trusted_proxies.empty()) {
      return r.Error("trusted_proxies", "proxy_protocol = true needs the balancers' addresses");
    }
    KENSA_RETURN_IF_ERROR(
        r.Duration("proxy_header_timeout", &l.proxy_header_timeout, absl::Milliseconds(1)));
    // 16 bytes of fixed v2 header plus the 216 of a UNIX address block: the least a
    // receiver must take; v1's 107 fit in it.
    KENSA_RETURN_IF_ERROR(
        r.Integer("proxy_header_max_bytes", &l.proxy_header_max_bytes, 232, 16 + 65535));
    if (l.protocol == ListenerProtocol::kSmtp && l.auth == ListenerAuth::kRequired &&
        l.tls == ListenerTls::kNone) {
      return r.Error("auth", "\"required\" needs tls = \"starttls\" or \"implicit\" (AUTH is "
                             "only accepted inside TLS)");
    }
    KENSA_RETURN_IF_ERROR(r.CheckNoUnknownKeys());
    for (const ListenerConfig& other : c.listeners) {
      if (other.name == l.name) return r.Error("name", absl::StrCat("duplicate listener name \"", l.name, "\""));
    }
    c.listeners.push_back(std::move(l));
  }
  return absl::OkStatus();
}

// Fills the settings that default to a place under state_dir.
void ResolveDerived(KensaConfig& c) {
  if (c.hostname.empty()) c.hostname = DefaultHostname();
  if (c.spool_dir.empty()) c.spool_dir = c.state_dir + "/spool";
  if (c.tls_cert_file.empty()) c.tls_cert_file = c.state_dir + "/tls/cert.pem";
  if (c.tls_key_file.empty()) c.tls_key_file = c.state_dir + "/tls/key.pem";
  if (c.signature_dir.empty()) c.signature_dir = c.state_dir + "/signatures";
  if (c.scan_temp_dir.empty()) c.scan_temp_dir = c.state_dir + "/tmp";
  if (c.prefilter_cache_dir.empty()) c.prefilter_cache_dir = c.state_dir + "/prefilter";
  if (c.quarantine_dir.empty()) c.quarantine_dir = c.state_dir + "/quarantine";
  if (c.subscriber_db.empty()) c.subscriber_db = c.state_dir + "/subscribers";
  if (c.signatures.store_dir.empty()) c.signatures.store_dir = c.state_dir + "/signature-store";
  if (c.control_socket.empty()) c.control_socket = c.state_dir + "/control.sock";
}

std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\') out += '\\';
    out += ch;
  }
  return out + "\"";
}

std::string QuoteList(const std::vector<std::string>& v) {
  std::vector<std::string> q;
  for (const std::string& s : v) q.push_back(Quote(s));
  return absl::StrCat("[", absl::StrJoin(q, ", "), "]");
}

std::string Dur(absl::Duration d) { return Quote(absl::FormatDuration(d)); }

}  // namespace

std::string ScanActionName(ScanAction a) {
  switch (a) {
    case ScanAction::kRemove: return "remove";
    case ScanAction::kReject: return "reject";
    case ScanAction::kQuarantine: return "quarantine";
  }
  return "remove";
}

std::string SenderRuleName(SenderRule r) {
  switch (r) {
    case SenderRule::kOwn: return "own";
    case SenderRule::kDomain: return "domain";
    case SenderRule::kAny: return "any";
  }
  return "own";
}

std::string ListenerAuthName(ListenerAuth a) {
  switch (a) {
    case ListenerAuth::kOff: return "off";
    case ListenerAuth::kOptional: return "optional";
    case ListenerAuth::kRequired: return "required";
  }
  return "off";
}

std::string UnscannableActionName(UnscannableAction a) {
  return a == UnscannableAction::kPass ? "pass" : "infected";
}

absl::StatusOr<absl::Duration> ParseConfigDuration(std::string_view text) {
  std::string t(absl::StripAsciiWhitespace(absl::string_view(text.data(), text.size())));
  if (!t.empty() && t.back() == 'd') {
    int64_t days = 0;
    if (!absl::SimpleAtoi(t.substr(0, t.size() - 1), &days) || days < 0) {
      return absl::InvalidArgumentError(absl::StrCat("not a duration: \"", t, "\""));
    }
    return absl::Hours(24 * days);
  }
  absl::Duration d;
  if (t.empty() || !absl::ParseDuration(t, &d) || d < absl::ZeroDuration() ||
      d == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a duration: \"", t, "\" (use e.g. \"250ms\", \"30s\", \"5m\", \"1h\", \"5d\")"));
  }
  return d;
}

KensaConfig EmbeddedDefaultConfig() {
  KensaConfig c;
  c.hostname = "kensa.example.test";
  c.state_dir = "./kensa-data";
  c.reactors = 0;
  c.pin_reactors = false;  // a demo shares the machine with its clients
  auto listener = [](std::string name, std::string address, ListenerTls tls, ListenerAuth auth,
                     ListenerProtocol protocol = ListenerProtocol::kSmtp) {
    ListenerConfig l;
    l.name = std::move(name);
    l.address = std::move(address);
    l.tls = tls;
    l.auth = auth;
    l.protocol = protocol;
    return l;
  };
  c.listeners = {
      listener("mx", "127.0.0.1:2525", ListenerTls::kStartTls, ListenerAuth::kOptional),
      listener("submission", "127.0.0.1:2587", ListenerTls::kStartTls, ListenerAuth::kRequired),
      listener("submissions", "127.0.0.1:2465", ListenerTls::kImplicit, ListenerAuth::kRequired),
      listener("pop3", "127.0.0.1:2110", ListenerTls::kStartTls, ListenerAuth::kOff,
               ListenerProtocol::kPop3),
      listener("pop3s", "127.0.0.1:2995", ListenerTls::kImplicit, ListenerAuth::kOff,
               ListenerProtocol::kPop3)};
  // scripts/demo starts Dovecot there, on the demo Maildir.
  c.pop3_backend = "127.0.0.1:2111";
  // The loopback-only demo user demo@example.test / demo (yescrypt hash in the source tree).
  c.auth_backend = "file";
  c.auth_passwd_file = KENSA_DEMO_PASSWD_FILE;
  c.local_domains = {"example.test"};
  c.connection_limit_exempt = {"127.0.0.0/8", "::1/128"};
  c.tls_self_signed = true;
  c.next_hop = "maildir:./kensa-data/maildir";
  // The demo's "ISP relay" is the demo Maildir: outbound mail of the demo user lands there.
  c.outbound_next_hop = "maildir:./kensa-data/maildir";
  c.retry_min = absl::Seconds(10);
  c.retry_max = absl::Minutes(5);
  c.drain_timeout = absl::Seconds(10);
  c.signature_dir = sigs::BundledSignatureDir();
  // libclamav makes a directory per scan call: on a tmpfs that costs microseconds, on a disk
  // that discards on unlink milliseconds.
  std::error_code ec;
  if (std::filesystem::is_directory("/dev/shm", ec)) c.engine_temp_dir = "/dev/shm";
  c.inbound_domains = {"example.test"};
  c.outbound_domains = {"example.test"};
  ResolveDerived(c);
  return c;
}

absl::StatusOr<KensaConfig> ParseConfig(std::string_view text, std::string_view source,
                                        ConfigUse use) {
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    const toml::source_position& p = e.source().begin;
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(source), ":", p.line, ":", p.column, ": ", std::string(e.description())));
  }
  KensaConfig c;
  c.listeners = {ListenerConfig{}};
  TableReader r(root, "");
  KENSA_RETURN_IF_ERROR(r.String("hostname", &c.hostname));
  KENSA_RETURN_IF_ERROR(r.String("state_dir", &c.state_dir));
  if (c.state_dir.empty()) return r.Error("state_dir", "must not be empty");
  KENSA_RETURN_IF_ERROR(r.Integer("reactors", &c.reactors, 0, 1024));
  KENSA_RETURN_IF_ERROR(r.Bool("pin_reactors", &c.pin_reactors));
  KENSA_RETURN_IF_ERROR(r.Integer("recv_buffers", &c.recv_buffers, 64, 32768));
  if ((c.recv_buffers & (c.recv_buffers - 1)) != 0) {
    return r.Error("recv_buffers", "must be a power of 2");
  }
  KENSA_RETURN_IF_ERROR(r.String("log_file", &c.log_file));
  KENSA_RETURN_IF_ERROR(r.String("log_level", &c.log_level));
  if (c.log_level != "debug" && c.log_level != "info" && c.log_level != "warning" &&
      c.log_level != "error") {
    return r.Error("log_level", "must be \"debug\", \"info\", \"warning\" or \"error\"");
  }
  KENSA_RETURN_IF_ERROR(r.Duration("drain_timeout", &c.drain_timeout, absl::ZeroDuration()));
  KENSA_RETURN_IF_ERROR(r.Duration("drain_grace", &c.drain_grace, absl::ZeroDuration()));

  if (const toml::node* n = root.get("listener"); n != nullptr) {
    KENSA_RETURN_IF_ERROR(ReadListeners(*n, c));
  }
  if (c.listeners.empty()) return absl::InvalidArgumentError("listener: at least one is needed");

  absl::Status err;
  if (const toml::table* t = SubTable(root, "smtp", &err); t != nullptr) {
    TableReader sr(*t, "smtp");
    KENSA_RETURN_IF_ERROR(ReadSmtp(sr, c));
  }
  KENSA_RETURN_IF_ERROR(err);
  if (const toml::table* t = SubTable(root, "tls", &err); t != nullptr) {
    TableReader tr(*t, "tls");
    KENSA_RETURN_IF_ERROR(tr.String("cert_file", &c.tls_cert_file));
    KENSA_RETURN_IF_ERROR(tr.String("key_file", &c.tls_key_file));
    KENSA_RETURN_IF_ERROR(tr.Bool("self_signed", &c.tls_self_signed));
    KENSA_RETURN_IF_ERROR(tr.CheckNoUnknownKeys());
  }
  KENSA_RETURN_IF_ERROR(err);
  if (const toml::table* t = SubTable(root, "spool", &err); t != nullptr) {
    TableReader pr(*t, "spool");
    KENSA_RETURN_IF_ERROR(pr.String("dir", &c.spool_dir));
    KENSA_RETURN_IF_ERROR(pr.Integer("min_free_bytes", &c.spool_min_free_bytes, 0, INT64_MAX));
    KENSA_RETURN_IF_ERROR(pr.CheckNoUnknownKeys());
  }
  KENSA_RETURN_IF_ERROR(err);
  if (const toml::table* t = SubTable(root, "delivery", &err); t != nullptr) {
    TableReader dr(*t, "delivery");
    KENSA_RETURN_IF_ERROR(ReadDelivery(dr, c));
  }
  KENSA_RETURN_IF_ERROR(err);
  if (const toml::table* t = SubTable(root, "scan", &err); t != nullptr) {
    TableReader sr(*t, "scan");
    KENSA_RETURN_IF_ERROR(ReadScan(sr, c));
  }
  KENSA_RETURN_IF_ERROR(err);
  if (const toml::table* t = SubTable(root, "policy", &err); t != nullptr) {
    TableReader pr(*t, "policy");
    KENSA_RETURN_IF_ERROR(ReadPolicy(pr, c));
  }
  KENSA_RETURN_IF_ERROR(err);
  if (const toml::table* t = SubTable(root, "pop3", &err); t != nullptr) {
    TableReader pr(*t, "pop3");
    KENSA_RETURN_IF_ERROR(ReadPop3(pr, c));
  }
  KENSA_RETURN_IF_ERROR(err);
  if (const toml::table* t = SubTable(root, "auth", &err); t != nullptr) {
    TableReader ar(*t, "auth");
    KENSA_RETURN_IF_ERROR(ReadAuth(ar, c));
  }
  KENSA_RETURN_IF_ERROR(err);
  if (const toml::table* t = SubTable(root, "signatures", &err); t != nullptr) {
    TableReader gr(*t, "signatures");
    KENSA_RETURN_IF_ERROR(ReadSignatures(gr, c));
  }
  KENSA_RETURN_IF_ERROR(err);
  if (const toml::table* t = SubTable(root, "control", &err); t != nullptr) {
    TableReader cr(*t, "control");
    KENSA_RETURN_IF_ERROR(ReadControl(cr, c));
  }
  KENSA_RETURN_IF_ERROR(err);
  if (const toml::table* t = SubTable(root, "metrics", &err); t != nullptr) {
    TableReader mr(*t, "metrics");
    KENSA_RETURN_IF_ERROR(ReadMetrics(mr, c));
  }
  KENSA_RETURN_IF_ERROR(err);
  if (const toml::table* t = SubTable(root, "provisioning", &err); t != nullptr) {
    TableReader pr(*t, "provisioning");
    KENSA_RETURN_IF_ERROR(ReadProvisioning(pr, c));
  }
  KENSA_RETURN_IF_ERROR(err);
  KENSA_RETURN_IF_ERROR(r.CheckNoUnknownKeys(
      {"listener", "smtp", "tls", "spool", "delivery", "scan", "policy", "pop3", "auth",
       "signatures", "control", "metrics", "provisioning"}));
  for (const ListenerConfig& l : c.listeners) {
    if (l.protocol == ListenerProtocol::kSmtp && l.auth == ListenerAuth::kRequired &&
        c.auth_backend == "none") {
      return absl::InvalidArgumentError(absl::StrCat(
          "listener \"", l.name, "\": auth = \"required\" needs an [auth] backend"));
    }
  }

  ResolveDerived(c);
  if (use == ConfigUse::kDaemon && AnyListenerUsesTls(c) && !c.tls_self_signed &&
      access(c.tls_cert_file.c_str(), R_OK) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tls.cert_file: cannot read \"", c.tls_cert_file,
        "\" (a listener uses TLS; set tls.cert_file/key_file or tls.self_signed = true)"));
  }
  return c;
}

absl::StatusOr<KensaConfig> LoadConfig(const std::string& path, ConfigUse use) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read config file ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseConfig(ss.str(), path, use);
}

bool AnyListenerUsesTls(const KensaConfig& c) {
  for (const ListenerConfig& l : c.listeners) {
    if (l.tls != ListenerTls::kNone) return true;
  }
  return false;
}

bool AnyListenerUsesProxy(const KensaConfig& c) {
  for (const ListenerConfig& l : c.listeners) {
    if (l.proxy_protocol) return true;
  }
  return false;
}

std::string DescribeConfig(const KensaConfig& c) {
  std::string out;
  absl::StrAppend(&out, "hostname = ", Quote(c.hostname), "\n", "state_dir = ", Quote(c.state_dir),
                  "\n", "reactors = ", c.reactors, "\n", "pin_reactors = ",
                  c.pin_reactors ? "true" : "false", "\n", "recv_buffers = ", c.recv_buffers,
                  "\n", "log_file = ", Quote(c.log_file), "\n",
                  "log_level = ", Quote(c.log_level), "\n", "drain_timeout = ",
                  Dur(c.drain_timeout), "\n", "drain_grace = ", Dur(c.drain_grace), "\n");
  for (const ListenerConfig& l : c.listeners) {
    absl::StrAppend(&out, "\n[[listener]]\nname = ", Quote(l.name), "\naddress = ",
                    Quote(l.address), "\ntls = ", Quote(ListenerTlsName(l.tls)),
                    "\nauth = ", Quote(ListenerAuthName(l.auth)), "\nprotocol = ",
                    Quote(l.protocol == ListenerProtocol::kPop3 ? "pop3" : "smtp"),
                    "\nproxy_protocol = ", l.proxy_protocol ? "true" : "false",
                    "\ntrusted_proxies = ", QuoteList(l.trusted_proxies),
                    "\nproxy_header_timeout = ", Dur(l.proxy_header_timeout),
                    "\nproxy_header_max_bytes = ", l.proxy_header_max_bytes, "\n");
  }
  absl::StrAppend(
      &out, "\n[smtp]\nlocal_domains = ", QuoteList(c.local_domains),
      "\nmax_command_line_bytes = ", c.max_command_line_bytes,
      "\nmax_data_line_bytes = ", c.max_data_line_bytes,
      "\nmax_recipients = ", c.max_recipients, "\nmax_message_bytes = ", c.max_message_bytes,
      "\nmax_commands_per_session = ", c.max_commands_per_session,
      "\nmax_errors_per_session = ", c.max_errors_per_session,
      "\ncommand_timeout = ", Dur(c.command_timeout), "\ndata_timeout = ", Dur(c.data_timeout),
      "\nreject_bare_line_endings = ", c.reject_bare_line_endings ? "true" : "false",
      "\nmax_connections = ", c.max_connections,
      "\nmax_connections_per_client = ", c.max_connections_per_client,
      "\nconnection_limit_exempt = ", QuoteList(c.connection_limit_exempt), "\n");
  absl::StrAppend(&out, "\n[tls]\ncert_file = ", Quote(c.tls_cert_file), "\nkey_file = ",
                  Quote(c.tls_key_file), "\nself_signed = ", c.tls_self_signed ? "true" : "false",
                  "\n");
  absl::StrAppend(&out, "\n[spool]\ndir = ", Quote(c.spool_dir),
                  "\nmin_free_bytes = ", c.spool_min_free_bytes, "\n");
  absl::StrAppend(&out, "\n[delivery]\nnext_hop = ", Quote(c.next_hop),
                  "\nrelay_next_hop = ", Quote(c.relay_next_hop),
                  "\noutbound_next_hop = ", Quote(c.outbound_next_hop),
                  "\noutbound_tls = ", Quote(c.outbound_tls), "\ntls = ", Quote(c.delivery_tls),
                  "\nconnect_timeout = ", Dur(c.connect_timeout),
                  "\nreply_timeout = ", Dur(c.reply_timeout), "\nretry_min = ", Dur(c.retry_min),
                  "\nretry_max = ", Dur(c.retry_max),
                  "\nmax_queue_lifetime = ", Dur(c.max_queue_lifetime),
                  "\nmax_connections_per_next_hop = ", c.max_connections_per_next_hop, "\n");
  absl::StrAppend(
      &out, "\n[scan]\nenabled = ", c.scan_enabled ? "true" : "false",
      "\nsignature_dir = ", Quote(c.signature_dir),
      "\ncheck_canaries = ", c.check_canaries ? "true" : "false",
      "\ntemp_dir = ", Quote(c.scan_temp_dir), "\nmax_scan_bytes = ", c.max_scan_bytes,
      "\nmax_file_bytes = ", c.max_file_bytes, "\nmax_recursion = ", c.max_recursion,
      "\nmax_files = ", c.max_files, "\nmax_scan_time = ", Dur(c.max_scan_time),
      "\npart_memory_bytes = ", c.part_memory_bytes, "\nmax_mime_depth = ", c.max_mime_depth,
      "\nmax_mime_parts = ", c.max_mime_parts, "\nmax_header_bytes = ", c.max_header_bytes,
      "\nverdict_cache_entries = ", c.verdict_cache_entries,
      "\nwhole_message_check = ", c.whole_message_check ? "true" : "false",
      "\nwhole_message_max_bytes = ", c.whole_message_max_bytes,
      "\nreactor_scan_max_bytes = ", c.reactor_scan_max_bytes,
      "\nengine_temp_dir = ", Quote(c.engine_temp_dir),
      "\nmax_bytes_in_flight = ", c.max_scan_bytes_in_flight,
      "\nprefilter = ", c.prefilter ? "true" : "false",
      "\nprefilter_cache_dir = ", Quote(c.prefilter_cache_dir),
      "\nprefilter_min_signatures = ", c.prefilter_min_signatures, "\n");
  absl::StrAppend(&out, "\n[policy]\ninbound_addresses = ", QuoteList(c.inbound_addresses),
                  "\ninbound_domains = ", QuoteList(c.inbound_domains),
                  "\noutbound_addresses = ", QuoteList(c.outbound_addresses),
                  "\noutbound_domains = ", QuoteList(c.outbound_domains),
                  "\naction = ", Quote(ScanActionName(c.scan_action)),
                  "\nunscannable = ", Quote(UnscannableActionName(c.unscannable_action)),
                  "\nquarantine_dir = ", Quote(c.quarantine_dir),
                  "\nsubscriber_db = ", Quote(c.subscriber_db),
                  "\nsubscriber_db_map_bytes = ", c.subscriber_db_map_bytes, "\n");
  absl::StrAppend(&out, "\n[pop3]\nbackend = ", Quote(c.pop3_backend),
                  "\nbackend_tls = ", Quote(c.pop3_backend_tls),
                  "\nplaintext_auth = ", c.pop3_plaintext_auth ? "true" : "false",
                  "\nmax_line_bytes = ", c.pop3_max_line_bytes,
                  "\nmax_message_bytes = ", c.pop3_max_message_bytes,
                  "\ncommand_timeout = ", Dur(c.pop3_command_timeout),
                  "\nbackend_timeout = ", Dur(c.pop3_backend_timeout),
                  "\nread_ahead_messages = ", c.pop3_read_ahead_messages,
                  "\nread_ahead_max_bytes = ", c.pop3_read_ahead_max_bytes, "\n");
  absl::StrAppend(&out, "\n[auth]\nbackend = ", Quote(c.auth_backend),
                  "\npasswd_file = ", Quote(c.auth_passwd_file),
                  "\ndovecot_socket = ", Quote(c.auth_dovecot_socket),
                  "\ntimeout = ", Dur(c.auth_timeout),
                  "\nsender_rule = ", Quote(SenderRuleName(c.auth_sender_rule)),
                  "\nmax_failures = ", c.auth_max_failures,
                  "\nfailure_window = ", Dur(c.auth_failure_window),
                  "\nfailure_delay = ", Dur(c.auth_failure_delay),
                  "\nmax_failure_delay = ", Dur(c.auth_max_failure_delay),
                  "\nmax_failures_per_session = ", c.auth_max_failures_per_session, "\n");
  const feed::UpdaterSettings& u = c.signatures;
  absl::StrAppend(&out, "\n[signatures]\nstore_dir = ", Quote(u.store_dir),
                  "\npoll_interval = ", Dur(u.poll_interval),
                  "\npoll_jitter = ", Dur(u.poll_jitter),
                  "\nconnect_timeout = ", Dur(u.connect_timeout),
                  "\ntransfer_timeout = ", Dur(u.transfer_timeout),
                  "\nmax_download_bytes = ", u.max_download_bytes,
                  "\nretry_min = ", Dur(u.retry_min), "\nretry_max = ", Dur(u.retry_max),
                  "\nkeep_sets = ", u.keep_sets, "\nmax_age_warning = ", Dur(u.max_age_warning),
                  "\n");
  for (const feed::FeedSettings& f : u.feeds) {
    if (f.kind == feed::FeedKind::kClamavMirror) {
      absl::StrAppend(&out, "\n[[signatures.feed]]\nname = ", Quote(f.name), "\nurl = ",
                      Quote(f.url), "\nkind = \"clamav-mirror\"\ndatabases = ",
                      QuoteList(f.databases), "\n");
      continue;
    }
    absl::StrAppend(&out, "\n[[signatures.feed]]\nname = ", Quote(f.name), "\nurl = ",
                    Quote(f.url), "\nkind = \"bundle\"\npublic_keys = ", QuoteList(f.public_keys),
                    "\n");
  }
  absl::StrAppend(&out, "\n[provisioning]\nsubscribers_url = ",
                  Quote(c.provisioning_subscribers_url),
                  "\npoll_interval = ", Dur(c.provisioning_poll_interval),
                  "\nconnect_timeout = ", Dur(c.provisioning_connect_timeout),
                  "\ntransfer_timeout = ", Dur(c.provisioning_transfer_timeout),
                  "\nmax_bytes = ", c.provisioning_max_bytes,
                  "\nkeep_local_domains = ", QuoteList(c.provisioning_keep_local_domains),
                  "\n");
  absl::StrAppend(&out, "\n[control]\nsocket = ", Quote(c.control_socket),
                  "\nadmin_group = ", Quote(c.control_admin_group),
                  "\nmax_clients = ", c.control_max_clients,
                  "\nidle_timeout = ", Dur(c.control_idle_timeout), "\n");
  absl::StrAppend(&out, "\n[metrics]\naddress = ",
                  Quote(c.metrics_address.empty() ? "off" : c.metrics_address), "\n");
  return out;
}

}  // namespace kensa
