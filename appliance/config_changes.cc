// SPDX-License-Identifier: GPL-2.0-or-later
#include "appliance/config_changes.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace kensa {
namespace {

// (key, value) in the order of the text; the lines of an array of tables are one value.
std::vector<std::pair<std::string, std::string>> KeyedValues(const std::string& described) {
  std::vector<std::pair<std::string, std::string>> out;
  std::string section;
  bool in_array = false;
  for (absl::string_view line : absl::StrSplit(described, '\n')) {
    if (line.empty()) continue;
    if (absl::StartsWith(line, "[[")) {
      section = std::string(absl::StripSuffix(absl::StripPrefix(line, "[["), "]]"));
      in_array = true;
      // Every element is appended to the one entry of its array.
      auto it = std::find_if(out.begin(), out.end(),
                             [&](const auto& kv) { return kv.first == section; });
      if (it == out.end()) out.emplace_back(section, "");
      continue;
    }
    if (absl::StartsWith(line, "[")) {
      section = std::string(absl::StripSuffix(absl::StripPrefix(line, "["), "]"));
      in_array = false;
      continue;
    }
    if (in_array) {
      auto it = std::find_if(out.begin(), out.end(),
                             [&](const auto& kv) { return kv.first == section; });
      absl::StrAppend(&it->second, line, "\n");
      continue;
    }
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(line, absl::MaxSplits(" = ", 1));
    out.emplace_back(section.empty() ? std::string(kv.first) : absl::StrCat(section, ".", kv.first),
                     std::string(kv.second));
  }
  return out;
}

// Settings a reload applies (README, "Changing the configuration of a running kensad").
constexpr std::string_view kLiveKeys[] = {
    "log_level",
    "smtp.",  // every [smtp] key
    "tls.",   // certificate and key are read again at every reload
    "spool.min_free_bytes",
    "delivery.next_hop", "delivery.relay_next_hop", "delivery.outbound_next_hop",
    "delivery.outbound_tls", "delivery.tls", "delivery.connect_timeout",
    "delivery.reply_timeout", "delivery.retry_min", "delivery.retry_max",
    "delivery.max_queue_lifetime",
    "scan.part_memory_bytes", "scan.max_mime_depth", "scan.max_mime_parts",
    "scan.max_header_bytes", "scan.whole_message_check", "scan.whole_message_max_bytes",
    "scan.reactor_scan_max_bytes",
    "scan.max_bytes_in_flight",
    "policy.inbound_addresses", "policy.inbound_domains", "policy.outbound_addresses",
    "policy.outbound_domains", "policy.action", "policy.unscannable",
    "pop3.",  // every [pop3] key
    "auth.backend", "auth.passwd_file", "auth.dovecot_socket", "auth.timeout",
    "auth.sender_rule", "auth.max_failures_per_session",
};

}  // namespace

std::vector<std::string> ChangedKeys(const KensaConfig& before, const KensaConfig& after) {
  const std::vector<std::pair<std::string, std::string>> a = KeyedValues(DescribeConfig(before));
  const std::vector<std::pair<std::string, std::string>> b = KeyedValues(DescribeConfig(after));
  const absl::flat_hash_map<std::string, std::string> old_values(a.begin(), a.end());
  const absl::flat_hash_map<std::string, std::string> new_values(b.begin(), b.end());
  std::vector<std::string> changed;
  for (const auto& kv : b) {
    auto it = old_values.find(kv.first);
    if (it == old_values.end() || it->second != kv.second) changed.push_back(kv.first);
  }
  for (const auto& kv : a) {  // an array whose every element went
    if (!new_values.contains(kv.first)) changed.push_back(kv.first);
  }
  return changed;
}

KensaConfig WithRestartOnlySettingsOf(const KensaConfig& running, const KensaConfig& next) {
  KensaConfig c = next;
  // Every key AppliesWithoutRestart() says no to (the unit test checks the two agree).
  c.hostname = running.hostname;
  c.state_dir = running.state_dir;
  c.reactors = running.reactors;
  c.pin_reactors = running.pin_reactors;
  c.recv_buffers = running.recv_buffers;
  c.log_file = running.log_file;
  c.drain_timeout = running.drain_timeout;
  c.drain_grace = running.drain_grace;
  c.listeners = running.listeners;
  c.spool_dir = running.spool_dir;
  c.max_connections_per_next_hop = running.max_connections_per_next_hop;
  c.scan_enabled = running.scan_enabled;
  c.signature_dir = running.signature_dir;
  c.check_canaries = running.check_canaries;
  c.scan_temp_dir = running.scan_temp_dir;
  c.max_scan_bytes = running.max_scan_bytes;
  c.max_file_bytes = running.max_file_bytes;
  c.max_recursion = running.max_recursion;
  c.max_files = running.max_files;
  c.max_scan_time = running.max_scan_time;
  c.verdict_cache_entries = running.verdict_cache_entries;
  c.engine_temp_dir = running.engine_temp_dir;
  c.prefilter = running.prefilter;
  c.prefilter_cache_dir = running.prefilter_cache_dir;
  c.prefilter_min_signatures = running.prefilter_min_signatures;
  c.quarantine_dir = running.quarantine_dir;
  c.subscriber_db = running.subscriber_db;
  c.subscriber_db_map_bytes = running.subscriber_db_map_bytes;
  c.auth_max_failures = running.auth_max_failures;
  c.auth_failure_window = running.auth_failure_window;
  c.auth_failure_delay = running.auth_failure_delay;
  c.auth_max_failure_delay = running.auth_max_failure_delay;
  c.signatures = running.signatures;
  c.control_socket = running.control_socket;
  c.control_admin_group = running.control_admin_group;
  c.control_max_clients = running.control_max_clients;
  c.control_idle_timeout = running.control_idle_timeout;
  c.metrics_address = running.metrics_address;
  c.provisioning_subscribers_url = running.provisioning_subscribers_url;
  c.provisioning_poll_interval = running.provisioning_poll_interval;
  c.provisioning_connect_timeout = running.provisioning_connect_timeout;
  c.provisioning_transfer_timeout = running.provisioning_transfer_timeout;
  c.provisioning_max_bytes = running.provisioning_max_bytes;
  c.provisioning_keep_local_domains = running.provisioning_keep_local_domains;
  return c;
}

bool AppliesWithoutRestart(std::string_view key) {
  const absl::string_view k(key.data(), key.size());
  for (std::string_view l : kLiveKeys) {
    const absl::string_view live(l.data(), l.size());
    if (absl::EndsWith(live, ".") ? absl::StartsWith(k, live) : k == live) return true;
  }
  return false;
}

}  // namespace kensa
