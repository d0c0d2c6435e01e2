// SPDX-License-Identifier: GPL-2.0-or-later
#include "scan/prefilter.h"

#include <hs/hs.h>
#include <openssl/evp.h>

#include <limits>
#include <optional>

#include "absl/strings/str_cat.h"
#include "scan/plain_typing.h"

namespace kensa::scan {
namespace {

// One Hyperscan scratch per scan worker thread, grown to fit every database it has met (a
// reload brings new ones). hs_alloc_scratch costs as much as scanning a few hundred kilobytes,
// so it runs only when the thread meets a database set it has not sized the scratch for.
hs_scratch_t* ThreadScratch(const PrefilterDatabase& db) {
  struct Scratch {
    hs_scratch_t* space = nullptr;
    uint64_t sized_for = 0;  // PrefilterDatabase::serial(); 0: none yet
    ~Scratch() {
      if (space != nullptr) hs_free_scratch(space);
    }
  };
  thread_local Scratch scratch;
  if (scratch.sized_for == db.serial() && scratch.space != nullptr) return scratch.space;
  const hs_database_t* types = db.file_types() != nullptr ? db.file_types()->patterns() : nullptr;
  for (const hs_database_t* d : {db.raw(), db.normalized(), types}) {
    if (d != nullptr && hs_alloc_scratch(d, &scratch.space) != HS_SUCCESS) return nullptr;
  }
  scratch.sized_for = db.serial();
  return scratch.space;
}

// The trigger bits that keep a layer of class `cls` from being cleared: every trigger, except
// mail headers in a mail layer (they are what made it one) and any in a PDF. libclamav 1.4 acts
// on an HTML or mail trigger only in a text layer (or HTML in a GIF) and parses an embedded PDF
// only in a layer that is not one already (scanraw), so in a PDF they change nothing; a PDF's
// own "%PDF-" is one.
uint8_t TriggersFor(uint8_t cls) {
  if (cls == kPlainPdf) return 0;
  return cls == kPlainMail ? kTypeTrigger : (kTypeTrigger | kMailTrigger);
}

// Whether every class is settled by the literals and triggers seen so far (a literal of its
// own, or a trigger that keeps it from being cleared): nothing more to learn from the bytes.
bool EveryClassSettled(uint8_t hits) {
  for (uint8_t cls :
       {kPlainBinary, kPlainImage, kPlainText, kPlainContainer, kPlainMail, kPlainPdf}) {
    if (!(hits & cls) && !(hits & TriggersFor(cls))) return false;
  }
  return true;
}

Sha256 Sha256Of(std::string_view bytes) {
  Sha256 d{};
  unsigned len = 0;
  EVP_Digest(bytes.data(), bytes.size(), d.data(), &len, EVP_sha256(), nullptr);
  return d;
}

// Like libclamav's own sniffing of text: no NUL and no control character other than
// whitespace and ESC in the first bytes. Only a guess: when the probe disagrees, the object
// goes to the engine.
bool StartsLikeText(std::string_view head) {
  head = head.substr(0, 512);
  for (unsigned char c : head) {
    if (c < 0x20 && !(c >= '\t' && c <= '\r') && c != 0x1b) return false;
  }
  return true;
}

// Layers whose normalised text libclamav matches: text (cli_scanscript). A message
// (CL_TYPE_MAIL, CL_TYPE_MHTML) is not normalised; the parts its parser extracts are layers.
bool HasNormalizedText(uint8_t cls) { return (cls & kPlainText) != 0; }

}  // namespace

PartPrefilter::PartPrefilter(const PrefilterDatabase& db, Mode mode) : db_(db), mode_(mode) {}

PartPrefilter::~PartPrefilter() { CloseStreams(); }

int PartPrefilter::OnRawMatch(unsigned id, unsigned long long, unsigned long long, unsigned,
                              void* context) {
  auto* self = static_cast<PartPrefilter*>(context);
  self->raw_hits_ |= self->db_.raw_classes(id);
  return EveryClassSettled(self->raw_hits_) ? 1 : 0;
}

int PartPrefilter::OnFileTypeMatch(unsigned, unsigned long long, unsigned long long, unsigned,
                                   void* context) {
  static_cast<PartPrefilter*>(context)->typed_ = true;
  return 1;  // one is enough
}

int PartPrefilter::OnNormalizedMatch(unsigned id, unsigned long long, unsigned long long, unsigned,
                                     void* context) {
  auto* self = static_cast<PartPrefilter*>(context);
  self->normalized_hits_ |= self->db_.normalized_classes(id);
  return (self->normalized_hits_ & kPlainText) ? 1 : 0;
}

void PartPrefilter::Feed(std::string_view decoded) {
  if (failed_ || decoded.empty()) return;
  hs_scratch_t* scratch = ThreadScratch(db_);
  if (scratch == nullptr) {
    failed_ = true;
    return;
  }
  if (!started_) {
    started_ = true;
    looks_text_ = StartsLikeText(decoded);
    normalized_streamed_ = looks_text_ && !defer_normalized_;
    if (db_.raw() != nullptr && hs_open_stream(db_.raw(), 0, &raw_stream_) != HS_SUCCESS) {
      failed_ = true;
      return;
    }
    if (normalized_streamed_ && db_.normalized() != nullptr &&
        hs_open_stream(db_.normalized(), 0, &normalized_stream_) != HS_SUCCESS) {
      failed_ = true;
      return;
    }
    const FileTypeTable* types = db_.file_types();
    if (types == nullptr) {
      typed_ = true;  // no table: only the probe can tell
    } else if (types->patterns() != nullptr &&
               hs_open_stream(types->patterns(), 0, &type_stream_) != HS_SUCCESS) {
      typed_ = true;
    }
  }
  size_ += decoded.size();
  if (head_.size() < FileTypeTable::kTypingBytes) {
    head_.append(decoded.substr(0, FileTypeTable::kTypingBytes - head_.size()));
  }
  if (type_stream_ != nullptr && !typed_) {
    hs_error_t rc =
        hs_scan_stream(type_stream_, decoded.data(), static_cast<unsigned>(decoded.size()), 0,
                       scratch, &PartPrefilter::OnFileTypeMatch, this);
    if (rc != HS_SUCCESS && rc != HS_SCAN_TERMINATED) typed_ = true;
  }
  if (raw_stream_ != nullptr && !EveryClassSettled(raw_hits_)) {
    hs_error_t rc =
        hs_scan_stream(raw_stream_, decoded.data(), static_cast<unsigned>(decoded.size()), 0,
                       scratch, &PartPrefilter::OnRawMatch, this);
    if (rc != HS_SUCCESS && rc != HS_SCAN_TERMINATED) failed_ = true;
  }
  if (normalized_streamed_ && db_.normalized() != nullptr && !(normalized_hits_ & kPlainText)) {
    std::string_view norm = normalizer_.Normalize(decoded, &normalized_);
    if (normalized_stream_ != nullptr && !norm.empty()) {
      hs_error_t rc =
          hs_scan_stream(normalized_stream_, norm.data(), static_cast<unsigned>(norm.size()), 0,
                         scratch, &PartPrefilter::OnNormalizedMatch, this);
      if (rc != HS_SUCCESS && rc != HS_SCAN_TERMINATED) failed_ = true;
    }
  }
}

void PartPrefilter::CloseStreams() {
  hs_scratch_t* scratch = ThreadScratch(db_);
  if (raw_stream_ != nullptr) {
    hs_close_stream(raw_stream_, scratch, scratch ? &PartPrefilter::OnRawMatch : nullptr, this);
    raw_stream_ = nullptr;
  }
  if (normalized_stream_ != nullptr) {
    hs_close_stream(normalized_stream_, scratch,
                    scratch ? &PartPrefilter::OnNormalizedMatch : nullptr, this);
    normalized_stream_ = nullptr;
  }
  if (type_stream_ != nullptr) {
    // End-anchored patterns report here.
    if (scratch == nullptr) typed_ = true;
    hs_close_stream(type_stream_, scratch, scratch ? &PartPrefilter::OnFileTypeMatch : nullptr,
                    this);
    type_stream_ = nullptr;
  }
}

bool PartPrefilter::HashMatches(
    uint64_t size, const std::function<Sha256()>& sha256,
    const std::function<absl::Status(const std::function<void(std::string_view)>&)>& read) {
  const HashSignatureSet& hashes = db_.hashes();
  if (hashes.Wants(HashKind::kSha256, size)) {
    const Sha256 digest = sha256();
    if (hashes.Contains(
            HashKind::kSha256, size,
            std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()))) {
      return true;
    }
  }
  for (auto [kind, md] :
       {std::pair{HashKind::kMd5, EVP_md5()}, std::pair{HashKind::kSha1, EVP_sha1()}}) {
    if (!hashes.Wants(kind, size)) continue;
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, md, nullptr);
    absl::Status status =
        read([ctx](std::string_view chunk) { EVP_DigestUpdate(ctx, chunk.data(), chunk.size()); });
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    EVP_DigestFinal_ex(ctx, out, &len);
    EVP_MD_CTX_free(ctx);
    // An object that cannot be read back cannot be cleared by its hash.
    if (!status.ok()) return true;
    if (hashes.Contains(kind, size, std::string_view(reinterpret_cast<const char*>(out), len))) {
      return true;
    }
  }
  return false;
}

bool PartPrefilter::HashMatchesBytes(std::string_view bytes) {
  return HashMatches(
      bytes.size(), [&] { return Sha256Of(bytes); },
      [&](const std::function<void(std::string_view)>& chunk) {
        chunk(bytes);
        return absl::OkStatus();
      });
}

PartPrefilter::Decision PartPrefilter::Decide(SpillBuffer& buffer) {
  CloseStreams();
  if (failed_ || !buffer.error().ok() || buffer.truncated()) return Decision::kUnavailable;
  if (buffer.size() == 0) return Decision::kSkipEngine;  // the engine skips it too
  const bool hash = HashMatches(
      buffer.size(), [&] { return buffer.Digest(); },
      [&](const std::function<void(std::string_view)>& chunk) { return buffer.Read(chunk); });
  if (hash) return Decision::kHash;
  if (std::optional<Decision> d = DecideByType(
          buffer.size(),
          [&](const std::function<void(std::string_view)>& chunk) { return buffer.Read(chunk); })) {
    return *d;
  }
  if (mode_ == kTypingOnly) return Decision::kNotPlain;
  return DecideFrom(buffer.ProbeWith(db_.probe(), this));
}

PartPrefilter::Decision PartPrefilter::Decide(std::string_view whole) {
  CloseStreams();
  if (failed_) return Decision::kUnavailable;
  if (whole.empty()) return Decision::kSkipEngine;
  if (HashMatchesBytes(whole)) return Decision::kHash;
  if (std::optional<Decision> d =
          DecideByType(whole.size(), [&](const std::function<void(std::string_view)>& chunk) {
            chunk(whole);
            return absl::OkStatus();
          })) {
    return *d;
  }
  if (mode_ == kTypingOnly) return Decision::kNotPlain;
  return DecideFrom(db_.probe().Probe(whole, -1, this));
}

std::optional<PartPrefilter::Decision> PartPrefilter::DecideByType(
    uint64_t size,
    const std::function<absl::Status(const std::function<void(std::string_view)>&)>& read) {
  const FileTypeTable* types = db_.file_types();
  if (typed_ || types == nullptr || size != size_) return std::nullopt;
  // Within the engine's limits, which it would otherwise report (Heuristics.Limits.Exceeded).
  const ClamLimits& limits = db_.probe().limits();
  if (size >= limits.max_file_bytes || size >= limits.max_scan_bytes) return std::nullopt;
  if (types->MagicMatches(head_)) return std::nullopt;
  const std::optional<std::string_view> type = PlainTypeOf(head_, size);
  if (!type) return std::nullopt;
  // libclamav looks for the file types once more in the head read as UTF-16.
  if (types->patterns() != nullptr) {
    const std::string folded = Utf16Folded(head_);
    hs_scratch_t* scratch = ThreadScratch(db_);
    hs_stream_t* st = nullptr;
    if (scratch == nullptr || hs_open_stream(types->patterns(), 0, &st) != HS_SUCCESS) {
      return std::nullopt;
    }
    if (hs_scan_stream(st, folded.data(), static_cast<unsigned>(folded.size()), 0, scratch,
                       &PartPrefilter::OnFileTypeMatch, this) != HS_SUCCESS) {
      typed_ = true;  // stopped by a match, or failed
    }
    hs_close_stream(st, scratch, &PartPrefilter::OnFileTypeMatch, this);
    if (typed_) return std::nullopt;
  }
  const uint8_t cls = LayerClassOf(*type);
  typed_without_probe_ = true;
  last_probe_ = ClamEngine::ProbeResult{std::string(*type), 1, 0, 0, true};
  auto stop = [&](Decision d) {
    stopped_at_ = absl::StrCat(std::string(*type), " at depth 0");
    return d;
  };
  if (db_.routed_classes() & cls) return stop(Decision::kRouted);
  if (raw_hits_ & TriggersFor(cls)) return stop(Decision::kNotPlain);
  if (raw_hits_ & cls) return stop(Decision::kLiteral);
  if (HasNormalizedText(cls)) {
    if (normalized_hits_ & kPlainText) return stop(Decision::kLiteral);
    if (!normalized_streamed_ && NormalizedHasLiteral(read)) return stop(Decision::kLiteral);
  }
  return Decision::kSkipEngine;
}

bool PartPrefilter::NormalizedHasLiteral(
    const std::function<absl::Status(const std::function<void(std::string_view)>&)>& read) {
  if (db_.normalized() == nullptr) return false;
  hs_scratch_t* scratch = ThreadScratch(db_);
  hs_stream_t* st = nullptr;
  if (scratch == nullptr || hs_open_stream(db_.normalized(), 0, &st) != HS_SUCCESS) return true;
  const uint8_t before = normalized_hits_;
  normalized_hits_ = 0;
  TextNormalizer normalizer;
  std::string norm;
  bool failed = false;
  const absl::Status status = read([&](std::string_view chunk) {
    if (failed || (normalized_hits_ & kPlainText)) return;
    std::string_view n = normalizer.Normalize(chunk, &norm);
    if (n.empty()) return;
    hs_error_t rc = hs_scan_stream(st, n.data(), static_cast<unsigned>(n.size()), 0, scratch,
                                   &PartPrefilter::OnNormalizedMatch, this);
    if (rc != HS_SUCCESS && rc != HS_SCAN_TERMINATED) failed = true;
  });
  hs_close_stream(st, scratch, &PartPrefilter::OnNormalizedMatch, this);
  const bool hit = failed || !status.ok() || (normalized_hits_ & kPlainText);
  normalized_hits_ = before;
  return hit;
}

bool PartPrefilter::ClearsMessageBytes(std::string_view whole) {
  CloseStreams();
  if (failed_ || whole.empty() || (db_.routed_classes() & kPlainMail)) return false;
  if (raw_hits_ & (kPlainMail | TriggersFor(kPlainMail))) return false;
  return !HashMatchesBytes(whole);
}

PartPrefilter::Decision PartPrefilter::DecideFrom(const ClamEngine::ProbeResult& probe) {
  last_probe_ = probe;
  if (probe.complete) {
    // With subtrees skipped, libclamav's own counts missed them: the engine's walk must stay
    // within its limits with them added.
    const ClamLimits& limits = db_.probe().limits();
    if (reused_ > 0 && (probe.layers + skipped_layers_below_ >= limits.max_files ||
                        probe.bytes_below + skipped_bytes_below_ >= limits.max_scan_bytes)) {
      stopped_at_ = "the engine's limits, with reused layers";
      return Decision::kNotPlain;
    }
    return Decision::kSkipEngine;
  }
  // Stopped by a layer (the reason is set), or an alert or error of libclamav's own.
  return probe.layers > 0 && layer_decision_ != Decision::kSkipEngine ? layer_decision_
                                                                      : Decision::kNotPlain;
}

bool PartPrefilter::LayerHasLiteral(uint8_t cls, std::string_view bytes, bool normalized_only) {
  hs_scratch_t* scratch = ThreadScratch(db_);
  if (scratch == nullptr) return true;
  const uint8_t raw_before = raw_hits_, norm_before = normalized_hits_;
  raw_hits_ = normalized_hits_ = 0;
  bool failed = false;
  auto scan = [&](const hs_database_t* d, std::string_view data, match_event_handler on) {
    if (d == nullptr || data.empty()) return;
    hs_stream_t* st = nullptr;
    if (hs_open_stream(d, 0, &st) != HS_SUCCESS) {
      failed = true;
      return;
    }
    hs_error_t rc =
        hs_scan_stream(st, data.data(), static_cast<unsigned>(data.size()), 0, scratch, on, this);
    if (rc != HS_SUCCESS && rc != HS_SCAN_TERMINATED) failed = true;
    hs_close_stream(st, scratch, on, this);
  };
  // hs_scan_stream takes at most 4 GiB at once: a larger layer is not looked at, so not cleared.
  if (bytes.size() > std::numeric_limits<unsigned>::max()) return true;
  if (!normalized_only) scan(db_.raw(), bytes, &PartPrefilter::OnRawMatch);
  if (HasNormalizedText(cls)) {
    TextNormalizer normalizer;
    std::string norm;
    scan(db_.normalized(), normalizer.Normalize(bytes, &norm), &PartPrefilter::OnNormalizedMatch);
  }
  const bool hit = failed || (raw_hits_ & (cls | TriggersFor(cls))) ||
                   (HasNormalizedText(cls) && (normalized_hits_ & kPlainText));
  raw_hits_ = raw_before;
  normalized_hits_ = norm_before;
  return hit;
}

PartPrefilter::ClearedObject PartPrefilter::Cleared(const Sha256& digest, uint64_t size) const {
  ClearedObject c;
  c.size = size;
  c.digest = digest;
  c.type = last_probe_.top_type;
  c.bytes_below = last_probe_.bytes_below;
  c.layers_below = last_probe_.layers > 0 ? last_probe_.layers - 1 : 0;
  c.deepest = last_probe_.deepest;
  return c;
}

void PartPrefilter::Reuse(ClearedObject cleared) {
  if (!cleared.type.empty()) reusable_.push_back(std::move(cleared));
}

bool PartPrefilter::IsReusable(std::string_view type, uint32_t depth, std::string_view bytes) {
  const ClearedObject* match = nullptr;
  std::optional<Sha256> digest;
  for (const ClearedObject& c : reusable_) {
    if (c.size != bytes.size() || c.type != type) continue;
    if (!digest) digest = Sha256Of(bytes);
    if (c.digest == *digest) {
      match = &c;
      break;
    }
  }
  if (match == nullptr) return false;
  // libclamav counts recursion, files and scanned bytes over the whole walk; what it would
  // have found below this layer must not take it past a limit the engine would report.
  const ClamLimits& limits = db_.probe().limits();
  if (depth + match->deepest >= limits.max_recursion ||
      seen_layers_ + skipped_layers_below_ + match->layers_below >= limits.max_files ||
      seen_bytes_ + skipped_bytes_below_ + match->bytes_below >= limits.max_scan_bytes) {
    return false;
  }
  ++reused_;
  skipped_layers_below_ += match->layers_below;
  skipped_bytes_below_ += match->bytes_below;
  return true;
}

ClamEngine::LayerVisitor::Action PartPrefilter::OnLayer(std::string_view type, uint32_t depth,
                                                        std::string_view bytes) {
  ++seen_layers_;
  if (depth > 0) seen_bytes_ += bytes.size();
  if (depth > 0 && !reusable_.empty() && IsReusable(type, depth, bytes)) return Action::kSkip;
  const uint8_t cls = LayerClassOf(type);
  auto stop = [&](Decision d) {
    layer_decision_ = d;
    stopped_at_ = absl::StrCat(std::string(type), " at depth ", depth);
    return Action::kStop;
  };
  if (cls == 0) return stop(Decision::kNotPlain);
  if (db_.routed_classes() & cls) return stop(Decision::kRouted);
  if (depth == 0) {
    // The object itself went through the streams while it was decoded, and its hashes were
    // checked before the probe.
    if (raw_hits_ & TriggersFor(cls)) return stop(Decision::kNotPlain);
    if (raw_hits_ & cls) return stop(Decision::kLiteral);
    if (HasNormalizedText(cls)) {
      if (normalized_hits_ & kPlainText) return stop(Decision::kLiteral);
      // Typed text although its start did not look like it (UTF-16 by byte statistics, say),
      // or a message whose normalised text was deferred: made now.
      if (!normalized_streamed_ && LayerHasLiteral(cls, bytes, /*normalized_only=*/true)) {
        return stop(Decision::kLiteral);
      }
    }
    return Action::kDescend;
  }
  if (LayerHasLiteral(cls, bytes)) return stop(Decision::kLiteral);
  if (HashMatchesBytes(bytes)) return stop(Decision::kHash);
  return Action::kDescend;
}

std::string_view PartPrefilter::DecisionName(Decision d) {
  switch (d) {
    case Decision::kSkipEngine:
      return "fast path";
    case Decision::kLiteral:
      return "literal";
    case Decision::kHash:
      return "hash";
    case Decision::kNotPlain:
      return "not plain";
    case Decision::kRouted:
      return "routed";
    case Decision::kUnavailable:
      return "unavailable";
  }
  return "?";
}

}  // namespace kensa::scan
