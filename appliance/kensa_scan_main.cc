// SPDX-License-Identifier: GPL-2.0-or-later
// kensa-scan: kensad's scan pipeline on files, for operators and tests, printing the way
// clamscan does. A file that starts with a header block is a message (MIME parsed, each leaf
// decoded and scanned, as kensad does); any other file is scanned as one attachment.
//   kensa-scan [-d SIGDIR] [--config FILE] [--engine-only] [--no-summary] FILE|DIR...
// Exit status like clamscan's: 0 all clean, 1 something found, 2 an error.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "appliance/config.h"
#include "appliance/malloc_conf.h"
#include "core/arena_zeroing.h"
#include "scan/message_scanner.h"
#include "scan/prefilter.h"
#include "sigs/signature_set.h"

namespace kensa {
namespace {

constexpr size_t kReadChunk = 1 << 20;
constexpr size_t kSniffBytes = 4096;
constexpr char kSystemConfig[] = "/etc/kensa/kensa.toml";

void Usage() {
  std::fprintf(stderr,
               "usage: kensa-scan [-d SIGDIR] [--config FILE] [--engine-only] [--no-summary] "
               "FILE...\n"
               "  -d SIGDIR      load the signature databases of SIGDIR instead of the "
               "configured ones\n"
               "  --config FILE  kensad configuration to take signature_dir and limits from\n"
               "                 (default %s when it exists, else the embedded default)\n"
               "  --engine-only  bypass every fast path (prefilter, verdict cache)\n"
               "  --explain-prefilter  say for each attachment file why the prefilter let it\n"
               "                 skip libclamav or sent it there\n"
               "exit status: 0 clean, 1 infected, 2 error\n",
               kSystemConfig);
}

// RFC 5322: a header field name is printable ASCII without ':' and space, then ':'. An mbox
// "From " line may precede it.
bool LooksLikeMessage(std::string_view head) {
  if (head.substr(0, 5) == "From ") {
    size_t nl = head.find('\n');
    if (nl == std::string_view::npos) return false;
    head.remove_prefix(nl + 1);
  }
  size_t i = 0;
  while (i < head.size() && head[i] > 0x20 && head[i] < 0x7f && head[i] != ':') ++i;
  if (i == 0 || i >= head.size()) return false;
  while (i < head.size() && (head[i] == ' ' || head[i] == '\t')) ++i;
  return i < head.size() && head[i] == ':';
}

struct FileResult {
  bool error = false;
  std::string error_text;
  scan::MessageVerdict verdict;
  bool message = false;
};

// One attachment file: mapped, run through the prefilter (when there is one) and, unless it
// proves the file clean, scanned by the engine as it is.
scan::ScanResult ScanAttachment(int fd, uint64_t size, const std::string& path,
                                const scan::ClamEngine& engine,
                                const scan::PrefilterDatabase* prefilter, bool* fast_path,
                                bool explain) {
  *fast_path = false;
  if (prefilter == nullptr || size == 0) return engine.ScanFd(fd, path);
  void* map = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (map == MAP_FAILED) return engine.ScanFd(fd, path);
  const std::string_view whole(static_cast<const char*>(map), size);
  scan::PartPrefilter pf(*prefilter);
  constexpr size_t kChunk = 64 << 10;  // as a decoder hands a part over
  for (size_t at = 0; at < whole.size(); at += kChunk) pf.Feed(whole.substr(at, kChunk));
  scan::ScanResult r;
  const scan::PartPrefilter::Decision d = pf.Decide(whole);
  if (explain) {
    std::printf("%s: prefilter %s (%s%s%s%s)\n", path.c_str(),
                std::string(scan::PartPrefilter::DecisionName(d)).c_str(),
                pf.probe_type().empty() ? "type not probed" : pf.probe_type().c_str(),
                pf.typed_without_probe() ? ", typed without the probe" : "",
                pf.stopped_at_type().empty() ? "" : ", stopped at ",
                pf.stopped_at_type().c_str());
  }
  if (d == scan::PartPrefilter::Decision::kSkipEngine) {
    *fast_path = true;
  } else {
    r = engine.ScanBuffer(whole, path);
  }
  munmap(map, size);
  return r;
}

FileResult ScanPath(const std::string& path, const scan::ClamEngine& engine,
                    const scan::PrefilterDatabase* prefilter,
                    const scan::PrefilterDatabase* message_prefilter, const std::string& version,
                    scan::VerdictCache* cache, const scan::ScanSettings& settings, bool explain) {
  FileResult r;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    r.error = true;
    r.error_text = std::strerror(errno);
    return r;
  }
  // One read buffer for every file (zeroing 1 MiB per file cost more than scanning a small one).
  thread_local std::string buf(kReadChunk, '\0');
  ssize_t n = read(fd, buf.data(), kSniffBytes);
  if (n < 0) {
    r.error = true;
    r.error_text = std::strerror(errno);
    close(fd);
    return r;
  }
  r.message = LooksLikeMessage(std::string_view(buf.data(), static_cast<size_t>(n)));
  if (!r.message) {
    // One attachment: the engine sees the file as it is.
    struct stat st {};
    if (fstat(fd, &st) == 0) r.verdict.bytes = static_cast<uint64_t>(st.st_size);
    bool fast_path = false;
    scan::ScanResult s = ScanAttachment(fd, r.verdict.bytes, path, engine, prefilter, &fast_path,
                                      explain);
    close(fd);
    r.verdict.parts = 1;
    (fast_path ? r.verdict.fast_path : r.verdict.engine_scans) = 1;
    if (s.kind == scan::ScanResult::Kind::kLocalFailure) {
      r.verdict.kind = scan::MessageVerdict::Kind::kLocalFailure;
      r.verdict.local_failure = s.name;
    } else if (!s.clean()) {
      scan::MimePart whole;
      whole.filename = path;
      r.verdict.findings.push_back({whole, s});
      r.verdict.names.push_back(s.name);
      r.verdict.kind = s.kind == scan::ScanResult::Kind::kInfected
                           ? scan::MessageVerdict::Kind::kInfected
                           : scan::MessageVerdict::Kind::kUnscannable;
    }
    return r;
  }
  scan::MessageScanner scanner(engine, version, cache, settings);
  scanner.SetPrefilter(prefilter);
  scanner.SetMessagePrefilter(message_prefilter);
  scanner.Feed(std::string_view(buf.data(), static_cast<size_t>(n)));
  for (;;) {
    n = read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      r.error = true;
      r.error_text = std::strerror(errno);
      close(fd);
      return r;
    }
    if (n == 0) break;
    scanner.Feed(std::string_view(buf.data(), static_cast<size_t>(n)));
  }
  close(fd);
  r.verdict = scanner.Finish();
  if (explain && !r.verdict.prediction_why_not.empty()) {
    std::printf("%s: whole-message reading not predicted: %s\n", path.c_str(),
                r.verdict.prediction_why_not.c_str());
  }
  if (explain && !r.verdict.second_reading_why.empty()) {
    std::printf("%s: whole-message reading: prefilter %s\n", path.c_str(),
                r.verdict.second_reading_why.c_str());
  }
  return r;
}

std::string Printable(std::string_view s) {
  std::string out;
  for (char c : s) out += (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f) ? c : '?';
  return out;
}

int Run(int argc, char** argv) {
  // core/arena_zeroing.h says why.
  if (absl::Status s = ZeroByMemsetInEveryArena(); !s.ok()) {
    std::fprintf(stderr, "kensa-scan: warning: %s\n", std::string(s.message()).c_str());
  } else if (absl::Status m = MoveThisThreadOffArenaZero(); !m.ok()) {
    std::fprintf(stderr, "kensa-scan: warning: %s\n", std::string(m.message()).c_str());
  }
  std::string sig_dir, config_path;
  bool engine_only = false, summary = true, explain = false;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if ((a == "-d" || a == "--database") && i + 1 < argc) {
      sig_dir = argv[++i];
    } else if (absl::StartsWith(a, "--database=")) {
      sig_dir = a.substr(11);
    } else if (a == "--config" && i + 1 < argc) {
      config_path = argv[++i];
    } else if (a == "--engine-only") {
      engine_only = true;
    } else if (a == "--explain-prefilter") {
      explain = true;
    } else if (a == "--no-summary") {
      summary = false;
    } else if (a == "-h" || a == "--help") {
      Usage();
      return 0;
    } else if (absl::StartsWith(a, "-") && a != "-") {
      std::fprintf(stderr, "kensa-scan: unknown option %s\n", a.c_str());
      Usage();
      return 2;
    } else {
      files.push_back(a);
    }
  }
  if (files.empty()) {
    Usage();
    return 2;
  }
  // A directory stands for every regular file under it, in name order (clamscan -r).
  std::vector<std::string> expanded;
  for (const std::string& f : files) {
    std::error_code ec;
    if (!std::filesystem::is_directory(f, ec)) {
      expanded.push_back(f);
      continue;
    }
    std::vector<std::string> found;
    for (auto it = std::filesystem::recursive_directory_iterator(
             f, std::filesystem::directory_options::skip_permission_denied, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_regular_file(ec)) found.push_back(it->path().string());
    }
    std::sort(found.begin(), found.end());
    expanded.insert(expanded.end(), found.begin(), found.end());
  }
  files = std::move(expanded);
  KensaConfig config = EmbeddedDefaultConfig();
  if (config_path.empty() && access(kSystemConfig, R_OK) == 0) config_path = kSystemConfig;
  if (!config_path.empty()) {
    absl::StatusOr<KensaConfig> c = LoadConfig(config_path, ConfigUse::kScanOnly);
    if (!c.ok()) {
      std::fprintf(stderr, "kensa-scan: %s\n", std::string(c.status().message()).c_str());
      return 2;
    }
    config = *c;
  }
  if (sig_dir.empty()) sig_dir = config.signature_dir;

  scan::ClamLimits limits;
  limits.max_scan_bytes = config.max_scan_bytes;
  limits.max_file_bytes = config.max_file_bytes;
  limits.max_recursion = config.max_recursion;
  limits.max_files = config.max_files;
  limits.temp_dir = config.engine_temp_dir;
  limits.max_scan_seconds =
      static_cast<uint32_t>(std::max<int64_t>(1, absl::ToInt64Seconds(config.max_scan_time)));
  sigs::PrefilterOptions prefilter_options;
  prefilter_options.enabled = config.prefilter && !engine_only;
  prefilter_options.cache_dir = config.prefilter_cache_dir;
  prefilter_options.min_signatures = config.prefilter_min_signatures;
  const absl::Time start = absl::Now();
  // Canaries are kensad's gate before publishing a set; here the operator asks what a given
  // database says, so it is loaded as it is.
  absl::StatusOr<std::shared_ptr<const sigs::SignatureSet>> set =
      sigs::SignatureSet::Build(sig_dir, limits, /*check_canaries=*/false, prefilter_options);
  if (!set.ok()) {
    std::fprintf(stderr, "kensa-scan: %s\n", std::string(set.status().message()).c_str());
    return 2;
  }
  scan::ScanSettings settings;
  settings.mime.max_depth = config.max_mime_depth;
  settings.mime.max_parts = config.max_mime_parts;
  settings.mime.max_header_bytes = config.max_header_bytes;
  settings.part_memory_bytes = config.part_memory_bytes;
  settings.max_part_bytes = config.max_file_bytes;
  const char* tmp = getenv("TMPDIR");
  settings.temp_dir = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
  settings.whole_message_check = config.whole_message_check;
  settings.whole_message_max_bytes = config.whole_message_max_bytes;
  const bool unscannable_is_infected = config.unscannable_action == UnscannableAction::kInfected;
  scan::VerdictCache cache(config.verdict_cache_entries > 0 ? config.verdict_cache_entries : 1);
  scan::VerdictCache* cache_ptr = engine_only || config.verdict_cache_entries == 0 ? nullptr : &cache;

  int infected = 0, errors = 0;
  uint64_t bytes = 0, objects = 0, fast_path = 0;
  // libclamav's reading of whole messages: run, cleared by the prefilter, predicted.
  uint64_t whole_readings = 0, whole_fast_path = 0, whole_predicted = 0;
  const absl::Time scan_start = absl::Now();
  for (const std::string& path : files) {
    FileResult r = ScanPath(path, (*set)->engine(), (*set)->prefilter(),
                            (*set)->message_prefilter(), (*set)->version(), cache_ptr, settings,
                            explain);
    if (r.error) {
      ++errors;
      std::printf("%s: %s ERROR\n", path.c_str(), r.error_text.c_str());
      continue;
    }
    if (r.verdict.kind == scan::MessageVerdict::Kind::kLocalFailure) {
      // No verdict (temporary space, memory): an error, like clamscan's, never "OK".
      ++errors;
      std::printf("%s: %s ERROR\n", path.c_str(), Printable(r.verdict.local_failure).c_str());
      continue;
    }
    bytes += r.verdict.bytes;
    objects += r.verdict.fast_path + r.verdict.engine_scans;
    fast_path += r.verdict.fast_path;
    using SecondReading = scan::MessageVerdict::SecondReading;
    if (r.verdict.second_reading != SecondReading::kNone) ++whole_readings;
    if (r.verdict.second_reading == SecondReading::kFastPath) ++whole_fast_path;
    if (r.verdict.second_reading == SecondReading::kPredicted) ++whole_predicted;
    const scan::PartFinding* first = nullptr;
    for (const scan::PartFinding& f : r.verdict.findings) {
      if (f.result.kind == scan::ScanResult::Kind::kUnscannable && !unscannable_is_infected) {
        continue;
      }
      if (first == nullptr || (f.result.kind == scan::ScanResult::Kind::kInfected &&
                               first->result.kind != scan::ScanResult::Kind::kInfected)) {
        first = &f;
      }
    }
    if (first == nullptr) {
      std::printf("%s: OK\n", path.c_str());
      continue;
    }
    ++infected;
    std::printf("%s: %s FOUND\n", path.c_str(), Printable(first->result.name).c_str());
    if (!r.message) continue;
    for (const scan::PartFinding& f : r.verdict.findings) {
      const scan::MimePart& p = f.part;
      std::printf("%s: part %u %s \"%s\" bytes %llu-%llu: %s %s\n", path.c_str(), p.id,
                  p.media_type.c_str(), Printable(p.filename).c_str(),
                  static_cast<unsigned long long>(p.header_begin),
                  static_cast<unsigned long long>(p.body_end), Printable(f.result.name).c_str(),
                  f.result.kind == scan::ScanResult::Kind::kInfected ? "FOUND" : "UNSCANNABLE");
    }
  }
  std::fflush(stdout);
  if (summary) {
    const sigs::SignatureSetInfo& info = (*set)->info();
    std::printf(
        "\n----------- SCAN SUMMARY -----------\n"
        "Signature set: %s (%s)\nKnown viruses: %llu\nScanned files: %zu\nInfected files: %d\n"
        "Total errors: %d\nData scanned: %.2f MB\nTime: %.3f sec\n",
        info.version.c_str(), info.dir.c_str(),
        static_cast<unsigned long long>(info.signatures), files.size() - errors, infected,
        errors, static_cast<double>(bytes) / (1 << 20),
        absl::ToDoubleSeconds(absl::Now() - start));
    // kensa's own lines: where the time went, and how much the prefilter kept from the engine.
    std::printf("Load time: %.3f sec (prefilter %.3f sec%s)\nScan time: %.3f sec\n",
                absl::ToDoubleSeconds(info.load_time), absl::ToDoubleSeconds(info.prefilter_time),
                info.prefilter.from_cache ? ", from cache" : "",
                absl::ToDoubleSeconds(absl::Now() - scan_start));
    if ((*set)->message_prefilter() != nullptr) {
      std::printf("Whole-message readings: %llu of %llu predicted, %llu on the fast path\n",
                  static_cast<unsigned long long>(whole_predicted),
                  static_cast<unsigned long long>(whole_readings),
                  static_cast<unsigned long long>(whole_fast_path));
    }
    if ((*set)->message_prefilter() != nullptr) {
      // A small set's parts take the fast path only where the probe is not needed.
      std::printf("Prefilter%s: %llu of %llu objects on the fast path; %zu literals, %zu hashes, "
                  "%zu signatures without a literal\n",
                  (*set)->prefilter() != nullptr ? "" : " (file types only, no probe)",
                  static_cast<unsigned long long>(fast_path),
                  static_cast<unsigned long long>(objects), info.prefilter.raw_patterns,
                  info.prefilter.hash_signatures, info.prefilter_without_literal);
      for (const std::string& why : info.prefilter_routing) {
        std::printf("Prefilter routes to the engine: %s\n", why.c_str());
      }
      if (!info.prefilter.file_types_error.empty()) {
        std::printf("Prefilter probes every object: file types: %s\n",
                    info.prefilter.file_types_error.c_str());
      }
    }
  }
  if (errors > 0) return 2;
  return infected > 0 ? 1 : 0;
}

}  // namespace
}  // namespace kensa

// jemalloc reads this at its first allocation (appliance/malloc_conf.h says why each option).
extern "C" {
const char* malloc_conf = kensa::kMallocConf;
}

int main(int argc, char** argv) { return kensa::Run(argc, argv); }
