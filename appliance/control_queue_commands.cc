// SPDX-License-Identifier: GPL-2.0-or-later
// The admin shell's queue and quarantine commands (ControlService, control_service.h). The
// queue belongs to the reactors: what is queued and its state come by message from each
// shard's DeliveryAgent, and hold, release and delete are done there. A queue file's
// envelope and the quarantine directory are files no reactor holds in memory: read here.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "appliance/control_service.h"
#include "core/log.h"
#include "queue/delivery_agent.h"
#include "server/quarantine.h"
#include "spool/queue_file.h"
#include "spool/queue_id.h"

namespace kensa {
namespace {

using control::CommandResult;
using Queued = queue::DeliveryAgent::QueuedMessage;

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

std::string StateOf(const Queued& m) {
  return m.held ? "held" : m.in_progress ? "active" : "waiting";
}

CommandResult Error(const absl::Status& s) {
  return CommandResult::Error(std::string(s.message()));
}

CommandResult BadId(const std::string& id) {
  return CommandResult::Error(absl::StrCat("\"", id, "\" is not a queue id"));
}

// The X-Virus-Status values of the copies, "not scanned" without a scan record.
std::string VerdictOf(const spool::QueueFileInfo& info) {
  if (info.scan.variants.empty()) return "not scanned";
  std::vector<std::string> verdicts;
  for (const spool::ContentVariant& v : info.scan.variants) {
    for (absl::string_view line : absl::StrSplit(v.headers, "\r\n")) {
      if (absl::StartsWithIgnoreCase(line, "X-Virus-Status:")) {
        verdicts.emplace_back(absl::StripAsciiWhitespace(line.substr(15)));
      }
    }
  }
  return verdicts.empty() ? "scanned" : absl::StrJoin(verdicts, "; ");
}

void AppendEnvelope(const spool::QueueFileInfo& info, std::vector<std::string>* lines) {
  const spool::QueueEnvelope& e = info.envelope;
  lines->push_back(absl::StrCat("arrival ", Rfc3339(absl::FromUnixMicros(e.arrival_unix_micros))));
  lines->push_back(absl::StrCat("client ", e.client_address));
  lines->push_back(absl::StrCat("helo ", e.helo));
  lines->push_back(absl::StrCat("protocol ", e.protocol));
  if (!e.auth_user.empty()) lines->push_back(absl::StrCat("auth_user ", e.auth_user));
  lines->push_back(absl::StrCat("from <", e.sender, ">"));
  for (size_t i = 0; i < e.recipients.size(); ++i) {
    const bool done = i < info.recipient_done.size() && info.recipient_done[i];
    lines->push_back(
        absl::StrCat("to <", e.recipients[i].address, "> ", done ? "done" : "pending"));
  }
  lines->push_back(absl::StrCat("size ", info.content_bytes));
  lines->push_back(absl::StrCat("verdict ", VerdictOf(info)));
}

// A complete queue file in the shard directory, durable when this returns OK (the promise
// SpoolWriter gives a 250). Blocking: the shard's worker runs it.
absl::Status WriteQueueFileDurably(int dir_fd, const spool::QueueEnvelope& env,
                                   std::string_view content) {
  spool::QueueFileWriter w(env);
  std::string bytes = w.TakeHeader();
  bytes += w.ContentRecord(content);
  bytes += w.EndRecord();
  int fd = openat(dir_fd, env.queue_id.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return absl::InternalError(absl::StrCat("create queue file: ", std::strerror(errno)));
  std::string_view left = bytes;
  while (!left.empty()) {
    ssize_t n = write(fd, left.data(), left.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    left.remove_prefix(static_cast<size_t>(n));
  }
  const bool ok = left.empty() && fdatasync(fd) == 0 && fsync(dir_fd) == 0;
  const int err = errno;
  close(fd);
  if (!ok) {
    unlinkat(dir_fd, env.queue_id.c_str(), 0);
    return absl::InternalError(absl::StrCat("write queue file: ", std::strerror(err)));
  }
  return absl::OkStatus();
}

}  // namespace

CommandResult ControlService::ShowQueue() {
  absl::StatusOr<std::vector<std::vector<Queued>>> lists = AskEachShard<std::vector<Queued>>(
      [](Shard& s, std::function<void(std::vector<Queued>)> reply) { reply(s.delivery().List()); });
  if (!lists.ok()) return Error(lists.status());
  CommandResult r;
  size_t total = 0;
  for (size_t i = 0; i < lists->size(); ++i) {
    for (const Queued& m : (*lists)[i]) {
      if (++total > kMaxListedMessages) continue;
      std::string line = absl::StrCat(
          Field("id", m.id), " ", Field("reactor", absl::StrCat(i)), " ",
          Field("state", StateOf(m)), " ", Field("attempts", absl::StrCat(m.attempts)), " ",
          Field("next", m.next_attempt == absl::InfinitePast() ? "-" : Rfc3339(m.next_attempt)));
      absl::StatusOr<spool::QueueFileInfo> info = spool::ReadQueueFile(m.path);
      if (info.ok()) {
        absl::StrAppend(&line, " ", Field("size", absl::StrCat(info->content_bytes)), " ",
                        Field("from", absl::StrCat("<", info->envelope.sender, ">")), " ",
                        Field("rcpt", absl::StrCat(info->envelope.recipients.size())));
      }
      if (!m.last_result.empty()) absl::StrAppend(&line, " ", Field("last", m.last_result));
      r.lines.push_back(std::move(line));
    }
  }
  if (total > kMaxListedMessages) {
    r.lines.push_back(absl::StrCat("... ", total - kMaxListedMessages, " more not listed"));
  }
  r.message = absl::StrCat(total, " messages");
  return r;
}

CommandResult ControlService::FlushQueue() {
  absl::StatusOr<std::vector<size_t>> counts = AskEachShard<size_t>(
      [](Shard& s, std::function<void(size_t)> reply) { reply(s.delivery().Flush()); });
  if (!counts.ok()) return Error(counts.status());
  size_t n = 0;
  for (size_t c : *counts) n += c;
  CommandResult r;
  r.message = absl::StrCat("flushed ", n, " messages");
  return r;
}

// The answers of every shard to a command on one message: the one that has it decides.
static CommandResult OneAnswer(const absl::StatusOr<std::vector<absl::Status>>& answers,
                               const std::string& id, const std::string& done) {
  if (!answers.ok()) return Error(answers.status());
  for (const absl::Status& s : *answers) {
    if (s.ok()) {
      CommandResult r;
      r.message = done;
      return r;
    }
    if (s.code() != absl::StatusCode::kNotFound) return Error(s);
  }
  return CommandResult::Error(absl::StrCat("no queued message ", id));
}

CommandResult ControlService::HoldOrRelease(const std::string& id, bool hold) {
  if (!spool::IsQueueIdShaped(id)) return BadId(id);
  auto answers =
      AskEachShard<absl::Status>([id, hold](Shard& s, std::function<void(absl::Status)> reply) {
        s.delivery().SetHeld(id, hold, std::move(reply));
      });
  return OneAnswer(answers, id, absl::StrCat(hold ? "held " : "released ", id));
}

CommandResult ControlService::DeleteQueued(const std::string& id) {
  if (!spool::IsQueueIdShaped(id)) return BadId(id);
  auto answers =
      AskEachShard<absl::Status>([id](Shard& s, std::function<void(absl::Status)> reply) {
        s.delivery().Delete(id, std::move(reply));
      });
  return OneAnswer(answers, id, absl::StrCat("deleted ", id));
}

CommandResult ControlService::ShowMessage(const std::string& id) {
  if (!spool::IsQueueIdShaped(id)) return BadId(id);
  auto found = AskEachShard<std::optional<Queued>>(
      [id](Shard& s, std::function<void(std::optional<Queued>)> reply) {
        for (Queued& m : s.delivery().List()) {
          if (m.id == id) return reply(std::move(m));
        }
        reply(std::nullopt);
      });
  if (!found.ok()) return Error(found.status());
  for (size_t i = 0; i < found->size(); ++i) {
    const std::optional<Queued>& m = (*found)[i];
    if (!m) continue;
    absl::StatusOr<spool::QueueFileInfo> info = spool::ReadQueueFile(m->path);
    if (!info.ok()) return Error(info.status());
    CommandResult r;
    r.lines = {absl::StrCat("id ", id), absl::StrCat("reactor ", i),
               absl::StrCat("state ", StateOf(*m))};
    AppendEnvelope(*info, &r.lines);
    r.lines.push_back(absl::StrCat("attempts ", m->attempts));
    if (info->last_attempt_unix_micros > 0) {
      r.lines.push_back(absl::StrCat(
          "last_attempt ", Rfc3339(absl::FromUnixMicros(info->last_attempt_unix_micros))));
    }
    if (m->next_attempt != absl::InfinitePast()) {
      r.lines.push_back(absl::StrCat("next_attempt ", Rfc3339(m->next_attempt)));
    }
    if (!m->last_result.empty()) r.lines.push_back(absl::StrCat("last_result ", m->last_result));
    return r;
  }
  return CommandResult::Error(absl::StrCat("no queued message ", id));
}

CommandResult ControlService::ShowQuarantine() {
  const std::string& dir = ctx_.runtime->config.quarantine_dir;
  std::error_code ec;
  CommandResult r;
  size_t total = 0;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!absl::EndsWith(name, kQuarantineMessageSuffix)) continue;
    const std::string id = name.substr(0, name.size() - std::strlen(kQuarantineMessageSuffix));
    if (!spool::IsQueueIdShaped(id)) continue;
    if (++total > kMaxListedMessages) continue;
    struct stat st {};
    stat(it->path().c_str(), &st);
    const bool envelope = access(QuarantineQueueFilePath(dir, id).c_str(), R_OK) == 0;
    r.lines.push_back(absl::StrCat(Field("id", id), " ", Field("size", absl::StrCat(st.st_size)),
                                   " ", Field("date", Rfc3339(absl::FromTimeT(st.st_mtime))), " ",
                                   Field("envelope", envelope ? "yes" : "no")));
  }
  if (total > kMaxListedMessages) {
    r.lines.push_back(absl::StrCat("... ", total - kMaxListedMessages, " more not listed"));
  }
  r.message = absl::StrCat(total, " quarantined");
  return r;
}

CommandResult ControlService::ShowQuarantined(const std::string& id) {
  if (!spool::IsQueueIdShaped(id)) return BadId(id);
  const std::string& dir = ctx_.runtime->config.quarantine_dir;
  int fd = open(QuarantineMessagePath(dir, id).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return CommandResult::Error(absl::StrCat("no quarantined message ", id));
  std::string head(64 * 1024, '\0');
  ssize_t n = pread(fd, head.data(), head.size(), 0);
  close(fd);
  head.resize(n > 0 ? static_cast<size_t>(n) : 0);
  CommandResult r;
  r.lines.push_back(absl::StrCat("id ", id));
  absl::StatusOr<spool::QueueFileInfo> info =
      spool::ReadQueueFile(QuarantineQueueFilePath(dir, id));
  if (info.ok()) {
    AppendEnvelope(*info, &r.lines);
  } else {
    r.lines.push_back("envelope none (quarantined before kensa kept envelopes)");
  }
  r.lines.push_back("header:");
  size_t shown = 0;
  for (absl::string_view line : absl::StrSplit(head, '\n')) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || ++shown > kMaxShownHeaderLines) break;
    r.lines.emplace_back(line);
  }
  return r;
}

CommandResult ControlService::ReleaseQuarantined(const std::string& id) {
  if (!spool::IsQueueIdShaped(id)) return BadId(id);
  const std::string& dir = ctx_.runtime->config.quarantine_dir;
  const std::string queue_copy = QuarantineQueueFilePath(dir, id);
  absl::StatusOr<spool::QueueFileInfo> info = spool::ReadQueueFile(queue_copy);
  if (!info.ok()) {
    if (access(QuarantineMessagePath(dir, id).c_str(), F_OK) != 0) {
      return CommandResult::Error(absl::StrCat("no quarantined message ", id));
    }
    return CommandResult::Error(
        absl::StrCat("cannot release ", id, ": no envelope kept (", info.status().message(), ")"));
  }
  int fd = open(queue_copy.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return CommandResult::Error(absl::StrCat("open ", queue_copy, ": ", std::strerror(errno)));
  absl::StatusOr<std::string> content = spool::ReadContent(fd, *info);
  close(fd);
  if (!content.ok()) return Error(content.status());
  // The original goes to the same recipients without a scan record: delivered as received.
  // It is queued on one reactor, picked by the id, through that shard's worker and queue.
  const int target =
      static_cast<int>(std::hash<std::string>{}(id) % static_cast<size_t>(reactors()));
  spool::QueueEnvelope env = info->envelope;
  env.queue_id = spool::NewQueueId(target);
  auto shared_content = std::make_shared<std::string>(std::move(*content));
  auto answers = AskEachShard<absl::Status>(
      [target, env, shared_content](Shard& s, std::function<void(absl::Status)> reply) {
        if (s.index() != target) return reply(absl::NotFoundError("not this reactor"));
        Shard* shard = &s;
        s.worker().Submit([shard, env, shared_content, reply] {
          absl::Status st = WriteQueueFileDurably(shard->spool().dir_fd(), env, *shared_content);
          shard->reactor()->Post([shard, env, st, reply] {
            if (st.ok())
              shard->delivery().Enqueue(shard->spool().PathFor(env.queue_id), env.queue_id);
            reply(st);
          });
        });
      });
  if (!answers.ok()) return Error(answers.status());
  const absl::Status& st = (*answers)[static_cast<size_t>(target)];
  if (!st.ok()) return Error(st);
  // Queued durably: the quarantine copy can go.
  unlink(QuarantineMessagePath(dir, id).c_str());
  unlink(queue_copy.c_str());
  KLOG(kInfo, "quarantine_released").Kv("id", id).Kv("queued_as", env.queue_id);
  CommandResult r;
  r.message = absl::StrCat("released ", id, " as ", env.queue_id);
  return r;
}

CommandResult ControlService::DeleteQuarantined(const std::string& id) {
  if (!spool::IsQueueIdShaped(id)) return BadId(id);
  const std::string& dir = ctx_.runtime->config.quarantine_dir;
  if (unlink(QuarantineMessagePath(dir, id).c_str()) != 0) {
    return CommandResult::Error(absl::StrCat("no quarantined message ", id));
  }
  unlink(QuarantineQueueFilePath(dir, id).c_str());
  KLOG(kInfo, "quarantine_deleted").Kv("id", id);
  CommandResult r;
  r.message = absl::StrCat("deleted ", id);
  return r;
}

}  // namespace kensa
