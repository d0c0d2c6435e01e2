// SPDX-License-Identifier: GPL-2.0-or-later
#include "server/scan_session.h"

#include <algorithm>

namespace kensa {

std::shared_ptr<ScanSession> ScanSession::Start(
    Reactor* reactor, Worker* worker, std::shared_ptr<const sigs::SignatureSet> signatures,
    scan::VerdictCache* cache, const scan::ScanSettings& settings,
    InFlightBytes* reactor_in_flight) {
  return std::shared_ptr<ScanSession>(
      new ScanSession(reactor, worker, std::move(signatures), cache, settings, reactor_in_flight));
}

ScanSession::ScanSession(Reactor* reactor, Worker* worker,
                         std::shared_ptr<const sigs::SignatureSet> sigs, scan::VerdictCache* cache,
                         const scan::ScanSettings& settings, InFlightBytes* reactor_in_flight)
    : reactor_(reactor),
      worker_(worker),
      signatures_(std::move(sigs)),
      cache_(cache),
      settings_(settings),
      in_flight_(reactor),
      reactor_in_flight_(reactor_in_flight) {}

scan::MessageScanner& ScanSession::WorkerScanner() {
  // Made by the worker's first job for this session: a message the reactor scans never needs
  // one.
  if (scanner_ == nullptr) {
    scanner_ = std::make_unique<scan::MessageScanner>(signatures_->engine(), signatures_->version(),
                                                      cache_, settings_);
    scanner_->SetPrefilter(signatures_->prefilter());
    scanner_->SetMessagePrefilter(signatures_->message_prefilter());
  }
  return *scanner_;
}

void ScanSession::Feed(std::string_view bytes) {
  // Chunks of exactly kHandOverBytes, each in a buffer no larger: std::string's doubling
  // would leave up to twice that allocated for every chunk queued for the worker, and the
  // queue holds up to the reactor's max_bytes_in_flight (measured: 199 MiB of buffers for
  // ~100 MiB queued at 64 POP3 clients x 5 MB).
  while (!bytes.empty()) {
    const size_t take = std::min(bytes.size(), kHandOverBytes - pending_.size());
    if (pending_.size() + take > pending_.capacity()) {
      pending_.reserve(
          std::min(kHandOverBytes, std::max(pending_.size() + take, 2 * pending_.capacity())));
    }
    pending_.append(bytes.data(), take);
    bytes.remove_prefix(take);
    if (pending_.size() >= kHandOverBytes) HandOver();
  }
}

void ScanSession::HandOver() {
  if (pending_.empty()) return;
  handed_over_ = true;
  auto chunk = std::make_shared<std::string>();
  chunk->swap(pending_);
  in_flight_.Add(chunk->size());
  reactor_in_flight_->Add(chunk->size());
  worker_->Submit([self = shared_from_this(), chunk] {
    if (!self->cancelled_.load(std::memory_order_relaxed)) self->WorkerScanner().Feed(*chunk);
    // Either may wake a connection paused for the scanner (its own bytes, or the reactor's).
    self->in_flight_.Sub(chunk->size());
    self->reactor_in_flight_->Sub(chunk->size());
  });
}

void ScanSession::WakeWhenAtMost(size_t bound, Task wake) {
  // pending_ only grows by Feed(), which a paused connection does not call.
  const size_t worker_bound = bound > pending_.size() ? bound - pending_.size() : 0;
  in_flight_.WakeWhenAtMost(0, worker_bound, std::move(wake));
}

void ScanSession::FeedSpool(std::shared_ptr<const scan::MessageSpool> spool) {
  HandOver();
  handed_over_ = true;
  worker_->Submit([self = shared_from_this(), spool = std::move(spool)] {
    std::string piece;
    for (uint64_t at = 0; !self->cancelled_.load(std::memory_order_relaxed); at += piece.size()) {
      absl::Status s = spool->ReadAt(at, kHandOverBytes, &piece);
      if (!s.ok()) {
        self->spool_error_ = std::move(s);
        return;
      }
      if (piece.empty()) return;
      self->WorkerScanner().Feed(piece);
    }
  });
}

std::optional<scan::MessageVerdict> ScanSession::ScanOnReactor() {
  if (handed_over_ || pending_.empty() || pending_.size() > settings_.reactor_scan_max_bytes ||
      signatures_->message_prefilter() == nullptr) {
    return std::nullopt;
  }
  // No verdict cache: the worker's is its thread's alone.
  scan::MessageScanner scanner(signatures_->engine(), signatures_->version(), nullptr, settings_);
  scanner.SetMessagePrefilter(signatures_->message_prefilter());
  scanner.ForbidEngine();
  scanner.Feed(pending_);
  scan::MessageVerdict verdict = scanner.Finish();
  if (verdict.needed_engine) return std::nullopt;
  verdict.on_reactor = true;
  return verdict;
}

void ScanSession::Finish(Done done) {
  if (std::optional<scan::MessageVerdict> verdict = ScanOnReactor()) {
    pending_.clear();
    // Posted, not called: the caller may not expect its callback before Finish() returns.
    reactor_->Post([self = shared_from_this(), done = std::move(done),
                    verdict = *std::move(verdict)]() mutable {
      if (!self->cancelled_.load(std::memory_order_relaxed)) done(std::move(verdict));
    });
    return;
  }
  HandOver();
  worker_->Submit([self = shared_from_this(), done = std::move(done)]() mutable {
    if (self->cancelled_.load(std::memory_order_relaxed)) return;
    scan::MessageVerdict verdict = self->WorkerScanner().Finish();
    if (!self->spool_error_.ok()) {
      verdict.kind = scan::MessageVerdict::Kind::kLocalFailure;
      verdict.local_failure = std::string(self->spool_error_.message());
    }
    self->reactor_->Post([self, done = std::move(done), verdict = std::move(verdict)]() mutable {
      if (!self->cancelled_.load(std::memory_order_relaxed)) done(std::move(verdict));
    });
  });
}

void ScanSession::Cancel() {
  cancelled_.store(true, std::memory_order_relaxed);
  pending_.clear();
}

}  // namespace kensa
