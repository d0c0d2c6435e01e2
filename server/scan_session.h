// SPDX-License-Identifier: GPL-2.0-or-later
// ScanSession: one message's scan, driven from its reactor and run on the reactor's scan
// worker. The reactor hands over the message bytes as they arrive (batched, so a message
// costs a few hand-overs, not one per packet); the worker parses, decodes and scans them as
// they come, so by the end of data most of the work is done. Finish() reports the verdict back
// on the reactor. The session holds its SignatureSet snapshot until the verdict is out: a
// reload during the message changes nothing for it.
//
// A small message (ScanSettings::reactor_scan_max_bytes) that was never handed over is first
// scanned at Finish() on the reactor itself, with libclamav forbidden
// (MessageScanner::ForbidEngine): plain mail needs no libclamav call, and then costs no thread
// hop. When an object would need libclamav the attempt is dropped and the worker scans the
// message as usual.
#ifndef KENSA_SERVER_SCAN_SESSION_H_
#define KENSA_SERVER_SCAN_SESSION_H_

#include <atomic>
#include <memory>
#include <optional>
#include <string>

#include "absl/functional/any_invocable.h"
#include "core/in_flight_bytes.h"
#include "core/reactor.h"
#include "core/worker.h"
#include "scan/message_scanner.h"
#include "scan/message_spool.h"
#include "sigs/signature_set.h"

namespace kensa {

class ScanSession : public std::enable_shared_from_this<ScanSession> {
 public:
  using Done = absl::AnyInvocable<void(scan::MessageVerdict)>;
  static constexpr size_t kHandOverBytes = 64 * 1024;

  // `cache` belongs to `worker` (only its thread touches it); may be null. `reactor_in_flight`
  // counts the bytes handed over and not yet scanned by every session of the reactor.
  static std::shared_ptr<ScanSession> Start(Reactor* reactor, Worker* worker,
                                            std::shared_ptr<const sigs::SignatureSet> signatures,
                                            scan::VerdictCache* cache,
                                            const scan::ScanSettings& settings,
                                            InFlightBytes* reactor_in_flight);

  void Feed(std::string_view bytes);
  // The whole message, from where it was spooled (a POP3 re-fetch scanned after all): read in
  // pieces on the worker, so neither the reactor nor memory holds it. A read error makes the
  // verdict kLocalFailure.
  void FeedSpool(std::shared_ptr<const scan::MessageSpool> spool);
  // `done` runs on the reactor, unless Cancel() came first.
  void Finish(Done done);
  // The message was abandoned: queued work is skipped, `done` never runs.
  void Cancel();
  // Bytes handed over and not yet scanned: the connection pauses input above a bound.
  size_t bytes_in_flight() const { return in_flight_.value() + pending_.size(); }
  // Reactor thread: `wake` runs on the reactor once bytes_in_flight() has fallen to `bound`
  // (the worker posts it as it finishes a chunk); a later call replaces an earlier one.
  void WakeWhenAtMost(size_t bound, Task wake);
  const std::string& signature_version() const { return signatures_->version(); }

 private:
  ScanSession(Reactor* reactor, Worker* worker, std::shared_ptr<const sigs::SignatureSet> sigs,
              scan::VerdictCache* cache, const scan::ScanSettings& settings,
              InFlightBytes* reactor_in_flight);
  void HandOver();
  // The reactor's attempt (see above): the verdict, or nullopt when libclamav is needed.
  std::optional<scan::MessageVerdict> ScanOnReactor();
  // Worker thread: the session's scanner, made on first use.
  scan::MessageScanner& WorkerScanner();

  Reactor* reactor_;
  Worker* worker_;
  std::shared_ptr<const sigs::SignatureSet> signatures_;
  scan::VerdictCache* cache_;  // the worker's
  scan::ScanSettings settings_;
  std::unique_ptr<scan::MessageScanner> scanner_;  // made and touched only on the worker
  std::string pending_;                            // reactor side, not yet handed over
  InFlightBytes in_flight_;  // this session's share of *reactor_in_flight_
  InFlightBytes* reactor_in_flight_;
  std::atomic<bool> cancelled_{false};
  bool handed_over_ = false;  // reactor side: the worker has (or will have) seen bytes
  absl::Status spool_error_;  // worker side: FeedSpool() could not read the message
};

}  // namespace kensa

#endif  // KENSA_SERVER_SCAN_SESSION_H_
