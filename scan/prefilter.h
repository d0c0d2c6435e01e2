// SPDX-License-Identifier: GPL-2.0-or-later
// PartPrefilter: the prefilter's view of one object (a decoded MIME part) while it is decoded.
// Each chunk goes through the raw Hyperscan stream as it is handed over (no copy) and, when the
// object starts like text, through libclamav's text normalisation into the normalised stream.
// At the end, Decide() says whether the engine may be skipped. The probe (libclamav without
// signatures) then walks the object as the engine would, and the engine is skipped only when
// every layer it shows — the object, and for zip and OOXML containers every member — is of a
// class whose signatures all have literals, none of which occurs in that layer, no hash
// signature matches any layer, and libclamav raised nothing. Every other case goes to the
// engine.
//
// Most objects need no probe: when none of libclamav's file-type entries types the object
// (a third Hyperscan stream, FileTypeTable) libclamav's typing is known from its first bytes
// (scan/plain_typing.h), text or binary data with no layer below, and the decision is made
// from the streams alone. Without the probe (PartPrefilter::kTypingOnly, for a small set whose
// engine costs no more than the probe) every other object goes to the engine.
//
// Not thread-safe; one per object, on the scan worker thread that decodes it.
#ifndef KENSA_SCAN_PREFILTER_H_
#define KENSA_SCAN_PREFILTER_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "scan/prefilter_database.h"
#include "scan/spill_buffer.h"
#include "scan/text_normalizer.h"

struct hs_stream;
struct hs_scratch;

namespace kensa::scan {

class PartPrefilter : private ClamEngine::LayerVisitor {
 public:
  enum Mode { kWithProbe, kTypingOnly };
  explicit PartPrefilter(const PrefilterDatabase& db, Mode mode = kWithProbe);
  ~PartPrefilter();
  PartPrefilter(const PartPrefilter&) = delete;
  PartPrefilter& operator=(const PartPrefilter&) = delete;

  void Feed(std::string_view decoded);
  // Before the first Feed(): make the object's normalised text only if the probe types it
  // text. For a whole message, which libclamav types mail and does not normalise.
  void DeferNormalizedText() { defer_normalized_ = true; }

  enum class Decision {
    kSkipEngine,   // provably nothing for the engine to find
    kLiteral,      // a literal of a signature that applies occurred
    kHash,         // a hash signature matches
    kNotPlain,     // libclamav would unpack, normalise, parse deeper, or alert
    kRouted,       // the class has a signature without a literal
    kUnavailable,  // the prefilter could not follow the object (Hyperscan error, I/O)
  };
  // Call once, after the last Feed(), with the object's buffered bytes.
  Decision Decide(SpillBuffer& buffer);
  // The same for an object held whole in memory (a mapped file).
  Decision Decide(std::string_view whole);
  // Instead of Decide(), for a whole message fed from its first byte: whether libclamav's
  // matching of the message's own bytes (a mail layer: signatures of target types 0 and 4,
  // hashes, file-type triggers) could find anything. What its MIME parser extracts is not
  // looked at here (mail_reading_prediction.h).
  bool ClearsMessageBytes(std::string_view whole);

  // An object the prefilter cleared (Decide() said kSkipEngine), as a later probe of the same
  // message can reuse it: when libclamav's reading of the whole message shows a layer with the
  // same bytes and type, that layer and everything below it are known, and the probe skips
  // them, as long as the skipped layers could not have taken libclamav past a limit.
  struct ClearedObject {
    uint64_t size = 0;
    Sha256 digest{};
    std::string type;
    uint64_t bytes_below = 0;
    size_t layers_below = 0;
    uint32_t deepest = 0;
  };
  // After Decide() said kSkipEngine: this object, by the digest and size of its bytes.
  ClearedObject Cleared(const Sha256& digest, uint64_t size) const;
  // Before Decide(): a cleared object the probe of this one may reuse.
  void Reuse(ClearedObject cleared);
  // Layers the last Decide() skipped as already cleared.
  size_t reused_layers() const { return reused_; }

  static std::string_view DecisionName(Decision d);
  // After Decide(): the type libclamav gave the object, when the probe ran or its typing was
  // known without it ("" otherwise).
  const std::string& probe_type() const { return last_probe_.top_type; }
  // After Decide(): whether the decision was made without the probe, from the object's type.
  bool typed_without_probe() const { return typed_without_probe_; }
  // The layer at which the probe's walk stopped ("CL_TYPE_HTML at depth 2"); empty when it
  // did not stop at a layer.
  const std::string& stopped_at_type() const { return stopped_at_; }

 private:
  static int OnRawMatch(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                        void* context);
  static int OnNormalizedMatch(unsigned id, unsigned long long from, unsigned long long to,
                               unsigned flags, void* context);
  static int OnFileTypeMatch(unsigned id, unsigned long long from, unsigned long long to,
                             unsigned flags, void* context);
  // The decision from the object's plain type (plain_typing.h), or nullopt when libclamav
  // may type it otherwise. `read` gives its bytes, for normalised text not streamed.
  std::optional<Decision> DecideByType(
      uint64_t size,
      const std::function<absl::Status(const std::function<void(std::string_view)>&)>& read);
  // Whether the normalised text of the bytes `read` hands over holds a text literal; true when
  // it cannot be read.
  bool NormalizedHasLiteral(
      const std::function<absl::Status(const std::function<void(std::string_view)>&)>& read);
  void CloseStreams();
  // `sha256` and `read` give the object's digest and bytes when a hash signature could match.
  bool HashMatches(
      uint64_t size, const std::function<Sha256()>& sha256,
      const std::function<absl::Status(const std::function<void(std::string_view)>&)>& read);
  // HashMatches for an object held whole in memory.
  bool HashMatchesBytes(std::string_view bytes);
  Decision DecideFrom(const ClamEngine::ProbeResult& probe);
  // The probe shows each layer libclamav would scan: the object itself (already streamed)
  // and every object unpacked or decoded from it (scanned here, whole).
  Action OnLayer(std::string_view type, uint32_t depth, std::string_view bytes) override;
  // Whether a layer of class `cls` holds a literal of its class or a trigger (or, with
  // normalized_only, a literal in its normalised text); true when it cannot be looked at.
  bool LayerHasLiteral(uint8_t cls, std::string_view bytes, bool normalized_only = false);
  // Whether the layer is a cleared object whose subtree keeps the walk within the limits.
  bool IsReusable(std::string_view type, uint32_t depth, std::string_view bytes);

  const PrefilterDatabase& db_;
  hs_stream* raw_stream_ = nullptr;
  hs_stream* normalized_stream_ = nullptr;
  hs_stream* type_stream_ = nullptr;
  Mode mode_;
  bool started_ = false;
  bool typed_ = false;  // a file-type pattern matched (or could not be looked for)
  bool typed_without_probe_ = false;
  uint64_t size_ = 0;  // bytes fed
  std::string head_;   // the first FileTypeTable::kTypingBytes of them
  bool looks_text_ = false;
  bool defer_normalized_ = false;
  bool normalized_streamed_ = false;
  bool failed_ = false;
  uint8_t raw_hits_ = 0;  // PlainClass bits of the literals seen
  uint8_t normalized_hits_ = 0;
  TextNormalizer normalizer_;
  std::string normalized_;  // one chunk's normalised text
  std::string stopped_at_;
  ClamEngine::ProbeResult last_probe_;
  std::vector<ClearedObject> reusable_;
  size_t reused_ = 0;
  // What the skipped subtrees would have added to libclamav's counts, and the layers seen.
  uint64_t skipped_bytes_below_ = 0, seen_bytes_ = 0;
  size_t skipped_layers_below_ = 0, seen_layers_ = 0;
  Decision layer_decision_ = Decision::kNotPlain;  // why the probe's walk stopped
};

}  // namespace kensa::scan

#endif  // KENSA_SCAN_PREFILTER_H_
