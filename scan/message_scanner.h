// SPDX-License-Identifier: GPL-2.0-or-later
// MessageScanner: the scan pipeline of one message, fed its raw bytes as they arrive. The
// MIME parser splits and decodes; each leaf part is hashed (SHA-256) and buffered as it is
// decoded, uuencoded files inside text parts are pulled out, and when a part ends it is
// looked up in the verdict cache or scanned by libclamav. Finish() closes the message and
// says which parts are infected or unscannable and why.
//
// Blocking (libclamav): it runs on a scan worker thread, never on a reactor. The engine's
// SignatureSet must outlive the scanner (the caller holds its shared_ptr).
#ifndef KENSA_SCAN_MESSAGE_SCANNER_H_
#define KENSA_SCAN_MESSAGE_SCANNER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "scan/clam_engine.h"
#include "scan/mime_parser.h"
#include "scan/prefilter.h"
#include "scan/rewrite.h"
#include "scan/spill_buffer.h"
#include "scan/verdict_cache.h"

namespace kensa::scan {

struct ScanSettings {
  MimeLimits mime;
  size_t part_memory_bytes = 1 << 20;   // a decoded part beyond this goes to a temp file
  uint64_t max_part_bytes = 100ull << 20;  // a larger decoded part is unscannable
  std::string temp_dir = "/tmp";
  // Also scan the raw message with libclamav's own mail parser: a second reading of the MIME
  // structure, so a part that only a client's parser finds is not missed.
  bool whole_message_check = true;
  // Messages larger than this get the per-part reading only: the second reading costs a whole
  // libclamav pass after the end of data, which a large message cannot afford within the
  // client's wait for the final reply.
  uint64_t whole_message_max_bytes = 4ull << 20;
  // A message at most this large is first scanned on its reactor, with no libclamav call
  // allowed: most plain mail needs none (its parts are typed and cleared by the prefilter, its
  // whole-message reading predicted), and the scan worker's two thread hops cost more than the
  // scan. The first object that would need libclamav ends the attempt, and the message goes
  // to the worker as any other. 0: every message goes to the worker.
  uint64_t reactor_scan_max_bytes = 64 * 1024;
};

struct MessageVerdict {
  // kLocalFailure: some object could not be scanned because of this machine (temporary space
  // full or gone, memory, local I/O): there is no verdict, whatever else was found, and the
  // message must be deferred (SMTP 451, POP3 retrieval failed), never passed or cleaned.
  enum class Kind { kClean, kInfected, kUnscannable, kLocalFailure };
  Kind kind = Kind::kClean;
  std::string local_failure;          // kLocalFailure: the first cause, for the log
  std::vector<PartFinding> findings;  // the infected and unscannable parts
  std::vector<std::string> names;     // distinct virus names / reasons, in order found
  uint64_t parts = 0;                 // leaves seen
  uint64_t engine_scans = 0;          // objects libclamav scanned
  uint64_t cache_hits = 0;
  uint64_t fast_path = 0;             // objects the prefilter proved clean (no engine scan)
  uint64_t bytes = 0;                 // raw message bytes
  // Per leaf part, in the order they ended: the time from the part's end to its verdict
  // (verdict cache, prefilter decision, libclamav). Decoding and the prefilter's streaming
  // happen while the data arrives and are not in it. One entry per part in `parts`.
  std::vector<absl::Duration> part_scan_times;
  // The whole-message reading (ScanSettings::whole_message_check) found what no part's
  // reading did: how often that happens says what the second reading is worth.
  bool second_opinion_only = false;
  // How the whole-message reading went: not run (kNone), proved clean by the prefilter
  // (kFastPath: libclamav's reading of the message shows no layer the engine could flag),
  // scanned by the engine, or predicted (kPredicted: a plain message, whose reading by
  // libclamav shows only what the parts' reading scanned plus the line forms of its identity
  // parts, which were scanned in its place; mail_reading_prediction.h).
  enum class SecondReading { kNone, kFastPath, kEngine, kPredicted };
  SecondReading second_reading = SecondReading::kNone;
  // Why the prefilter sent the whole-message reading to the engine ("not plain
  // (CL_TYPE_HTML)", say); empty when it did not or there was no prefilter.
  std::string second_reading_why;
  // Why the reading could not be predicted ("transfer encoding", "literal"); empty when it was
  // or no prediction was tried.
  std::string prediction_why_not;
  // MessageScanner::ForbidEngine(): some object needed libclamav (the engine or the probe),
  // and this verdict is no verdict at all.
  bool needed_engine = false;
  // Scanned whole on the reactor (ScanSettings::reactor_scan_max_bytes), not on the worker.
  bool on_reactor = false;
  MimePart root;                      // the top-level message (body_end = bytes)
  std::string_view KindName() const;
};

// "none", "fast_path", "engine", "predicted": the log's second_reading field.
std::string_view SecondReadingName(MessageVerdict::SecondReading r);

class MessageScanner : public MimeSink {
 public:
  // `cache` may be null (no verdict cache: every part goes to the engine).
  MessageScanner(const ClamEngine& engine, std::string signature_version, VerdictCache* cache,
                 const ScanSettings& settings);
  ~MessageScanner() override;

  // Puts the signature set's prefilter in front of the engine for every part from here on
  // (null: none). It must outlive the scanner, like the engine.
  void SetPrefilter(const PrefilterDatabase* prefilter) { prefilter_ = prefilter; }
  // The set's prefilter database also where it is not put in front of the parts (a small set):
  // with it the whole-message reading of a plain message is predicted instead of run, and a
  // part that libclamav would type plain text or binary data by its bytes alone is decided
  // without the engine (PartPrefilter::kTypingOnly). Call before the first Feed(). Null (or
  // never called): the parts' prefilter, if any, serves.
  void SetMessagePrefilter(const PrefilterDatabase* prefilter) { message_prefilter_ = prefilter; }

  // Before the first Feed(): libclamav is never called. The first object that would need it
  // (the engine, or the prefilter's probe) stops the scan, and Finish() says needed_engine;
  // parts are decided by the message prefilter's typing alone (PartPrefilter::kTypingOnly),
  // and there is no verdict cache. For a scan on a thread that must not block (a reactor).
  void ForbidEngine() { engine_forbidden_ = true; }

  void Feed(std::string_view raw);
  MessageVerdict Finish();

  // MimeSink
  void OnContainerBegin(const MimePart& part) override;
  void OnLeafBegin(const MimePart& part) override;
  void OnLeafData(uint32_t part_id, std::string_view decoded) override;
  void OnLeafEnd(const MimePart& part) override;
  void OnLimitExceeded(std::string_view what) override;

 private:
  struct Leaf;
  ScanResult ScanObject(SpillBuffer& buffer, std::string_view name, PartPrefilter* prefilter);
  void AddFinding(const MimePart& part, const ScanResult& result);
  MimePart RootPart() const;
  // The prefilter of one object: the parts' (with the probe), else the message's without it;
  // null when there is neither.
  std::unique_ptr<PartPrefilter> NewPartPrefilter() const;
  // The second reading predicted from the parts' (mail_reading_prediction.h): true when it
  // stands for libclamav's, its line forms scanned and their findings added.
  bool PredictSecondReading();

  const ClamEngine& engine_;
  std::string version_;
  VerdictCache* cache_;
  const PrefilterDatabase* prefilter_ = nullptr;
  const PrefilterDatabase* message_prefilter_ = nullptr;
  ScanSettings settings_;
  MimeParser parser_;
  absl::flat_hash_map<uint32_t, std::unique_ptr<Leaf>> open_;
  std::unique_ptr<SpillBuffer> raw_;  // whole_message_check
  // The prefilter's view of the raw message for the second reading: its probe walks the
  // message as libclamav's own MIME parser reads it, so the engine's pass is skipped only when
  // no layer of that reading holds anything a signature needs. Null: no prefilter, or it did
  // not see the message from its first byte.
  std::unique_ptr<PartPrefilter> raw_prefilter_;
  std::optional<MimePart> root_;      // the top-level message's part (leaf or container)
  // Every part as the parser reported it, for predicting libclamav's reading: leaves with
  // their final offsets, containers as they began.
  std::vector<MimePart> leaves_, containers_;
  bool uuencoded_ = false;            // a text part held a uuencoded file
  std::vector<std::string> limits_;
  bool engine_forbidden_ = false;
  MessageVerdict verdict_;
  bool finished_ = false;
};

}  // namespace kensa::scan

#endif  // KENSA_SCAN_MESSAGE_SCANNER_H_
