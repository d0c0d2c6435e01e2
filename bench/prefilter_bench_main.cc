// SPDX-License-Identifier: GPL-2.0-or-later
// kensa-prefilter-bench: the prefilter's figures on one core, on files held in memory.
//   kensa-prefilter-bench -d SIGDIR [--rounds N] [--cache DIR] FILE|DIR...
// Prints, per round and as medians: engine-alone MB/s, prefilter+engine MB/s, the prefilter's
// own streaming MB/s (Hyperscan over the raw bytes, and libclamav's text normalisation for
// text), the type probe's cost, the fast-path share, and the SignatureSet build time and
// resident memory with and without the prefilter; a last line "json {...}" for scripts.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "scan/prefilter.h"
#include "sigs/signature_set.h"

namespace kensa {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

double ResidentMiB() {
  std::ifstream f("/proc/self/statm");
  long size = 0, resident = 0;
  f >> size >> resident;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1 << 20);
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// The probe's own cost: a walk over every layer, each accepted.
class AcceptEveryLayer : public scan::ClamEngine::LayerVisitor {
 public:
  Action OnLayer(std::string_view, uint32_t, std::string_view) override { return Action::kDescend; }
};

struct Round {
  double engine_s = 0, prefilter_s = 0, stream_s = 0, probe_s = 0;
  size_t fast = 0;
  uint64_t fast_bytes = 0;
};

sigs::PrefilterOptions Options(bool enabled, const std::string& cache_dir) {
  sigs::PrefilterOptions o;
  o.enabled = enabled;
  o.cache_dir = cache_dir;
  o.min_signatures = 0;  // measure whatever set it is given
  return o;
}

int Run(int argc, char** argv) {
  std::string dir, cache;
  int rounds = 3;
  std::vector<std::string> paths;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-d" && i + 1 < argc) dir = argv[++i];
    else if (a == "--rounds" && i + 1 < argc) rounds = std::max(1, std::atoi(argv[++i]));
    else if (a == "--cache" && i + 1 < argc) cache = argv[++i];
    else paths.push_back(a);
  }
  if (dir.empty() || paths.empty()) {
    std::fprintf(stderr, "usage: kensa-prefilter-bench -d SIGDIR [--rounds N] [--cache DIR] FILE|DIR...\n");
    return 2;
  }
  std::vector<std::string> objects;
  uint64_t bytes = 0;
  for (const std::string& p : paths) {
    std::vector<std::string> files;
    if (std::filesystem::is_directory(p)) {
      for (const auto& e : std::filesystem::recursive_directory_iterator(p)) {
        if (e.is_regular_file()) files.push_back(e.path().string());
      }
      std::sort(files.begin(), files.end());
    } else {
      files.push_back(p);
    }
    for (const std::string& f : files) {
      std::ifstream in(f, std::ios::binary);
      objects.emplace_back((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      bytes += objects.back().size();
    }
  }

  // The builds: engine alone, then with the prefilter compiled (no cache), then from the cache.
  scan::ClamLimits limits;  // libclamav's clean-object cache on, as kensad runs it
  const double rss0 = ResidentMiB();
  auto t0 = Clock::now();
  auto plain = sigs::SignatureSet::Build(dir, limits, false, Options(false, ""));
  auto t1 = Clock::now();
  if (!plain.ok()) {
    std::fprintf(stderr, "%s\n", std::string(plain.status().message()).c_str());
    return 2;
  }
  const double rss_engine = ResidentMiB() - rss0;
  const double build_engine_s = Seconds(t0, t1);
  const double rss1 = ResidentMiB();
  t0 = Clock::now();
  auto with = sigs::SignatureSet::Build(dir, limits, false,
                                       Options(true, ""));
  t1 = Clock::now();
  if (!with.ok()) {
    std::fprintf(stderr, "%s\n", std::string(with.status().message()).c_str());
    return 2;
  }
  const double rss_with = ResidentMiB() - rss1;
  const double build_with_s = Seconds(t0, t1);
  double build_cached_s = 0;
  if (!cache.empty()) {
    const sigs::PrefilterOptions cached_options = Options(true, cache);
    (void)sigs::SignatureSet::Build(dir, limits, false, cached_options);
    t0 = Clock::now();
    auto cached = sigs::SignatureSet::Build(dir, limits, false, cached_options);
    build_cached_s = Seconds(t0, Clock::now());
  }
  constexpr size_t kChunk = 64 << 10;

  std::map<std::string, std::pair<uint64_t, size_t>> by_type;  // bytes, objects
  std::map<std::string, size_t> by_decision;
  std::vector<Round> rs;
  for (int r = 0; r < rounds; ++r) {
    // Fresh sets every round: libclamav's cache of clean objects (repeated members, shared
    // images) starts empty for each timed pass, as for a new stream of mail.
    Round round;
    auto alone = sigs::SignatureSet::Build(dir, limits, false, Options(false, ""));
    auto paired = sigs::SignatureSet::Build(
        dir, limits, false, Options(true, cache));
    if (!alone.ok() || !paired.ok()) return 2;
    const sigs::SignatureSet& set = **paired;
    const scan::PrefilterDatabase& db = *set.prefilter();
    auto a = Clock::now();
    for (const std::string& o : objects) (void)(*alone)->engine().ScanBuffer(o);
    round.engine_s = Seconds(a, Clock::now());
    a = Clock::now();
    for (const std::string& o : objects) {
      scan::PartPrefilter pf(db);
      for (size_t at = 0; at < o.size(); at += kChunk) pf.Feed(std::string_view(o).substr(at, kChunk));
      const scan::PartPrefilter::Decision d = pf.Decide(o);
      if (d == scan::PartPrefilter::Decision::kSkipEngine) {
        ++round.fast;
        round.fast_bytes += o.size();
      } else {
        (void)set.engine().ScanBuffer(o);
      }
      if (r == 0) {
        by_decision[std::string(scan::PartPrefilter::DecisionName(d))]++;
        auto& t = by_type[pf.probe_type().empty() ? "(not probed)" : pf.probe_type()];
        t.first += o.size();
        t.second++;
      }
    }
    round.prefilter_s = Seconds(a, Clock::now());
    a = Clock::now();
    for (const std::string& o : objects) {
      scan::PartPrefilter pf(db);
      for (size_t at = 0; at < o.size(); at += kChunk) pf.Feed(std::string_view(o).substr(at, kChunk));
    }
    round.stream_s = Seconds(a, Clock::now());
    a = Clock::now();
    AcceptEveryLayer accept;
    for (const std::string& o : objects) (void)db.probe().Probe(o, -1, &accept);
    round.probe_s = Seconds(a, Clock::now());
    rs.push_back(round);
    const double mb = static_cast<double>(bytes) / 1e6;
    std::printf("round %d: engine alone %.1f MB/s, prefilter+engine %.1f MB/s (%.1fx), "
                "prefilter stream %.0f MB/s, probe %.0f MB/s, fast path %zu/%zu objects\n",
                r + 1, mb / round.engine_s, mb / round.prefilter_s,
                round.engine_s / round.prefilter_s, mb / round.stream_s, mb / round.probe_s,
                round.fast, objects.size());
  }
  auto med = [&](double Round::*f) {
    std::vector<double> v;
    for (const Round& r : rs) v.push_back(r.*f);
    return Median(v);
  };
  const double mb = static_cast<double>(bytes) / 1e6;
  const double engine = mb / med(&Round::engine_s), pre = mb / med(&Round::prefilter_s);
  // The ratio is taken within each round (both passes back to back), then the median.
  std::vector<double> ratios;
  for (const Round& r : rs) ratios.push_back(r.engine_s / r.prefilter_s);
  const double ratio = Median(ratios);
  const double stream = mb / med(&Round::stream_s), probe = mb / med(&Round::probe_s);
  const double fast_share = static_cast<double>(rs[0].fast_bytes) / static_cast<double>(bytes);
  const sigs::SignatureSet& set = **with;
  const scan::PrefilterDatabase& db = *set.prefilter();
  std::printf("\nobjects %zu, %.1f MB; signatures %llu; %zu literals, %zu normalised, %zu hashes, "
              "routed classes 0x%x\n",
              objects.size(), mb, static_cast<unsigned long long>(set.info().signatures),
              db.stats().raw_patterns, db.stats().normalized_patterns, db.stats().hash_signatures,
              db.stats().routed_classes);
  for (const auto& [type, t] : by_type) {
    std::printf("  type %-24s %4zu objects %8.1f MB\n", type.c_str(), t.second,
                static_cast<double>(t.first) / 1e6);
  }
  for (const auto& [d, n] : by_decision) std::printf("  decision %-12s %4zu\n", d.c_str(), n);
  std::printf("median of %d: engine alone %.1f MB/s, prefilter+engine %.1f MB/s, ratio %.2fx; "
              "fast path %.0f%% of bytes; prefilter stream %.0f MB/s; probe %.0f MB/s\n",
              rounds, engine, pre, ratio, 100 * fast_share, stream, probe);
  std::printf("build: engine alone %.2f s, +%.0f MiB resident; with prefilter %.2f s "
              "(compile), %.2f s (from cache), +%.0f MiB resident, Hyperscan databases %.1f MiB\n",
              build_engine_s, rss_engine, build_with_s, build_cached_s, rss_with,
              static_cast<double>(db.stats().database_bytes) / (1 << 20));
  std::printf("json {\"objects\":%zu,\"mb\":%.2f,\"engine_mbps\":%.2f,\"prefilter_mbps\":%.2f,"
              "\"ratio\":%.2f,\"fast_share_bytes\":%.3f,\"stream_mbps\":%.0f,\"probe_mbps\":%.0f,"
              "\"build_engine_s\":%.2f,\"build_prefilter_s\":%.2f,\"build_cached_s\":%.2f,"
              "\"rss_engine_mib\":%.0f,\"rss_prefilter_mib\":%.0f}\n",
              objects.size(), mb, engine, pre, ratio, fast_share, stream, probe,
              build_engine_s, build_with_s, build_cached_s, rss_engine, rss_with);
  return 0;
}

}  // namespace
}  // namespace kensa

int main(int argc, char** argv) { return kensa::Run(argc, argv); }
