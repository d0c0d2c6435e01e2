// SPDX-License-Identifier: GPL-2.0-or-later
// SignatureSet: an immutable snapshot of what the scanners use — the compiled libclamav engine
// and its metadata. One per process, shared read-only by every scan worker. A new set is built
// off the data path, checked with canaries (the test viruses must be found, the clean samples
// must pass), then published by an atomic pointer swap; a scan holds its snapshot's shared_ptr
// for its whole message, so the old set is freed when its last in-flight scan ends.
#ifndef KENSA_SIGS_SIGNATURE_SET_H_
#define KENSA_SIGS_SIGNATURE_SET_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/published.h"
#include "scan/clam_engine.h"
#include "scan/prefilter_database.h"

namespace kensa::sigs {

struct SignatureSetInfo {
  std::string dir;
  // Names the exact database content: the highest CVD/CLD version when the directory holds
  // official databases ("daily-27432"), else "sha256-<first 16 hex digits>" of the files' names
  // and contents. Equal versions mean equal verdicts (the verdict cache relies on it).
  std::string version;
  uint64_t signatures = 0;  // as libclamav counts them
  int files = 0;            // database files loaded
  absl::Time loaded_at;
  absl::Duration load_time;
  // The prefilter's part of the build (zero when it is off).
  absl::Duration prefilter_time;
  scan::PrefilterStats prefilter;
  size_t prefilter_without_literal = 0;  // signatures that route their classes to the engine
  std::vector<std::string> prefilter_routing;  // a few of them, "file: name (why)"
  std::string prefilter_error;  // why the set has no prefilter although one was asked for
  // The derived inputs came from the cache (sigs/prefilter_inputs_cache.h), not the files.
  bool prefilter_inputs_from_cache = false;
};

// The Hyperscan prefilter built with a set (scan/prefilter.h).
struct PrefilterOptions {
  bool enabled = true;
  // Below this many signatures libclamav is about as fast as the prefilter's own walk over an
  // object's layers, so a smaller set does not put the prefilter in front of the parts; its
  // database still serves the whole-message reading (SignatureSet::message_prefilter()).
  uint64_t min_signatures = 20000;
  // Compiled prefilter databases and the inputs derived from the signature files are kept
  // here by signature version; empty: not kept.
  std::string cache_dir;
};

class SignatureSet {
 public:
  // Loads and compiles `dir`, then runs the canaries; any failure is an error naming why
  // (a database libclamav refuses, a canary missed or falsely flagged).
  static absl::StatusOr<std::shared_ptr<const SignatureSet>> Build(
      const std::string& dir, const scan::ClamLimits& limits, bool check_canaries = true,
      const PrefilterOptions& prefilter = {});

  const scan::ClamEngine& engine() const { return *engine_; }
  const SignatureSetInfo& info() const { return info_; }
  const std::string& version() const { return info_.version; }
  // The prefilter in front of every part; null when the set was built without one or is
  // under PrefilterOptions::min_signatures.
  const scan::PrefilterDatabase* prefilter() const {
    return prefilter_for_parts_ ? prefilter_.get() : nullptr;
  }
  // The prefilter's database whatever the set's size (null when it has none): it clears a
  // plain message's own bytes so that libclamav's reading of it can be predicted rather than
  // run (scan/mail_reading_prediction.h).
  const scan::PrefilterDatabase* message_prefilter() const { return prefilter_.get(); }

 private:
  SignatureSet() = default;
  std::shared_ptr<const scan::ClamEngine> engine_;
  std::unique_ptr<const scan::PrefilterDatabase> prefilter_;
  bool prefilter_for_parts_ = false;
  SignatureSetInfo info_;
};

// Canaries: samples every signature set must classify right before it is published. The
// bundled test viruses (EICAR, built at run time) must be detected; the clean samples (plain
// text, HTML, a zip of text) must pass.
absl::Status CheckCanaries(const scan::ClamEngine& engine);

// The process-wide current set: readers on any thread, one publisher at a time.
using SignatureHolder = Published<SignatureSet>;

// Where the bundled test signatures live (sigs/test in the source tree, or the installed copy).
std::string BundledSignatureDir();

}  // namespace kensa::sigs

#endif  // KENSA_SIGS_SIGNATURE_SET_H_
