// SPDX-License-Identifier: GPL-2.0-or-later
#include "queue/delivery_agent.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/log.h"
#include "net/dsn.h"
#include "net/maildir.h"
#include "net/smtp_address.h"
#include "spool/copy_reader.h"
#include "spool/queue_id.h"

namespace kensa::queue {
namespace {

using ResultKind = net::RecipientResult::Outcome;

// Whether the sender asked for a failure report for this recipient (RFC 3461 NOTIFY).
bool WantsFailureDsn(const spool::QueuedRecipient& r) {
  if (r.notify.empty()) return true;
  return absl::StrContains(absl::AsciiStrToUpper(r.notify), "FAILURE");
}

// Writes a complete queue file from the worker thread: data and directory entry are durable
// when this returns OK (the same promise SpoolWriter gives, without io_uring).
absl::Status WriteQueueFileBlocking(const spool::SpoolShard& shard, const spool::QueueEnvelope& env,
                                    std::string_view content) {
  spool::QueueFileWriter w(env);
  std::string bytes = w.TakeHeader();
  bytes += w.ContentRecord(content);
  bytes += w.EndRecord();
  int fd = openat(shard.dir_fd(), env.queue_id.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                  0600);
  if (fd < 0) return absl::InternalError(absl::StrCat("create DSN: ", std::strerror(errno)));
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = write(fd, bytes.data() + off, bytes.size() - off);
    if (n <= 0) {
      int err = errno;
      close(fd);
      unlinkat(shard.dir_fd(), env.queue_id.c_str(), 0);
      return absl::InternalError(absl::StrCat("write DSN: ", std::strerror(err)));
    }
    off += static_cast<size_t>(n);
  }
  if (fdatasync(fd) != 0 || fsync(shard.dir_fd()) != 0) {
    int err = errno;
    close(fd);
    unlinkat(shard.dir_fd(), env.queue_id.c_str(), 0);
    return absl::InternalError(absl::StrCat("fsync DSN: ", std::strerror(err)));
  }
  close(fd);
  return absl::OkStatus();
}

// Appends status records after END. Not fsync'd: losing them costs a duplicate delivery.
absl::Status AppendStatus(const std::string& path, std::string_view records) {
  int fd = open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) return absl::InternalError(absl::StrCat("open ", path, ": ", std::strerror(errno)));
  ssize_t n = write(fd, records.data(), records.size());
  close(fd);
  if (n != static_cast<ssize_t>(records.size())) {
    return absl::InternalError(absl::StrCat("append to ", path));
  }
  return absl::OkStatus();
}

// A piece of a copy read for a Maildir file; the file is written as the pieces come.
constexpr size_t kMaildirPiece = 256 * 1024;

// One copy of a queued message (spool::CopyReader) as a Maildir source. A read failure is
// local and temporary, whatever its code: the recipient is retried, never bounced.
class CopySource final : public net::MaildirSource {
 public:
  explicit CopySource(spool::CopyReader* copy) : copy_(copy) {}
  void Rewind() override { copy_->Rewind(); }
  absl::StatusOr<std::string_view> Next() override {
    absl::StatusOr<std::string> piece = copy_->Next(kMaildirPiece);
    if (!piece.ok()) return absl::UnavailableError(piece.status().message());
    piece_ = std::move(*piece);
    return std::string_view(piece_);
  }

 private:
  spool::CopyReader* copy_;
  std::string piece_;
};

// What a DSN quotes of the copy a failed recipient was sent: the message without the trace
// header, whole up to net::kDsnMaxReturnedMessage, beyond it only its first
// kDsnMaxReturnedHeaders bytes (the DSN returns only the header block then), so a bounce of
// a 50 MB message reads 1 MiB. Sets *headers_only when the message was cut. Worker only.
absl::StatusOr<std::string> ReadDsnOriginal(const std::string& path,
                                            std::shared_ptr<const spool::QueueFileInfo> info,
                                            size_t variant, bool* headers_only) {
  const uint64_t trace = info->envelope.trace_header.size();
  absl::StatusOr<std::unique_ptr<spool::CopyReader>> copy =
      spool::CopyReader::Open(path, std::move(info), variant);
  if (!copy.ok()) return copy.status();
  const uint64_t original = (*copy)->size() - trace;
  *headers_only = original > net::kDsnMaxReturnedMessage;
  const uint64_t want = trace + (*headers_only ? net::kDsnMaxReturnedHeaders : original);
  std::string out;
  while (out.size() < want) {
    absl::StatusOr<std::string> piece = (*copy)->Next(static_cast<size_t>(want - out.size()));
    if (!piece.ok()) return piece.status();
    if (piece->empty()) break;
    out += *piece;
  }
  out.erase(0, std::min<uint64_t>(trace, out.size()));
  return out;
}

}  // namespace

struct DeliveryAgent::Message {
  std::string path, id;
  std::multiset<absl::Time>::iterator arrival;  // in arrivals_
  int attempts = 0;
  bool in_progress = false;
  bool held = false;
  uint64_t timer = 0;
  absl::Time next_attempt = absl::InfinitePast();
  std::string last_result;
  spool::QueueFileInfo info;
  // What the copies of this attempt are made from (read from the queue file when sent).
  std::shared_ptr<const spool::QueueFileInfo> snapshot;
  size_t VariantOf(size_t recipient) const {
    return info.scan.variants.empty() ? 0 : info.scan.recipient_variant[recipient];
  }
  int groups_pending = 0;
  std::vector<Outcome> outcomes;
};

DeliveryAgent::DeliveryAgent(DeliverySettings settings, DeliveryEnvironment env)
    : settings_(std::move(settings)), env_(std::move(env)) {}

DeliveryAgent::~DeliveryAgent() {
  for (auto& [id, m] : messages_) {
    if (m->timer != 0) env_.reactor->CancelTimer(m->timer);
  }
}

absl::Duration DeliveryAgent::RetryDelay(int attempts, absl::Duration min, absl::Duration max) {
  absl::Duration d = min;
  for (int i = 1; i < attempts && d < max; ++i) d *= 2;
  return std::min(d, max);
}

void DeliveryAgent::AddMessage(std::unique_ptr<Message> m, absl::Time arrival) {
  std::string id = m->id;
  RemoveMessage(id);  // never there; if it were, its arrival must go with it
  m->arrival = arrivals_.insert(arrival);
  messages_[id] = std::move(m);
  PublishQueueGauges();
}

void DeliveryAgent::SetArrival(Message& m, absl::Time arrival) {
  if (*m.arrival == arrival) return;
  arrivals_.erase(m.arrival);
  m.arrival = arrivals_.insert(arrival);
  PublishQueueGauges();
}

void DeliveryAgent::RemoveMessage(const std::string& id) {
  auto it = messages_.find(id);
  if (it == messages_.end()) return;
  if (it->second->timer != 0) env_.reactor->CancelTimer(it->second->timer);
  arrivals_.erase(it->second->arrival);
  messages_.erase(it);
  PublishQueueGauges();
}

void DeliveryAgent::PublishQueueGauges() {
  env_.SetGauge(env_.metric_ids.queue_messages, static_cast<int64_t>(messages_.size()));
  env_.SetGauge(env_.metric_ids.oldest_arrival,
                arrivals_.empty() ? 0 : absl::ToUnixMicros(*arrivals_.begin()));
}

void DeliveryAgent::Enqueue(std::string path, std::string queue_id) {
  auto m = std::make_unique<Message>();
  m->path = std::move(path);
  m->id = queue_id;
  // Just committed: it arrived moments ago (its envelope, read at the first attempt, says
  // exactly when).
  AddMessage(std::move(m), absl::Now());
  Schedule(queue_id, absl::Now());
}

void DeliveryAgent::EnqueueRecovered(std::string path, const spool::QueueFileInfo& info) {
  auto m = std::make_unique<Message>();
  m->path = std::move(path);
  m->id = info.envelope.queue_id;
  m->attempts = info.attempts;
  m->held = info.held;
  const absl::Time arrival = info.envelope.arrival_unix_micros != 0
                                 ? absl::FromUnixMicros(info.envelope.arrival_unix_micros)
                                 : absl::Now();
  std::string id = m->id;
  if (m->held) {
    // Queued all the same (the gauges count it); attempted once it is released.
    KLOG(kInfo, "queue_held_recovered").Kv("id", id);
    AddMessage(std::move(m), arrival);
    return;
  }
  absl::Time when = absl::Now();
  if (info.attempts > 0) {
    when = std::max(when, absl::FromUnixMicros(info.last_attempt_unix_micros) +
                              RetryDelay(info.attempts, settings_.retry_min, settings_.retry_max));
  }
  AddMessage(std::move(m), arrival);
  Schedule(id, when);
}

void DeliveryAgent::Schedule(const std::string& id, absl::Time when) {
  Message& m = *messages_[id];
  if (m.held) return;  // released: scheduled then
  m.next_attempt = when;
  // The destructor cancels the timer: no handle needed.
  m.timer = env_.reactor->RunAfter(when - absl::Now(), [this, id] {
    auto it = messages_.find(id);
    if (it == messages_.end()) return;
    it->second->timer = 0;
    it->second->next_attempt = absl::InfinitePast();
    if (it->second->held) return;
    Attempt(id);
  });
}

std::vector<DeliveryAgent::QueuedMessage> DeliveryAgent::List() const {
  std::vector<QueuedMessage> out;
  out.reserve(messages_.size());
  for (const auto& [id, m] : messages_) {
    out.push_back({m->id, m->path, m->attempts, m->in_progress, m->held, m->next_attempt,
                   m->last_result});
  }
  return out;
}

size_t DeliveryAgent::Flush() {
  if (stopped_) return 0;
  std::vector<std::string> due;
  for (auto& [id, m] : messages_) {
    if (m->held || m->in_progress) continue;
    if (m->timer != 0) {
      env_.reactor->CancelTimer(m->timer);
      m->timer = 0;
    }
    due.push_back(id);
  }
  for (const std::string& id : due) Schedule(id, absl::Now());
  return due.size();
}

void DeliveryAgent::SetHeld(const std::string& id, bool held,
                            absl::AnyInvocable<void(absl::Status)> done) {
  auto it = messages_.find(id);
  if (it == messages_.end()) {
    done(absl::NotFoundError(absl::StrCat("no queued message ", id)));
    return;
  }
  Message& m = *it->second;
  m.held = held;
  if (held && m.timer != 0) {
    env_.reactor->CancelTimer(m.timer);
    m.timer = 0;
    m.next_attempt = absl::InfinitePast();
  }
  Reactor* reactor = env_.reactor;
  env_.worker->Submit([alive = lifetime_.handle(), this, reactor, id, held, path = m.path,
                       done = std::move(done)]() mutable {
    absl::Status s = AppendStatus(path, spool::HoldRecord(held));
    reactor->Post([alive, this, id, held, s, done = std::move(done)]() mutable {
      if (!alive.expired()) {
        KLOG(kInfo, held ? "queue_held" : "queue_released").Kv("id", id).Kv("status", s);
        auto it = messages_.find(id);
        if (!held && it != messages_.end() && !it->second->held && !it->second->in_progress &&
            it->second->timer == 0 && !stopped_) {
          Schedule(id, absl::Now());
        }
      }
      done(s);
    });
  });
}

void DeliveryAgent::Delete(const std::string& id, absl::AnyInvocable<void(absl::Status)> done) {
  auto it = messages_.find(id);
  if (it == messages_.end()) {
    done(absl::NotFoundError(absl::StrCat("no queued message ", id)));
    return;
  }
  if (it->second->in_progress) {
    done(absl::FailedPreconditionError(
        absl::StrCat(id, " is being delivered now; hold it or try again in a moment")));
    return;
  }
  if (it->second->timer != 0) env_.reactor->CancelTimer(it->second->timer);
  std::string path = it->second->path;
  messages_.erase(it);
  Reactor* reactor = env_.reactor;
  env_.worker->Submit([reactor, id, path, done = std::move(done)]() mutable {
    absl::Status s = unlink(path.c_str()) == 0
                         ? absl::OkStatus()
                         : absl::InternalError(absl::StrCat("unlink ", path, ": ",
                                                            std::strerror(errno)));
    reactor->Post([id, s, done = std::move(done)]() mutable {
      KLOG(kInfo, "queue_deleted").Kv("id", id).Kv("status", s);
      done(s);
    });
  });
}

void DeliveryAgent::Attempt(const std::string& id) {
  if (stopped_) return;
  Message& m = *messages_[id];
  m.in_progress = true;
  Reactor* reactor = env_.reactor;
  // Only the envelope and the scan's edits are read now; each copy's bytes are read when
  // it is sent, so a message waiting for a next-hop connection holds none.
  env_.worker->Submit([alive = lifetime_.handle(), this, reactor, id, path = m.path] {
    absl::StatusOr<spool::QueueFileInfo> info = spool::ReadQueueFile(path);
    // Edits the file's own records cannot satisfy make it unreadable now, once, and it is
    // left for the operator; found by the copy reader mid-send they would defer it forever.
    if (info.ok()) {
      for (const spool::ContentVariant& v : info->scan.variants) {
        absl::Status s = spool::CheckEdits(v.edits, info->content_bytes);
        if (!s.ok()) {
          info = s;
          break;
        }
      }
    }
    reactor->Post([alive, this, id, info = std::move(info)]() mutable {
      if (alive.expired()) return;
      OnLoaded(id, std::move(info));
    });
  });
}

void DeliveryAgent::Reconfigure(const DeliverySettings& settings, NextHopRoutes routes) {
  const size_t per_hop = settings_.max_connections_per_hop;
  settings_ = settings;
  settings_.max_connections_per_hop = per_hop;
  env_.routes = std::move(routes);
}

const net::NextHop& DeliveryAgent::HopFor(const spool::QueueEnvelope& envelope,
                                          std::string_view address) const {
  const NextHopRoutes& routes = env_.routes;
  // Submission: the ISP's outbound relay takes all of it, local recipients too (it delivers
  // them as it delivers any subscriber's mail).
  if (!envelope.auth_user.empty()) return routes.outbound;
  std::string_view domain = net::DomainOf(address);
  if (domain.empty() || (routes.is_local_domain && routes.is_local_domain(domain))) {
    return routes.local;
  }
  return routes.relay;
}

SmtpHopPool& DeliveryAgent::PoolFor(const net::NextHop& hop) {
  std::string key = hop.ToString();
  auto it = pools_.find(key);
  if (it != pools_.end()) return *it->second;
  auto pool =
      std::make_unique<SmtpHopPool>(&settings_, &env_, hop, settings_.max_connections_per_hop);
  SmtpHopPool& ref = *pool;
  pools_[key] = std::move(pool);
  return ref;
}

void DeliveryAgent::OnLoaded(const std::string& id, absl::StatusOr<spool::QueueFileInfo> info) {
  auto it = messages_.find(id);
  if (it == messages_.end()) return;
  Message& m = *it->second;
  if (!info.ok()) {
    // A file that stopped parsing is not ours to guess about: leave it for the operator.
    KLOG(kError, "queue_file_unreadable").Kv("id", id).Kv("path", m.path).Kv("error", info.status());
    RemoveMessage(id);
    return;
  }
  m.info = std::move(*info);
  if (m.info.envelope.arrival_unix_micros != 0) {
    SetArrival(m, absl::FromUnixMicros(m.info.envelope.arrival_unix_micros));
  }
  m.snapshot = std::make_shared<const spool::QueueFileInfo>(m.info);
  m.outcomes.clear();

  // Group the recipients still to do by next hop and content variant: one transaction (or
  // Maildir job) per group. Split delivery: recipients of one message with different scan
  // policies get different copies.
  struct Group {
    const net::NextHop* hop;
    size_t variant;
    std::vector<size_t> indices;
  };
  std::vector<Group> groups;
  for (size_t i = 0; i < m.info.envelope.recipients.size(); ++i) {
    if (i < m.info.recipient_done.size() && m.info.recipient_done[i]) continue;
    const net::NextHop* hop = &HopFor(m.info.envelope, m.info.envelope.recipients[i].address);
    const size_t variant = m.VariantOf(i);
    auto g = std::find_if(groups.begin(), groups.end(), [&](const Group& e) {
      return e.hop == hop && e.variant == variant;
    });
    if (g == groups.end()) {
      groups.push_back({hop, variant, {i}});
    } else {
      g->indices.push_back(i);
    }
  }
  m.groups_pending = static_cast<int>(groups.size());
  if (groups.empty()) {
    FinishAttempt(id);
    return;
  }
  Reactor* reactor = env_.reactor;
  for (auto& group : groups) {
    // Named copies: clang does not capture structured bindings in lambdas.
    const net::NextHop* hop = group.hop;
    const std::vector<size_t> indices = group.indices;
    const std::string relay = hop->ToString();
    const size_t variant = group.variant;
    std::function<absl::StatusOr<std::unique_ptr<spool::CopyReader>>()> open_copy =
        [path = m.path, info = m.snapshot, variant] {
          return spool::CopyReader::Open(path, info, variant);
        };
    if (hop->kind == net::NextHop::Kind::kMaildir) {
      std::vector<std::string> addresses;
      for (size_t i : indices) addresses.push_back(m.info.envelope.recipients[i].address);
      env_.worker->Submit([alive = lifetime_.handle(), this, reactor, id, root = hop->path,
                           addresses, indices, relay, open_copy = std::move(open_copy)] {
        absl::StatusOr<std::unique_ptr<spool::CopyReader>> copy = open_copy();
        absl::Status content = copy.status();
        std::vector<net::MaildirResult> results;
        if (copy.ok()) {
          CopySource source(copy->get());
          results = net::DeliverToMaildir(root, addresses, source);
        } else {
          KLOG(kError, "queue_file_unreadable").Kv("id", id).Kv("error", content);
          results.assign(addresses.size(), net::MaildirResult{});
          // A local read failure is temporary, whatever its code: retry, never bounce.
          for (net::MaildirResult& r : results) {
            r.status = absl::UnavailableError(content.message());
          }
        }
        std::vector<Outcome> outcomes;
        for (size_t k = 0; k < indices.size(); ++k) {
          net::RecipientResult r;
          const absl::Status& s = results[k].status;
          // An address that cannot name a Maildir never will: bounce it, don't retry it.
          const bool perm = s.code() == absl::StatusCode::kInvalidArgument;
          r.outcome = s.ok() ? ResultKind::kDelivered
                             : perm ? ResultKind::kPermFail : ResultKind::kTempFail;
          r.code = s.ok() ? 250 : perm ? 550 : 451;
          r.enhanced = s.ok() ? "2.0.0" : perm ? "5.1.3" : "4.3.0";
          r.text = s.ok() ? absl::StrCat("delivered to ", results[k].path)
                          : std::string(s.message());
          outcomes.push_back({indices[k], std::move(r), relay});
        }
        reactor->Post([alive, this, id, outcomes = std::move(outcomes)]() mutable {
          if (alive.expired()) return;
          OnGroupDone(id, std::move(outcomes));
        });
      });
      continue;
    }
    DeliveryJob job;
    const spool::QueueEnvelope& env = m.info.envelope;
    job.message.sender = env.sender;
    job.message.ret = env.ret;
    job.message.envid = env.envid;
    job.message.body = env.body;
    job.message.smtputf8 = env.smtputf8;
    job.message.size = spool::CopyReader::CopySize(*m.snapshot, variant);
    for (size_t i : indices) {
      const spool::QueuedRecipient& r = env.recipients[i];
      job.message.recipients.push_back({r.address, r.notify, r.orcpt});
    }
    job.open_copy = std::move(open_copy);
    // The pool runs it on this reactor; the handle covers a pool that outlived this agent.
    job.done = [alive = lifetime_.handle(), this, id, indices,
                relay](std::vector<net::RecipientResult> results) {
      if (alive.expired()) return;
      std::vector<Outcome> outcomes;
      for (size_t k = 0; k < indices.size() && k < results.size(); ++k) {
        outcomes.push_back({indices[k], std::move(results[k]), relay});
      }
      OnGroupDone(id, std::move(outcomes));
    };
    PoolFor(*hop).Submit(std::move(job));
  }
}

void DeliveryAgent::OnGroupDone(const std::string& id, std::vector<Outcome> outcomes) {
  auto it = messages_.find(id);
  if (it == messages_.end()) return;
  Message& m = *it->second;
  for (Outcome& o : outcomes) m.outcomes.push_back(std::move(o));
  if (--m.groups_pending <= 0) FinishAttempt(id);
}

void DeliveryAgent::FinishAttempt(const std::string& id) {
  Message& m = *messages_[id];
  ++m.attempts;
  const spool::QueueEnvelope& env = m.info.envelope;
  const absl::Time now = absl::Now();
  const absl::Time arrival = absl::FromUnixMicros(env.arrival_unix_micros);
  const bool expired = now - arrival > settings_.max_queue_lifetime;

  std::vector<size_t> done;
  std::vector<net::DsnRecipient> failed;
  size_t still_pending = 0;
  for (size_t i = 0; i < env.recipients.size(); ++i) {
    if (i < m.info.recipient_done.size() && m.info.recipient_done[i]) continue;
    ++still_pending;
  }
  for (const Outcome& o : m.outcomes) {
    const spool::QueuedRecipient& rcpt = env.recipients[o.index];
    const net::RecipientResult& r = o.result;
    std::string result;
    if (r.outcome == ResultKind::kDelivered) {
      result = "delivered";
      env_.Count(env_.counter_ids.deliveries_ok);
      env_.Observe(env_.metric_ids.delivery_latency, now - arrival);
    } else if (r.outcome == ResultKind::kPermFail || expired) {
      result = "bounced";
      env_.Count(env_.counter_ids.deliveries_bounced);
      if (WantsFailureDsn(rcpt)) {
        net::DsnRecipient d;
        d.address = rcpt.address;
        d.orcpt = rcpt.orcpt;
        d.action = "failed";
        d.status = !r.enhanced.empty() ? r.enhanced
                                       : (r.outcome == ResultKind::kPermFail ? "5.0.0" : "4.4.7");
        if (r.outcome != ResultKind::kPermFail && d.status[0] == '4') d.status[0] = '5';
        d.diagnostic = r.code > 0 ? absl::StrCat("smtp; ", r.code, " ", r.enhanced, " ", r.text)
                                  : absl::StrCat("X-kensa; ", r.text);
        d.remote_mta = o.relay;
        failed.push_back(std::move(d));
      }
    } else {
      result = "deferred";
      env_.Count(env_.counter_ids.deliveries_deferred);
      m.last_result = absl::StrCat("<", rcpt.address, "> ",
                                   r.code > 0 ? absl::StrCat(r.code, " ", r.text) : r.text);
    }
    if (result != "deferred") done.push_back(o.index);
    KLOG(kInfo, "delivery")
        .Kv("id", id)
        .Kv("to", absl::StrCat("<", rcpt.address, ">"))
        .Kv("relay", o.relay)
        .Kv("result", result)
        .Kv("status", r.enhanced)
        .Kv("reply", r.code > 0 ? absl::StrCat(r.code, " ", r.text) : r.text)
        .Kv("attempts", m.attempts)
        .Kv("delay", absl::Trunc(now - arrival, absl::Milliseconds(1)));
  }
  const bool complete = done.size() >= still_pending;
  const bool send_dsn = !failed.empty() && !env.sender.empty() && !env.is_bounce;

  std::string status_records;
  for (size_t i : done) status_records += spool::RecipientDoneRecord(i);
  status_records += spool::AttemptRecord(absl::ToUnixMicros(now), m.attempts);

  // File work happens on the worker, in this order: the DSN is durable before the failed
  // recipients are marked done, so a crash in between repeats the DSN rather than losing it.
  spool::QueueEnvelope dsn_env;
  net::DsnInput in;
  size_t dsn_variant = 0;
  if (send_dsn) {
    in.reporting_mta = settings_.hostname;
    in.queue_id = id;
    in.envid = env.envid;
    in.original_sender = env.sender;
    in.arrival_unix_micros = env.arrival_unix_micros;
    in.recipients = failed;
    // The copy the first failed recipient was sent (a cleaned one, when it was scanned).
    size_t failed_index = 0;
    for (const Outcome& o : m.outcomes) {
      if (o.result.outcome != ResultKind::kDelivered) {
        failed_index = o.index;
        break;
      }
    }
    dsn_variant = m.VariantOf(failed_index);
    in.return_headers_only = absl::AsciiStrToUpper(env.ret) == "HDRS";
    dsn_env.queue_id = spool::NewQueueId(env_.spool->index());
    dsn_env.arrival_unix_micros = absl::ToUnixMicros(now);
    dsn_env.sender = "";
    dsn_env.recipients.push_back({env.sender, "", ""});
    dsn_env.client_address = "local";
    dsn_env.helo = settings_.hostname;
    dsn_env.protocol = "local";
    dsn_env.is_bounce = true;
    dsn_env.trace_header = absl::StrCat(
        "Received: by ", settings_.hostname, " (kensa) id ", dsn_env.queue_id, "; ",
        absl::FormatTime("%a, %d %b %Y %H:%M:%S +0000", now, absl::UTCTimeZone()), "\r\n");
  }
  std::shared_ptr<const spool::QueueFileInfo> snapshot = std::move(m.snapshot);
  m.outcomes.clear();
  Reactor* reactor = env_.reactor;
  spool::SpoolShard* spool = env_.spool;
  env_.worker->Submit([alive = lifetime_.handle(), this, reactor, spool, id, path = m.path,
                       send_dsn, dsn_env = std::move(dsn_env), in = std::move(in), dsn_variant,
                       snapshot = std::move(snapshot), status_records = std::move(status_records),
                       complete]() mutable {
    absl::Status dsn_status = absl::OkStatus();
    if (send_dsn) {
      // The DSN quotes the copy the failed recipient was sent (a cleaned one when scanned).
      bool too_big = false;
      absl::StatusOr<std::string> original = ReadDsnOriginal(path, snapshot, dsn_variant, &too_big);
      if (!original.ok()) {
        dsn_status = original.status();
      } else {
        in.original_message = *original;
        in.return_headers_only = in.return_headers_only || too_big;
        dsn_status = WriteQueueFileBlocking(*spool, dsn_env, net::BuildDsn(in));
      }
    }
    absl::Status status;
    if (dsn_status.ok()) {
      status = complete ? spool::Unlink(spool->dir_fd(), id) : AppendStatus(path, status_records);
      // Unlink is enough when complete; a file in another shard directory is removed by path.
      if (complete && !status.ok()) status = unlink(path.c_str()) == 0
                                                 ? absl::OkStatus()
                                                 : absl::InternalError("unlink");
    }
    reactor->Post([alive, this, id, send_dsn, dsn_status, status, complete,
                   dsn_id = dsn_env.queue_id, dsn_path = spool->PathFor(dsn_env.queue_id)] {
      // Gone (shut down): the queue file and any DSN are on disk for the next start.
      if (alive.expired()) return;
      auto it = messages_.find(id);
      if (it == messages_.end()) return;
      Message& m = *it->second;
      m.in_progress = false;
      if (send_dsn && dsn_status.ok()) {
        env_.Count(env_.counter_ids.dsns_created);
        KLOG(kInfo, "dsn").Kv("id", id).Kv("dsn_id", dsn_id);
        Enqueue(dsn_path, dsn_id);
      }
      if (!dsn_status.ok()) {
        KLOG(kError, "dsn_failed").Kv("id", id).Kv("error", dsn_status);
      } else if (!status.ok()) {
        KLOG(kError, "queue_update_failed").Kv("id", id).Kv("error", status);
      }
      if (complete && dsn_status.ok() && status.ok()) {
        KLOG(kInfo, "removed").Kv("id", id);
        // By id, not by `it`: Enqueue() above may have rehashed the map.
        RemoveMessage(id);
        return;
      }
      Schedule(id, absl::Now() + RetryDelay(m.attempts, settings_.retry_min, settings_.retry_max));
    });
  });
}

}  // namespace kensa::queue
