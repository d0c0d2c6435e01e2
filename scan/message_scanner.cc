// SPDX-License-Identifier: GPL-2.0-or-later
#include "scan/message_scanner.h"

#include <algorithm>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "scan/mail_reading_prediction.h"
#include "scan/transfer_encoding.h"

namespace kensa::scan {
namespace {

bool IsTextLeaf(const MimePart& p) {
  return p.role == PartRole::kPreamble || p.role == PartRole::kEpilogue ||
         absl::StartsWith(p.media_type, "text/");
}

// A local failure beats all (the part has no verdict at all); infected beats unscannable: the
// notice should name the virus when there is one.
void Merge(ScanResult* into, const ScanResult& r) {
  if (into->kind == ScanResult::Kind::kLocalFailure) return;
  if (r.kind == ScanResult::Kind::kLocalFailure) {
    *into = r;
  } else if (r.kind == ScanResult::Kind::kInfected && into->kind != ScanResult::Kind::kInfected) {
    *into = r;
  } else if (r.kind == ScanResult::Kind::kUnscannable && into->kind == ScanResult::Kind::kClean) {
    *into = r;
  }
}

}  // namespace

std::string_view MessageVerdict::KindName() const {
  switch (kind) {
    case Kind::kClean:
      return "clean";
    case Kind::kInfected:
      return "infected";
    case Kind::kUnscannable:
      return "unscannable";
    case Kind::kLocalFailure:
      return "local_failure";
  }
  return "?";
}

std::string_view SecondReadingName(MessageVerdict::SecondReading r) {
  switch (r) {
    case MessageVerdict::SecondReading::kNone:
      return "none";
    case MessageVerdict::SecondReading::kFastPath:
      return "fast_path";
    case MessageVerdict::SecondReading::kEngine:
      return "engine";
    case MessageVerdict::SecondReading::kPredicted:
      return "predicted";
  }
  return "?";
}

// One open leaf: its decoded bytes, and the files uuencoded inside it when it is text.
struct MessageScanner::Leaf : public UuencodeExtractor::Sink {
  Leaf(MessageScanner* s, const MimePart& p)
      : scanner(s),
        part(p),
        buffer(s->settings_.part_memory_bytes, s->settings_.max_part_bytes, s->settings_.temp_dir,
               /*hash_as_appended=*/s->cache_ != nullptr) {
    if (IsTextLeaf(p)) uu = std::make_unique<UuencodeExtractor>(this);
    prefilter = s->NewPartPrefilter();
  }
  void OnFileBegin(std::string_view name) override {
    scanner->uuencoded_ = true;
    uu_file = std::make_unique<SpillBuffer>(
        scanner->settings_.part_memory_bytes, scanner->settings_.max_part_bytes,
        scanner->settings_.temp_dir, /*hash_as_appended=*/scanner->cache_ != nullptr);
    uu_name = std::string(name);
  }
  void OnFileData(std::string_view decoded) override {
    if (uu_file != nullptr) uu_file->Append(decoded);
  }
  void OnFileEnd() override {
    if (uu_file == nullptr) return;
    if (uu_file->size() > 0) Merge(&embedded, scanner->ScanObject(*uu_file, uu_name, nullptr));
    uu_file.reset();
  }

  MessageScanner* scanner;
  MimePart part;
  SpillBuffer buffer;
  std::unique_ptr<PartPrefilter> prefilter;  // null: straight to the engine
  std::unique_ptr<UuencodeExtractor> uu;
  std::unique_ptr<SpillBuffer> uu_file;
  std::string uu_name;
  ScanResult embedded;  // worst result among uuencoded files
};

MessageScanner::MessageScanner(const ClamEngine& engine, std::string signature_version,
                               VerdictCache* cache, const ScanSettings& settings)
    : engine_(engine),
      version_(std::move(signature_version)),
      cache_(cache),
      settings_(settings),
      parser_(settings.mime, this) {
  if (settings_.whole_message_check) {
    // Its digest is never wanted: the whole message is not a verdict cache entry.
    raw_ = std::make_unique<SpillBuffer>(settings_.part_memory_bytes, settings_.max_part_bytes,
                                         settings_.temp_dir, /*hash_as_appended=*/false);
  }
}

MessageScanner::~MessageScanner() = default;

void MessageScanner::Feed(std::string_view raw) {
  if (finished_ || verdict_.needed_engine) return;
  verdict_.bytes += raw.size();
  if (raw_ != nullptr) {
    if (verdict_.bytes <= settings_.whole_message_max_bytes) {
      const PrefilterDatabase* db = prefilter_ != nullptr ? prefilter_ : message_prefilter_;
      if (db != nullptr && verdict_.bytes == raw.size()) {
        raw_prefilter_ = std::make_unique<PartPrefilter>(*db);
        raw_prefilter_->DeferNormalizedText();
      }
      raw_->Append(raw);
      if (raw_prefilter_ != nullptr) raw_prefilter_->Feed(raw);
    } else {
      raw_.reset();  // past the size the second reading is for
      raw_prefilter_.reset();
    }
  }
  parser_.Feed(raw);
}

void MessageScanner::OnContainerBegin(const MimePart& part) {
  if (part.parent < 0 && !root_) root_ = part;
  if (raw_prefilter_ != nullptr) containers_.push_back(part);
}

void MessageScanner::OnLeafBegin(const MimePart& part) {
  if (part.parent < 0 && !root_) root_ = part;
  ++verdict_.parts;
  open_[part.id] = std::make_unique<Leaf>(this, part);
}

void MessageScanner::OnLeafData(uint32_t part_id, std::string_view decoded) {
  auto it = open_.find(part_id);
  if (it == open_.end()) return;
  Leaf& leaf = *it->second;
  leaf.buffer.Append(decoded);
  if (leaf.prefilter != nullptr) leaf.prefilter->Feed(decoded);
  if (leaf.uu != nullptr) leaf.uu->Feed(decoded);
}

void MessageScanner::OnLeafEnd(const MimePart& part) {
  auto it = open_.find(part.id);
  if (it == open_.end()) return;
  const absl::Time start = absl::Now();
  std::unique_ptr<Leaf> leaf = std::move(it->second);
  open_.erase(it);
  if (part.parent < 0) root_ = part;  // now with its final offsets
  leaf->part = part;
  if (raw_prefilter_ != nullptr) leaves_.push_back(part);
  if (leaf->uu != nullptr) leaf->uu->Finish();
  ScanResult result = leaf->embedded;
  if (leaf->buffer.size() > 0) {
    Merge(&result, ScanObject(leaf->buffer, part.filename, leaf->prefilter.get()));
  }
  if (!result.clean()) AddFinding(part, result);
  verdict_.part_scan_times.push_back(absl::Now() - start);
}

void MessageScanner::OnLimitExceeded(std::string_view what) {
  std::string reason = absl::StrCat("Kensa.Limits.Exceeded.Mime (", std::string(what), ")");
  if (std::find(limits_.begin(), limits_.end(), reason) == limits_.end()) {
    limits_.push_back(std::move(reason));
  }
}

ScanResult MessageScanner::ScanObject(SpillBuffer& buffer, std::string_view name,
                                      PartPrefilter* prefilter) {
  // The digest only where it is used: the cache's key, and a cleared part the whole message's
  // probe may meet again (with the parts' prefilter).
  std::optional<Sha256> digest;
  auto get_digest = [&] {
    if (!digest) digest = buffer.Digest();
    return *digest;
  };
  const bool cacheable = cache_ != nullptr && buffer.error().ok() && !buffer.truncated();
  if (cacheable) {
    if (std::optional<ScanResult> hit = cache_->Find(get_digest(), version_)) {
      ++verdict_.cache_hits;
      return *hit;
    }
  }
  ScanResult r;
  if (prefilter != nullptr && prefilter->Decide(buffer) == PartPrefilter::Decision::kSkipEngine) {
    ++verdict_.fast_path;  // r stays clean: the engine has provably nothing to find
    // libclamav's reading of the whole message meets these bytes again as one of its parts.
    if (raw_prefilter_ != nullptr && prefilter_ != nullptr) {
      raw_prefilter_->Reuse(prefilter->Cleared(get_digest(), buffer.size()));
    }
  } else if (engine_forbidden_) {
    verdict_.needed_engine = true;  // r means nothing: the whole verdict is dropped
    return r;
  } else {
    ++verdict_.engine_scans;
    r = buffer.ScanWith(engine_, name);
  }
  // Only real verdicts are remembered: a local failure or a scan error may be transient.
  if (cacheable && r.kind != ScanResult::Kind::kLocalFailure &&
      !absl::StartsWith(r.name, "scan error")) {
    cache_->Insert(get_digest(), version_, r);
  }
  return r;
}

void MessageScanner::AddFinding(const MimePart& part, const ScanResult& result) {
  if (result.kind == ScanResult::Kind::kLocalFailure) {
    // Not a finding: no verdict was reached, and the whole message waits for a retry.
    if (verdict_.local_failure.empty()) verdict_.local_failure = result.name;
    return;
  }
  for (const std::string& n : {result.name}) {
    if (std::find(verdict_.names.begin(), verdict_.names.end(), n) == verdict_.names.end()) {
      verdict_.names.push_back(n);
    }
  }
  verdict_.findings.push_back({part, result});
}

std::unique_ptr<PartPrefilter> MessageScanner::NewPartPrefilter() const {
  if (prefilter_ != nullptr && !engine_forbidden_)
    return std::make_unique<PartPrefilter>(*prefilter_);
  // A small set's engine costs about what the probe does: only an object whose type is known
  // without the probe is decided by the prefilter, every other one goes to the engine.
  if (message_prefilter_ != nullptr && message_prefilter_->file_types() != nullptr) {
    return std::make_unique<PartPrefilter>(*message_prefilter_, PartPrefilter::kTypingOnly);
  }
  return nullptr;
}

MimePart MessageScanner::RootPart() const {
  MimePart p;  // a message without even a header block: the body is everything
  if (root_) p = *root_;
  // A multipart root is reported before its body is known; its body ends with the message.
  p.body_end = verdict_.bytes;
  if (p.body_begin > p.body_end) p.body_begin = p.body_end;
  return p;
}

bool MessageScanner::PredictSecondReading() {
  const PrefilterDatabase* db = prefilter_ != nullptr ? prefilter_ : message_prefilter_;
  if (db == nullptr || raw_prefilter_ == nullptr) return false;
  std::string& why = verdict_.prediction_why_not;
  if (db->mail_reading_unpredictable())
    why = "the set's container signatures or file types";
  else if (db->routed_classes() & kPlainMail)
    why = "routed mail class";
  else if (!limits_.empty())
    why = "parser limit";
  else if (uuencoded_)
    why = "uuencoded file";
  else if (raw_->size() > settings_.part_memory_bytes || !raw_->error().ok() || raw_->truncated()) {
    why = "size";
  }
  if (!why.empty()) return false;
  // Within part_memory_bytes, so held in memory: read in place.
  const std::optional<std::string_view> in_memory = raw_->memory();
  if (!in_memory) {
    why = "raw message unreadable";
    return false;
  }
  const std::string_view raw = *in_memory;
  MailReadingPrediction prediction = PredictMailReading(raw, leaves_, containers_);
  if (!prediction.plain) {
    why = std::move(prediction.why_not);
    return false;
  }
  // The message's own bytes, as libclamav matches them before its parser runs.
  if (!raw_prefilter_->ClearsMessageBytes(raw)) {
    why = "literal or hash in the raw message";
    return false;
  }
  for (MailReadingPrediction::LineForm& form : prediction.line_forms) {
    const MimePart& part = leaves_[form.leaf];
    SpillBuffer buffer(settings_.part_memory_bytes, settings_.max_part_bytes, settings_.temp_dir,
                       /*hash_as_appended=*/cache_ != nullptr);
    buffer.Append(form.bytes);
    std::unique_ptr<PartPrefilter> prefilter = NewPartPrefilter();
    if (prefilter != nullptr) prefilter->Feed(form.bytes);
    const ScanResult r = ScanObject(buffer, part.filename, prefilter.get());
    if (!r.clean()) AddFinding(part, r);
  }
  return true;
}

MessageVerdict MessageScanner::Finish() {
  if (finished_) return verdict_;
  finished_ = true;
  if (verdict_.needed_engine) return verdict_;
  parser_.Finish();
  // A leaf the parser did not close (it always should) is still scanned.
  std::vector<uint32_t> left;
  for (const auto& [id, leaf] : open_) left.push_back(id);
  std::sort(left.begin(), left.end());
  for (uint32_t id : left) {
    MimePart p = open_[id]->part;
    if (p.body_end < p.body_begin) p.body_end = verdict_.bytes;
    OnLeafEnd(p);
  }
  bool any_infected = std::any_of(
      verdict_.findings.begin(), verdict_.findings.end(),
      [](const PartFinding& f) { return f.result.kind == ScanResult::Kind::kInfected; });
  if (raw_ != nullptr && !any_infected && verdict_.local_failure.empty() && verdict_.bytes > 0 &&
      verdict_.bytes <= settings_.whole_message_max_bytes) {
    // The second reading: libclamav parses the raw message itself. What it finds that the
    // per-part scan did not is not localised to a part, so it stands for the whole message.
    // The prefilter answers for it when every layer of libclamav's reading is clear.
    ScanResult whole;
    const bool predicted = PredictSecondReading();
    if (!predicted && engine_forbidden_) {
      verdict_.needed_engine = true;
      return verdict_;
    }
    const std::optional<PartPrefilter::Decision> decision =
        !predicted && prefilter_ != nullptr && raw_prefilter_ != nullptr
            ? std::optional(raw_prefilter_->Decide(*raw_))
            : std::nullopt;
    if (predicted) {
      verdict_.second_reading = MessageVerdict::SecondReading::kPredicted;
    } else if (decision == PartPrefilter::Decision::kSkipEngine) {
      ++verdict_.fast_path;
      verdict_.second_reading = MessageVerdict::SecondReading::kFastPath;
    } else {
      if (decision) {
        const std::string& at = raw_prefilter_->stopped_at_type();
        verdict_.second_reading_why =
            absl::StrCat(std::string(PartPrefilter::DecisionName(*decision)), " (",
                         at.empty() ? std::string("type not probed") : at, ")");
      }
      ++verdict_.engine_scans;
      verdict_.second_reading = MessageVerdict::SecondReading::kEngine;
      whole = raw_->ScanWith(engine_, "message");
    }
    if (whole.kind == ScanResult::Kind::kInfected ||
        whole.kind == ScanResult::Kind::kLocalFailure) {
      AddFinding(RootPart(), whole);
    }
    // Only run when no part was infected, so any detection here is the second reading's own.
    verdict_.second_opinion_only = whole.kind == ScanResult::Kind::kInfected;
  }
  if (!limits_.empty() && verdict_.findings.empty()) {
    for (const std::string& reason : limits_) {
      AddFinding(RootPart(), {ScanResult::Kind::kUnscannable, reason});
    }
  }
  verdict_.root = RootPart();
  if (!verdict_.local_failure.empty()) {
    verdict_.kind = MessageVerdict::Kind::kLocalFailure;
    return verdict_;
  }
  for (const PartFinding& f : verdict_.findings) {
    if (f.result.kind == ScanResult::Kind::kInfected) {
      verdict_.kind = MessageVerdict::Kind::kInfected;
      break;
    }
    verdict_.kind = MessageVerdict::Kind::kUnscannable;
  }
  return verdict_;
}

}  // namespace kensa::scan
