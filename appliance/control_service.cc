// SPDX-License-Identifier: GPL-2.0-or-later
#include "appliance/control_service.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "appliance/config.h"
#include "core/log.h"
#include "queue/delivery_agent.h"
#include "spool/spool_shard.h"
#include "subscribers/subscribers_cli.h"

namespace kensa {
namespace {

using control::CommandId;
using control::CommandResult;

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

std::string Seconds(absl::Duration d) { return absl::StrCat(absl::ToInt64Seconds(d)); }

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out = absl::StrSplit(text, '\n');
  if (!out.empty() && out.back().empty()) out.pop_back();
  return out;
}

}  // namespace

std::string Field(std::string_view key, std::string_view value) {
  const bool quote = value.empty() || value.find_first_of(" \t\"=\\") != std::string_view::npos;
  std::string out(key);
  out += '=';
  if (!quote) return out.append(value);
  std::string q = "\"";
  for (char ch : value) {
    if (ch == '"' || ch == '\\') q += '\\';
    q += ch;
  }
  return out + q + "\"";
}

CommandResult ControlService::Run(const control::ParsedCommand& command,
                                  const std::vector<std::string>& body,
                                  const control::PeerIdentity& /*who: the server audits*/) {
  const std::vector<std::string>& a = command.args;
  switch (command.spec->id) {
    case CommandId::kShowStatus:
      return ShowStatus();
    case CommandId::kShowConnections:
      return ShowConnections();
    case CommandId::kShowReactors:
      return ShowReactors();
    case CommandId::kShowCounters:
      return ShowCounters();
    case CommandId::kShowQueue:
      return ShowQueue();
    case CommandId::kQueueFlush:
      return FlushQueue();
    case CommandId::kQueueHold:
      return HoldOrRelease(a[0], true);
    case CommandId::kQueueRelease:
      return HoldOrRelease(a[0], false);
    case CommandId::kQueueDelete:
      return DeleteQueued(a[0]);
    case CommandId::kShowMessage:
      return ShowMessage(a[0]);
    case CommandId::kShowQuarantine:
      return ShowQuarantine();
    case CommandId::kQuarantineShow:
      return ShowQuarantined(a[0]);
    case CommandId::kQuarantineRelease:
      return ReleaseQuarantined(a[0]);
    case CommandId::kQuarantineDelete:
      return DeleteQuarantined(a[0]);
    case CommandId::kShowSignatures:
      return ShowSignatures();
    case CommandId::kSignaturesHistory:
      return SignaturesHistory();
    case CommandId::kSignaturesUpdate:
      return SignaturesUpdate();
    case CommandId::kSignaturesRollback:
      return SignaturesRollback();
    case CommandId::kSubscriberShow:
    case CommandId::kSubscriberAdd:
    case CommandId::kSubscriberRemove:
    case CommandId::kSubscriberImport:
      return Subscriber(command, body);
    case CommandId::kShowConfig:
      return ShowConfig();
    case CommandId::kConfigCheck:
      return CheckConfig();
    case CommandId::kConfigReload:
      return ReloadConfig();
    case CommandId::kLogTail:
      return LogTail(a);
    case CommandId::kServiceDrain:
      return ServiceDrain();
    case CommandId::kServiceResume:
      return ServiceResume();
  }
  return CommandResult::Error("unknown command");
}

CommandResult ControlService::ShowStatus() {
  struct ReactorView {
    size_t connections = 0, queued = 0, held = 0;
  };
  absl::StatusOr<std::vector<ReactorView>> views =
      AskEachShard<ReactorView>([](Shard& s, std::function<void(ReactorView)> reply) {
        ReactorView v;
        v.connections = s.connection_count();
        for (const queue::DeliveryAgent::QueuedMessage& m : s.delivery().List()) {
          ++v.queued;
          if (m.held) ++v.held;
        }
        reply(v);
      });
  if (!views.ok()) return CommandResult::Error(std::string(views.status().message()));
  ReactorView total;
  for (const ReactorView& v : *views) {
    total.connections += v.connections;
    total.queued += v.queued;
    total.held += v.held;
  }
  const absl::Time now = absl::Now();
  const Runtime& rt = *ctx_.runtime;
  CommandResult r;
  r.lines = {absl::StrCat("version ", ctx_.version),
             absl::StrCat("hostname ", rt.config.hostname),
             absl::StrCat("started ", Rfc3339(ctx_.started)),
             absl::StrCat("uptime_seconds ", Seconds(now - ctx_.started)),
             absl::StrCat("reactors ", reactors()),
             absl::StrCat("accepting ", rt.accepting.load() ? "yes" : "no (service drain)"),
             absl::StrCat("connections ", total.connections),
             absl::StrCat("queue_messages ", total.queued),
             absl::StrCat("queue_held ", total.held)};
  std::shared_ptr<const sigs::SignatureSet> set = ctx_.runtime->signatures.Current();
  if (set != nullptr) {
    const sigs::SignatureSetInfo& i = set->info();
    r.lines.push_back(absl::StrCat("signature_version ", i.version));
    r.lines.push_back(absl::StrCat("signature_loaded ", Rfc3339(i.loaded_at)));
    r.lines.push_back(absl::StrCat("signature_age_seconds ", Seconds(now - i.loaded_at)));
  } else {
    r.lines.push_back("signature_version none");
  }
  r.lines.push_back(absl::StrCat("signature_reloads ", rt.counters.Sum(rt.ids.signature_reloads)));
  r.lines.push_back(absl::StrCat("signature_reload_failures ",
                                 rt.counters.Sum(rt.ids.signature_reload_failures)));
  // The updater's last check (feeds configured), for a status an operator reads at a glance.
  if (rt.updater != nullptr) {
    const feed::UpdaterStatus st = rt.updater->Status();
    r.lines.push_back(absl::StrCat(
        "signature_last_update ",
        st.last_check == absl::InfinitePast() ? "never" : Rfc3339(st.last_check), " ",
        st.last_result.empty() ? "-" : st.last_result));
    if (!st.last_error.empty()) {
      r.lines.push_back(absl::StrCat("signature_last_error ", st.last_error));
    }
  } else {
    r.lines.push_back("signature_last_update none (no feed configured)");
  }
  if (rt.provisioner != nullptr) {
    const ProvisioningStatus ps = rt.provisioner->Status();
    r.lines.push_back(absl::StrCat(
        "subscribers_last_update ",
        ps.last_check == absl::InfinitePast() ? "never" : Rfc3339(ps.last_check), " ",
        ps.last_result.empty() ? "-" : ps.last_result));
    if (!ps.last_error.empty()) {
      r.lines.push_back(absl::StrCat("subscribers_last_error ", ps.last_error));
    }
  }
  r.lines.push_back(absl::StrCat("config_generation ", rt.live.Current()->generation));
  // The spool's disk: below [spool] min_free_bytes kensad answers 452 to new mail.
  absl::StatusOr<uint64_t> free = spool::FreeBytes(rt.config.spool_dir);
  r.lines.push_back(free.ok() ? absl::StrCat("spool_free_bytes ", *free)
                              : absl::StrCat("spool_free_bytes unknown (", free.status().message(), ")"));
  return r;
}

CommandResult ControlService::ServiceDrain() {
  const absl::Duration grace =
      AnyListenerUsesProxy(ctx_.runtime->config) ? ctx_.runtime->config.drain_grace
                                                 : absl::ZeroDuration();
  absl::StatusOr<std::vector<size_t>> open =
      AskEachShard<size_t>([grace](Shard& s, std::function<void(size_t)> reply) {
        reply(s.StopListening(grace));
      });
  if (!open.ok()) return CommandResult::Error(std::string(open.status().message()));
  size_t sessions = 0;
  for (size_t n : *open) sessions += n;
  ctx_.runtime->accepting.store(false);
  KLOG(kWarning, "service_drain").Kv("sessions", sessions).Kv("by", "shell");
  CommandResult r;
  r.lines = {"accepting no", absl::StrCat("sessions_finishing ", sessions)};
  if (grace > absl::ZeroDuration()) {
    r.lines.push_back(absl::StrCat("health_checks failing; listeners close in ",
                                   absl::FormatDuration(grace)));
  }
  return r;
}

CommandResult ControlService::ServiceResume() {
  absl::StatusOr<std::vector<std::string>> errors =
      AskEachShard<std::string>([](Shard& s, std::function<void(std::string)> reply) {
        absl::Status st = s.StartListening();
        reply(st.ok() ? "" : std::string(st.message()));
      });
  if (!errors.ok()) return CommandResult::Error(std::string(errors.status().message()));
  for (const std::string& e : *errors) {
    if (!e.empty()) return CommandResult::Error(absl::StrCat("not accepting again: ", e));
  }
  ctx_.runtime->accepting.store(true);
  KLOG(kInfo, "service_resume").Kv("by", "shell");
  CommandResult r;
  r.lines = {"accepting yes"};
  return r;
}

CommandResult ControlService::ShowConnections() {
  absl::StatusOr<std::vector<std::vector<Shard::ConnectionView>>> views =
      AskEachShard<std::vector<Shard::ConnectionView>>(
          [](Shard& s, std::function<void(std::vector<Shard::ConnectionView>)> reply) {
            reply(s.DescribeConnections());
          });
  if (!views.ok()) return CommandResult::Error(std::string(views.status().message()));
  CommandResult r;
  for (size_t i = 0; i < views->size(); ++i) {
    for (const Shard::ConnectionView& c : (*views)[i]) {
      r.lines.push_back(
          absl::StrCat(Field("reactor", absl::StrCat(i)), " ", Field("id", absl::StrCat(c.id)), " ",
                       Field("peer", c.peer), " ", Field("listener", c.listener), " ",
                       Field("state", c.state), " ", Field("age_seconds", Seconds(c.age))));
    }
  }
  r.message = absl::StrCat(r.lines.size(), " connections");
  return r;
}

CommandResult ControlService::ShowReactors() {
  struct View {
    size_t connections = 0, queued = 0, scan_bytes = 0;
    uint64_t iterations = 0;
  };
  absl::StatusOr<std::vector<View>> views =
      AskEachShard<View>([](Shard& s, std::function<void(View)> reply) {
        View v;
        v.connections = s.connection_count();
        v.queued = s.delivery().queue_length();
        v.scan_bytes = s.scan_bytes_in_flight()->value();
        v.iterations = s.reactor()->loop_iterations();
        reply(v);
      });
  if (!views.ok()) return CommandResult::Error(std::string(views.status().message()));
  CommandResult r;
  for (size_t i = 0; i < views->size(); ++i) {
    const View& v = (*views)[i];
    r.lines.push_back(
        absl::StrCat("reactor=", i, " connections=", v.connections, " queue_messages=", v.queued,
                     " scan_bytes_in_flight=", v.scan_bytes, " loop_iterations=", v.iterations));
  }
  return r;
}

CommandResult ControlService::ShowCounters() {
  // Each reactor writes only its own row of relaxed atomics (core/counters.h): reading the
  // sums is the reader's side of that design, no message needed.
  const CounterSet& c = ctx_.runtime->counters;
  CommandResult r;
  for (size_t i = 0; i < c.size(); ++i) {
    r.lines.push_back(absl::StrCat(c.name(static_cast<int>(i)), " ", c.Sum(static_cast<int>(i))));
  }
  return r;
}

CommandResult ControlService::ShowSignatures() {
  std::shared_ptr<const sigs::SignatureSet> set = ctx_.runtime->signatures.Current();
  if (set == nullptr) return CommandResult::Error("no signature set loaded (scanning is off)");
  const sigs::SignatureSetInfo& i = set->info();
  CommandResult r;
  r.lines = {absl::StrCat("version ", i.version),
             absl::StrCat("dir ", i.dir),
             absl::StrCat("signatures ", i.signatures),
             absl::StrCat("files ", i.files),
             absl::StrCat("loaded ", Rfc3339(i.loaded_at)),
             absl::StrCat("age_seconds ", Seconds(absl::Now() - i.loaded_at)),
             absl::StrCat("load_seconds ", absl::ToDoubleSeconds(i.load_time)),
             absl::StrCat("prefilter ", set->prefilter() != nullptr ? "on" : "off")};
  return r;
}

namespace {

// "applied KEY,KEY" and "restart_needed KEY,KEY" lines (none: "-"), for scripts.
void AddChangeLines(const ConfigReloadResult& c, std::vector<std::string>* lines) {
  lines->push_back(absl::StrCat("generation ", c.generation));
  lines->push_back(
      absl::StrCat("applied ", c.applied.empty() ? "-" : absl::StrJoin(c.applied, ",")));
  lines->push_back(absl::StrCat("restart_needed ",
                                c.need_restart.empty() ? "-" : absl::StrJoin(c.need_restart, ",")));
}

}  // namespace

CommandResult ControlService::ShowConfig() {
  std::shared_ptr<const LiveSettings> live = ctx_.runtime->live.Current();
  CommandResult r;
  r.message = ctx_.config_path.empty()
                  ? "the embedded default"
                  : absl::StrCat("from ", ctx_.config_path, ", generation ", live->generation,
                                 " (settings marked restart-only run as started until a restart)");
  r.lines = Lines(DescribeConfig(live->config));
  return r;
}

CommandResult ControlService::CheckConfig() {
  absl::StatusOr<ConfigReloadResult> c = ctx_.config_reloader->Check();
  if (!c.ok()) return CommandResult::Error(std::string(c.status().message()));
  CommandResult r;
  r.message = absl::StrCat(ctx_.config_path, " is valid; a reload would apply ",
                           c->applied.size(), " changed settings, ", c->need_restart.size(),
                           " need a restart");
  AddChangeLines(*c, &r.lines);
  return r;
}

CommandResult ControlService::ReloadConfig() {
  absl::StatusOr<ConfigReloadResult> c = ctx_.config_reloader->Reload();
  if (!c.ok()) {
    return CommandResult::Error(ConfigReloader::Describe(c.status()));
  }
  CommandResult r;
  r.message = absl::StrCat("reloaded ", ctx_.config_path, ": ", c->applied.size(),
                           " changed settings applied to new sessions",
                           c->need_restart.empty()
                               ? ""
                               : absl::StrCat("; ", c->need_restart.size(),
                                              " need a restart and keep their running values"));
  AddChangeLines(*c, &r.lines);
  return r;
}

CommandResult ControlService::LogTail(const std::vector<std::string>& args) {
  size_t n = 20;
  if (!args.empty() && (!absl::SimpleAtoi(args[0], &n) || n == 0 || n > kMaxLogTailLines)) {
    return CommandResult::Error(absl::StrCat("log tail: N must be 1 to ", kMaxLogTailLines));
  }
  const std::string& path = ctx_.runtime->config.log_file;
  if (path.empty()) {
    return CommandResult::Error(
        "the log goes to standard error (the journal): use journalctl -u kensad");
  }
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return CommandResult::Error(absl::StrCat("open ", path, ": ", std::strerror(errno)));
  struct stat st {};
  fstat(fd, &st);
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  const uint64_t from = size > kLogTailMaxBytes ? size - kLogTailMaxBytes : 0;
  std::string text(size - from, '\0');
  size_t got = 0;
  while (got < text.size()) {
    ssize_t k = pread(fd, text.data() + got, text.size() - got, static_cast<off_t>(from + got));
    if (k <= 0) break;
    got += static_cast<size_t>(k);
  }
  close(fd);
  text.resize(got);
  std::vector<std::string> lines = Lines(text);
  if (from > 0 && !lines.empty()) lines.erase(lines.begin());  // a cut first line
  CommandResult r;
  const size_t skip = lines.size() > n ? lines.size() - n : 0;
  r.lines.assign(lines.begin() + static_cast<std::ptrdiff_t>(skip), lines.end());
  return r;
}

CommandResult ControlService::Subscriber(const control::ParsedCommand& command,
                                         const std::vector<std::string>& body) {
  if (ctx_.runtime->subscribers == nullptr) {
    return CommandResult::Error("kensad has no subscriber store open");
  }
  subscribers::SubscriberStore& store = *ctx_.runtime->subscribers;
  if (command.spec->id == CommandId::kSubscriberImport) {
    subscribers::ImportMode mode = subscribers::ImportMode::kMerge;
    if (!command.args.empty()) {
      if (command.args[0] != "--replace") {
        return CommandResult::Error("usage: subscriber import [--replace]");
      }
      mode = subscribers::ImportMode::kReplace;
    }
    std::istringstream in(absl::StrCat(absl::StrJoin(body, "\n"), "\n"));
    subscribers::ImportStats st;
    if (absl::Status s = store.ImportCsv(in, &st, mode); !s.ok()) {
      return CommandResult::Error(absl::StrCat(s.message(), " (nothing was imported)"));
    }
    CommandResult r;
    r.message = absl::StrCat("imported ", st.rows, " rows: ", st.added, " new, ", st.updated,
                             " updated, ", st.removed, " removed; ", st.entries, " entries");
    return r;
  }
  std::vector<std::string> args = {std::string(command.spec->words[1])};
  args.insert(args.end(), command.args.begin(), command.args.end());
  std::ostringstream out, err;
  const int rc = subscribers::RunSubscribersCli(args, store, out, err);
  CommandResult r;
  r.lines = Lines(out.str());
  if (rc != 0) {
    std::vector<std::string> e = Lines(err.str());
    r.ok = false;
    r.message = e.empty() ? "failed" : e.front();
  }
  return r;
}

}  // namespace kensa
