// SPDX-License-Identifier: GPL-2.0-or-later
// ClamEngine on libclamav: one cl_init per process, load + compile + limits, and scans of
// memory buffers and descriptors with every parser on and the heuristics that report what
// libclamav could not look at (encrypted archives and documents, exceeded limits).
//
// Verdict mapping:
//   CL_CLEAN                                          -> kClean
//   CL_VIRUS "Heuristics.Encrypted.*"                 -> kUnscannable (reason = the name)
//   CL_VIRUS "Heuristics.Limits.Exceeded.*"           -> kUnscannable (reason = the name)
//   CL_VIRUS any other name                           -> kInfected
//   CL_EMAXREC / CL_EMAXSIZE / CL_EMAXFILES / CL_ETIMEOUT
//                                                     -> kUnscannable, named like libclamav's
//                                                        own limit heuristics, so policy can
//                                                        match one prefix for both
//   CL_ETMPFILE / CL_ETMPDIR / CL_ECREAT / CL_EWRITE / CL_EUNLINK / CL_EOPEN / CL_EDUP /
//   CL_EACCES / CL_EMEM                               -> kLocalFailure "libclamav: <cl_strerror>":
//                                                        kensa's own temp space or memory
//                                                        failed, not the object; a retry later
//                                                        can succeed
//   any other error (CL_EFORMAT, CL_EREAD...)         -> kUnscannable "scan error: <cl_strerror>"
// CL_EREAD / CL_ESEEK / CL_EMAP stay unscannable: libclamav's parsers also return them for a
// truncated object, and a message that fails the same way at every try must not be deferred
// until its sender gives up.
// CL_EFORMAT is unscannable, not clean: when it does come back, libclamav could not look
// inside, which is what kUnscannable means. (libclamav 1.4 scans most malformed containers
// as clean, e.g. a truncated zip, so that is rare.)
//
// Known gap in libclamav 1.4.6: a zip member larger than MaxFileSize is trimmed to MaxFileSize
// and scanned without any alert ("cli_unzip: trimming output size to maxfilesize"), so bytes
// past that point are never seen and the verdict can be clean. tar.gz and top-level objects
// do raise Heuristics.Limits.Exceeded.MaxFileSize.
//
// A scan that never ran is a local failure, not clean: libclamav 1.4 answers CL_CLEAN when it
// cannot make its per-scan temporary directory (scan_common: mkdir fails, CL_EACCES, which its
// result filter turns into success), so a missing or unwritable temp_dir would let every
// object pass unscanned. Every object over 5 bytes (smaller ones libclamav skips) shows at
// least one layer to the inspection callback; a clean answer without one is that failure.
//
// libclamav writes its temporary files (extracted archive members) under ClamLimits::temp_dir,
// or $TMPDIR / P_tmpdir when that is empty (kensa-scan). kensad always sets it, to a
// subdirectory of its own that it empties at start (appliance/engine_temp_dir.h). Its console
// messages are silenced: kensa has its own log.
#include "scan/clam_engine.h"

#include <clamav.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <limits>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace kensa::scan {
namespace {

// libclamav reports load problems (which file, which line) only through its message callback,
// not in the cl_load return code. While a thread runs cl_load, it points this at a buffer so
// the error it returns can say why; at any other time messages are dropped.
thread_local std::vector<std::string>* load_messages = nullptr;

void OnClamMessage(enum cl_msg severity, const char* /*fullmsg*/, const char* msg,
                   void* /*context*/) {
  if (load_messages == nullptr || msg == nullptr || severity < CL_MSG_WARN) return;
  // Keep the first few: a broken database can produce one message per line.
  constexpr size_t kMaxLoadMessages = 5;
  if (load_messages->size() >= kMaxLoadMessages) return;
  std::string text(msg);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  load_messages->push_back(std::move(text));
}

absl::Status InitOnce() {
  static std::once_flag once;
  static cl_error_t init_result = CL_SUCCESS;
  std::call_once(once, [] {
    cl_set_clcb_msg(OnClamMessage);
    init_result = cl_init(CL_INIT_DEFAULT);
  });
  if (init_result != CL_SUCCESS) {
    return absl::InternalError(absl::StrCat("cl_init: ", cl_strerror(init_result)));
  }
  return absl::OkStatus();
}

absl::Status LoadError(const std::string& dir, const char* step, cl_error_t code,
                       const std::vector<std::string>& messages) {
  std::string text = absl::StrCat(step, " ", dir, ": ", cl_strerror(code));
  if (!messages.empty()) absl::StrAppend(&text, " (", absl::StrJoin(messages, "; "), ")");
  return absl::InvalidArgumentError(text);
}

absl::Status SetLimits(cl_engine* engine, const ClamLimits& limits) {
  // MaxScanTime is milliseconds in libclamav and a uint32_t.
  const uint64_t scan_ms = std::min<uint64_t>(uint64_t{limits.max_scan_seconds} * 1000,
                                              std::numeric_limits<uint32_t>::max());
  const struct {
    cl_engine_field field;
    long long value;
    const char* name;
  } settings[] = {
      {CL_ENGINE_MAX_SCANSIZE, static_cast<long long>(limits.max_scan_bytes), "max_scan_bytes"},
      {CL_ENGINE_MAX_FILESIZE, static_cast<long long>(limits.max_file_bytes), "max_file_bytes"},
      {CL_ENGINE_MAX_RECURSION, limits.max_recursion, "max_recursion"},
      {CL_ENGINE_MAX_FILES, limits.max_files, "max_files"},
      {CL_ENGINE_MAX_SCANTIME, static_cast<long long>(scan_ms), "max_scan_seconds"},
  };
  for (const auto& s : settings) {
    if (cl_error_t rc = cl_engine_set_num(engine, s.field, s.value); rc != CL_SUCCESS) {
      return absl::InvalidArgumentError(
          absl::StrCat("scan limit ", s.name, "=", s.value, ": ", cl_strerror(rc)));
    }
  }
  return absl::OkStatus();
}

// The last steps of every load, the full engine's and the probe's: limits, temporary
// directory, compile (libclamav's messages kept for the error).
absl::Status LimitAndCompile(cl_engine* engine, const std::string& dir, const ClamLimits& limits,
                             const char* step) {
  if (absl::Status s = SetLimits(engine, limits); !s.ok()) return s;
  if (!limits.temp_dir.empty()) {
    if (cl_error_t trc = cl_engine_set_str(engine, CL_ENGINE_TMPDIR, limits.temp_dir.c_str());
        trc != CL_SUCCESS) {
      return absl::InvalidArgumentError(
          absl::StrCat("scan temp_dir ", limits.temp_dir, ": ", cl_strerror(trc)));
    }
  }
  std::vector<std::string> messages;
  load_messages = &messages;
  const cl_error_t rc = cl_engine_compile(engine);
  load_messages = nullptr;
  if (rc != CL_SUCCESS) return LoadError(dir, step, rc, messages);
  return absl::OkStatus();
}

cl_scan_options ScanOptions() {
  cl_scan_options o{};
  // First match ends the scan: one name is all the verdict needs.
  o.general = CL_SCAN_GENERAL_HEURISTICS;
  o.parse = CL_SCAN_PARSE_ARCHIVE | CL_SCAN_PARSE_ELF | CL_SCAN_PARSE_PDF | CL_SCAN_PARSE_SWF |
            CL_SCAN_PARSE_HWP3 | CL_SCAN_PARSE_XMLDOCS | CL_SCAN_PARSE_MAIL | CL_SCAN_PARSE_OLE2 |
            CL_SCAN_PARSE_HTML | CL_SCAN_PARSE_PE | CL_SCAN_PARSE_ONENOTE;
  o.heuristic = CL_SCAN_HEURISTIC_ENCRYPTED_ARCHIVE | CL_SCAN_HEURISTIC_ENCRYPTED_DOC |
                CL_SCAN_HEURISTIC_EXCEEDS_MAX;
  return o;
}

// One scan's context for libclamav's callbacks. libclamav 1.4 leaves *virname unset when it
// stops before scanning (an object over MaxFileSize gets "Heuristics.Limits.Exceeded.
// MaxFileSize" only through the virus-found callback), so the callback's name is kept too.
struct ScanContext {
  std::string first_name;
  uint64_t max_file_bytes = 0;
  size_t layers = 0;  // shown to OnFileInspection
  // What libclamav passes over without a word (see OnFileInspection).
  const char* silent_limit = nullptr;
};

// Whether a zip's local or central headers announce zip64 sizes (0xFFFFFFFF in the 32-bit
// size fields), which libclamav 1.4 does not unpack: it then scans nothing inside.
bool HasZip64Entry(std::string_view zip) {
  static constexpr std::string_view kLocal("PK\x03\x04", 4), kCentral("PK\x01\x02", 4);
  for (auto [sig, sizes_at] : {std::pair{kLocal, size_t{18}}, std::pair{kCentral, size_t{20}}}) {
    for (size_t at = zip.find(sig); at != std::string_view::npos; at = zip.find(sig, at + 4)) {
      if (at + sizes_at + 8 > zip.size()) break;
      const unsigned char* p = reinterpret_cast<const unsigned char*>(zip.data() + at + sizes_at);
      const bool all_ones = (p[0] & p[1] & p[2] & p[3]) == 0xff || (p[4] & p[5] & p[6] & p[7]) == 0xff;
      if (all_ones) return true;
    }
  }
  return false;
}

// Called for every layer libclamav scans. It reports two things libclamav 1.4.6 lets pass as
// clean: an archive member cut down to MaxFileSize without a Heuristics.Limits alert (what
// lies past the cut is never scanned), and a zip64 archive it does not open at all.
cl_error_t OnFileInspection(int /*fd*/, const char* type, const char** /*ancestors*/,
                            size_t /*parent_file_size*/, const char* /*file_name*/,
                            size_t file_size, const char* file_buffer, uint32_t recursion_level,
                            uint32_t /*layer_attributes*/, void* context) {
  auto* scan = static_cast<ScanContext*>(context);
  if (scan != nullptr) ++scan->layers;
  if (scan == nullptr || scan->silent_limit != nullptr) return CL_CLEAN;
  if (recursion_level > 0 && scan->max_file_bytes > 0 && file_size >= scan->max_file_bytes) {
    scan->silent_limit = "Heuristics.Limits.Exceeded.MaxFileSize";
  } else if (type != nullptr && std::string_view(type) == "CL_TYPE_ZIP" &&
             file_buffer != nullptr && HasZip64Entry(std::string_view(file_buffer, file_size))) {
    scan->silent_limit = "Kensa.Unscannable.Zip64";
  }
  return CL_CLEAN;
}

void OnVirusFound(int /*fd*/, const char* virname, void* context) {
  auto* scan = static_cast<ScanContext*>(context);
  if (scan != nullptr && virname != nullptr && scan->first_name.empty()) {
    scan->first_name = virname;
  }
}

ScanResult FromVirusName(const char* virname, const ScanContext& scan) {
  std::string name = virname != nullptr         ? std::string(virname)
                     : !scan.first_name.empty() ? scan.first_name
                                                : std::string("Unknown");
  if (absl::StartsWith(name, "Heuristics.Encrypted.") ||
      absl::StartsWith(name, "Heuristics.Limits.Exceeded.")) {
    return {ScanResult::Kind::kUnscannable, std::move(name)};
  }
  return {ScanResult::Kind::kInfected, std::move(name)};
}

// The limit a libclamav error code stands for, or null for other errors.
const char* ExceededLimit(cl_error_t rc) {
  switch (rc) {
    case CL_EMAXREC:
      return "MaxRecursion";
    case CL_EMAXSIZE:
      return "MaxScanSize";
    case CL_EMAXFILES:
      return "MaxFiles";
    case CL_ETIMEOUT:
      return "MaxScanTime";
    default:
      return nullptr;
  }
}

// Errors of the machine, not of the object scanned.
bool IsLocalFailure(cl_error_t rc) {
  switch (rc) {
    case CL_ETMPFILE:
    case CL_ETMPDIR:
    case CL_ECREAT:
    case CL_EWRITE:
    case CL_EUNLINK:
    case CL_EOPEN:
    case CL_EDUP:
    case CL_EACCES:
    case CL_EMEM:
      return true;
    default:
      return false;
  }
}

ScanResult FromError(cl_error_t rc) {
  if (IsLocalFailure(rc)) {
    return {ScanResult::Kind::kLocalFailure, absl::StrCat("libclamav: ", cl_strerror(rc))};
  }
  if (const char* limit = ExceededLimit(rc)) {
    return {ScanResult::Kind::kUnscannable, absl::StrCat("Heuristics.Limits.Exceeded.", limit)};
  }
  return {ScanResult::Kind::kUnscannable, absl::StrCat("scan error: ", cl_strerror(rc))};
}

// libclamav ignores objects of at most this many bytes (cli_magic_scan: "too small").
constexpr uint64_t kSmallestScannedObject = 6;

ScanResult FromScan(cl_error_t rc, const char* virname, const ScanContext& scan,
                    uint64_t object_bytes, const std::string& temp_dir) {
  if (rc == CL_CLEAN) {
    if (scan.silent_limit != nullptr) return {ScanResult::Kind::kUnscannable, scan.silent_limit};
    if (scan.layers == 0 && object_bytes >= kSmallestScannedObject) {
      return {ScanResult::Kind::kLocalFailure,
              absl::StrCat("libclamav: the scan did not run (can it create directories in ",
                           temp_dir.empty() ? "$TMPDIR" : temp_dir, "?)")};
    }
    return {};
  }
  if (rc == CL_VIRUS) return FromVirusName(virname, scan);
  return FromError(rc);
}

// One libclamav scan with kensa's options and a fresh context: `scan` calls the
// cl_scan*_callback for its input with the arguments every one of them takes.
template <typename ScanCall>
ScanResult RunScan(std::string_view name, const ClamLimits& limits, uint64_t object_bytes,
                   ScanCall scan) {
  const std::string filename(name);
  cl_scan_options options = ScanOptions();
  const char* virname = nullptr;
  unsigned long scanned = 0;
  ScanContext context;
  context.max_file_bytes = limits.max_file_bytes;
  cl_error_t rc = scan(filename.empty() ? nullptr : filename.c_str(), &virname, &scanned,
                       &options, &context);
  return FromScan(rc, virname, context, object_bytes, limits.temp_dir);
}

}  // namespace

absl::Status InitLibclamav() { return InitOnce(); }

absl::StatusOr<std::shared_ptr<const ClamEngine>> ClamEngine::Load(const std::string& dir,
                                                                   const ClamLimits& limits) {
  if (absl::Status s = InitOnce(); !s.ok()) return s;
  std::shared_ptr<ClamEngine> engine(new ClamEngine());
  engine->engine_ = cl_engine_new();
  if (engine->engine_ == nullptr) return absl::ResourceExhaustedError("cl_engine_new failed");
  cl_engine_set_clcb_virus_found(engine->engine_, OnVirusFound);
  cl_engine_set_clcb_file_inspection(engine->engine_, OnFileInspection);
  if (!limits.engine_cache) cl_engine_set_num(engine->engine_, CL_ENGINE_DISABLE_CACHE, 1);
  engine->limits_ = limits;

  std::vector<std::string> messages;
  load_messages = &messages;
  unsigned int signatures = 0;
  cl_error_t rc = cl_load(dir.c_str(), engine->engine_, &signatures, CL_DB_STDOPT);
  load_messages = nullptr;
  if (rc != CL_SUCCESS) return LoadError(dir, "loading signatures from", rc, messages);
  if (signatures == 0) {
    return absl::InvalidArgumentError(absl::StrCat("no signatures in ", dir));
  }
  engine->signatures_ = signatures;

  if (absl::Status s = LimitAndCompile(engine->engine_, dir, limits, "compiling signatures from");
      !s.ok()) {
    return s;
  }
  return std::shared_ptr<const ClamEngine>(std::move(engine));
}

namespace {

struct ProbeContext {
  ClamEngine::LayerVisitor* visitor = nullptr;
  uint64_t max_file_bytes = 0;
  std::string top_type;
  size_t layers = 0;
  uint64_t bytes_below = 0;
  uint32_t deepest = 0;
  bool stopped = false;
};

cl_error_t OnProbeInspection(int /*fd*/, const char* type, const char** /*ancestors*/,
                             size_t /*parent_file_size*/, const char* /*file_name*/,
                             size_t file_size, const char* file_buffer, uint32_t recursion_level,
                             uint32_t /*layer_attributes*/, void* context) {
  auto* probe = static_cast<ProbeContext*>(context);
  if (probe == nullptr) return CL_VIRUS;
  const std::string_view t = type != nullptr ? type : "";
  if (probe->layers++ == 0) probe->top_type = std::string(t);
  if (recursion_level > 0) {
    probe->bytes_below += file_size;
    probe->deepest = std::max(probe->deepest, recursion_level);
  }
  const std::string_view bytes =
      file_buffer != nullptr ? std::string_view(file_buffer, file_size) : std::string_view();
  // What the full engine's own inspection (OnFileInspection) turns into a verdict, and a layer
  // libclamav could not show: the engine decides those.
  const bool engine_decides =
      (file_buffer == nullptr && file_size > 0) ||
      (recursion_level > 0 && probe->max_file_bytes > 0 && file_size >= probe->max_file_bytes) ||
      (t == "CL_TYPE_ZIP" && HasZip64Entry(bytes));
  using Action = ClamEngine::LayerVisitor::Action;
  const Action action = engine_decides || probe->visitor == nullptr
                            ? Action::kStop
                            : probe->visitor->OnLayer(t, recursion_level, bytes);
  switch (action) {
    case Action::kDescend: return CL_CLEAN;
    case Action::kSkip: return CL_BREAK;  // libclamav ends this layer here, clean
    case Action::kStop: break;
  }
  probe->stopped = true;
  return CL_VIRUS;  // stop here: the full engine takes the object
}

}  // namespace

absl::StatusOr<std::shared_ptr<const ClamEngine>> ClamEngine::LoadProbe(
    const std::string& dir, const ClamLimits& limits) {
  if (absl::Status s = InitOnce(); !s.ok()) return s;
  std::shared_ptr<ClamEngine> engine(new ClamEngine());
  engine->engine_ = cl_engine_new();
  if (engine->engine_ == nullptr) return absl::ResourceExhaustedError("cl_engine_new failed");
  cl_engine_set_clcb_file_inspection(engine->engine_, OnProbeInspection);
  // libclamav's clean-object cache would skip the callbacks for an object seen before.
  cl_engine_set_num(engine->engine_, CL_ENGINE_DISABLE_CACHE, 1);
  engine->limits_ = limits;
  std::vector<std::string> messages;
  if (!dir.empty()) {
    load_messages = &messages;
    unsigned int signatures = 0;
    cl_error_t rc = cl_load(dir.c_str(), engine->engine_, &signatures, CL_DB_STDOPT);
    load_messages = nullptr;
    if (rc != CL_SUCCESS) return LoadError(dir, "loading file types from", rc, messages);
  }
  if (absl::Status s =
          LimitAndCompile(engine->engine_, dir, limits, "compiling the type probe from");
      !s.ok()) {
    return s;
  }
  return std::shared_ptr<const ClamEngine>(std::move(engine));
}

ClamEngine::ProbeResult ClamEngine::Probe(std::string_view data, int fd,
                                          LayerVisitor* visitor) const {
  ProbeResult result;
  ProbeContext probe;
  probe.visitor = visitor;
  probe.max_file_bytes = limits_.max_file_bytes;
  cl_scan_options options = ScanOptions();
  const char* virname = nullptr;
  unsigned long scanned = 0;
  cl_error_t rc;
  if (fd >= 0) {
    lseek(fd, 0, SEEK_SET);
    rc = cl_scandesc_callback(fd, nullptr, &virname, &scanned, engine_, &options, &probe);
  } else {
    if (data.empty()) return result;
    cl_fmap_t* map = cl_fmap_open_memory(data.data(), data.size());
    if (map == nullptr) return result;
    rc = cl_scanmap_callback(map, nullptr, &virname, &scanned, engine_, &options, &probe);
    cl_fmap_close(map);
  }
  result.top_type = std::move(probe.top_type);
  result.layers = probe.layers;
  result.bytes_below = probe.bytes_below;
  result.deepest = probe.deepest;
  // Anything but a clean walk over accepted layers: an alert, an error, a limit, a stop.
  result.complete = rc == CL_CLEAN && !probe.stopped && probe.layers > 0;
  return result;
}

ClamEngine::~ClamEngine() {
  if (engine_ != nullptr) cl_engine_free(engine_);
}

ScanResult ClamEngine::ScanBuffer(std::string_view data, std::string_view name) const {
  // libclamav refuses to map zero bytes, and no signature can match nothing (it ignores
  // zero-size hash signatures), so an empty part is clean without a scan.
  if (data.empty()) return {};
  cl_fmap_t* map = cl_fmap_open_memory(data.data(), data.size());
  // cl_fmap_open_memory fails only on allocation.
  if (map == nullptr) return {ScanResult::Kind::kLocalFailure, "libclamav: cannot map buffer"};
  ScanResult result = RunScan(
      name, limits_, data.size(),
      [&](const char* filename, const char** virname, unsigned long* scanned,
          cl_scan_options* options, void* context) {
        return cl_scanmap_callback(map, filename, virname, scanned, engine_, options, context);
      });
  cl_fmap_close(map);
  return result;
}

ScanResult ClamEngine::ScanFd(int fd, std::string_view name) const {
  // A descriptor fstat refuses is libclamav's to judge (it answers with an error).
  struct stat st {};
  const uint64_t size = fstat(fd, &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  return RunScan(
      name, limits_, size,
      [&](const char* filename, const char** virname, unsigned long* scanned,
          cl_scan_options* options, void* context) {
        return cl_scandesc_callback(fd, filename, virname, scanned, engine_, options, context);
      });
}

}  // namespace kensa::scan
