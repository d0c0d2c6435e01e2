// SPDX-License-Identifier: GPL-2.0-or-later
// ClamEngine: one compiled libclamav engine loaded from a signature directory (every database
// format libclamav loads: .cvd/.cld/.cud, .ndb, .ldb, .hdb, .hsb, .mdb, .msb, .yar, .ign2, ...).
// A compiled engine is safe to scan from many threads at once; it is never modified after
// Load() returns, so it is handed around as shared_ptr<const ClamEngine>.
#ifndef KENSA_SCAN_CLAM_ENGINE_H_
#define KENSA_SCAN_CLAM_ENGINE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

struct cl_engine;

namespace kensa::scan {

// libclamav's scan limits (clamd.conf names in comments), from the [scan] config section.
struct ClamLimits {
  uint64_t max_scan_bytes = 400ull << 20;   // MaxScanSize: bytes scanned per object, unpacked
  uint64_t max_file_bytes = 100ull << 20;   // MaxFileSize: largest file scanned or extracted
  uint32_t max_recursion = 17;              // MaxRecursion: nested containers
  uint32_t max_files = 10000;               // MaxFiles: files extracted from one object
  uint32_t max_scan_seconds = 120;          // MaxScanTime
  // TemporaryDirectory: libclamav makes and removes a directory here for every scan call and
  // extracts archive members into it. Empty: $TMPDIR, else /tmp. A tmpfs makes each scan call
  // cheaper by milliseconds on a disk that discards on unlink.
  std::string temp_dir;
  // libclamav's own cache of clean objects (by MD5). Benchmarks turn it off so that every scan
  // of a repeated file is a real one.
  bool engine_cache = true;
};

struct ScanResult {
  // kLocalFailure: no verdict, and not the object's fault: temporary space, memory or local
  // I/O failed (ENOSPC on a spill file, libclamav's CL_ETMPFILE, CL_EMEM, ...). The message
  // must be refused for now (SMTP 451), never passed or cleaned as if it were unscannable.
  enum class Kind { kClean, kInfected, kUnscannable, kLocalFailure };
  Kind kind = Kind::kClean;
  // kInfected: the signature name; kUnscannable: why ("Heuristics.Encrypted.Zip",
  // "Heuristics.Limits.Exceeded.MaxFileSize", "scan error: ..."); kLocalFailure: the cause,
  // for the log only (it may name local paths).
  std::string name;
  bool clean() const { return kind == Kind::kClean; }
};

// cl_init, once per process (every libclamav call that builds an engine needs it first: the
// engines here, and the updater's cl_cvdverify).
absl::Status InitLibclamav();

class ClamEngine {
 public:
  // Loads every database in `dir` and compiles the engine (seconds for large sets).
  static absl::StatusOr<std::shared_ptr<const ClamEngine>> Load(const std::string& dir,
                                                                const ClamLimits& limits);
  ~ClamEngine();
  ClamEngine(const ClamEngine&) = delete;
  ClamEngine& operator=(const ClamEngine&) = delete;

  // Scans one object (a decoded MIME part, a file). Blocking: call it off the reactor.
  // Encrypted archives and exceeded limits are kUnscannable, not errors.
  ScanResult ScanBuffer(std::string_view data, std::string_view name = {}) const;
  ScanResult ScanFd(int fd, std::string_view name = {}) const;

  uint64_t signature_count() const { return signatures_; }

  // The probe: an engine without signatures (only `dir`'s file-type magic (.ftm) and feature
  // switches (.cfg), which may be empty) that unpacks, decodes and types an object as the full
  // engine would, and shows every layer it would scan — the top one and every object found in
  // it — to a visitor, which may stop the walk at any layer.
  static absl::StatusOr<std::shared_ptr<const ClamEngine>> LoadProbe(const std::string& dir,
                                                                     const ClamLimits& limits);
  class LayerVisitor {
   public:
    enum class Action {
      kDescend,  // go on: this layer is accepted, show what libclamav unpacks from it
      kSkip,     // accepted with everything below it, already known (libclamav skips it)
      kStop,     // the engine takes the object
    };
    virtual ~LayerVisitor() = default;
    // `type` is libclamav's ("CL_TYPE_ZIP", ...); `bytes` the layer's content.
    virtual Action OnLayer(std::string_view type, uint32_t depth, std::string_view bytes) = 0;
  };
  struct ProbeResult {
    std::string top_type;  // "" when libclamav never showed a layer
    size_t layers = 0;
    // Below the object itself: the bytes of every layer shown, and the deepest level reached
    // (0: nothing was unpacked). Skipped layers count with nothing below them.
    uint64_t bytes_below = 0;
    uint32_t deepest = 0;
    // Every layer was shown and accepted, and libclamav raised no alert and no error: what
    // the full engine would add is signature matches only.
    bool complete = false;
  };
  ProbeResult Probe(std::string_view data, int fd, LayerVisitor* visitor) const;
  // The limits the engine was loaded with.
  const ClamLimits& limits() const { return limits_; }

 private:
  ClamEngine() = default;
  cl_engine* engine_ = nullptr;
  uint64_t signatures_ = 0;
  ClamLimits limits_;
};

}  // namespace kensa::scan

#endif  // KENSA_SCAN_CLAM_ENGINE_H_
