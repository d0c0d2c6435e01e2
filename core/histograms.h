// SPDX-License-Identifier: GPL-2.0-or-later
// HistogramSet: per-reactor duration histograms with fixed buckets, the latency counterpart of
// CounterSet. Each reactor observes only into its own row (a cache line apart from the others,
// relaxed atomics), so a latency costs no sharing on the data path; a reader (the metrics
// endpoint) reads each row at scrape time. A reading taken while the row is written may be
// off by the observations in flight, never torn inside one counter.
#ifndef KENSA_CORE_HISTOGRAMS_H_
#define KENSA_CORE_HISTOGRAMS_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace kensa {

class HistogramSet {
 public:
  // What one row holds of one histogram at the moment it is read.
  struct Reading {
    // Observations at or below each bound, cumulative; bounds().size() + 1 entries, the last
    // the +Inf bucket (every observation, the histogram's count).
    std::vector<uint64_t> cumulative;
    double sum_seconds = 0;
    uint64_t count() const { return cumulative.empty() ? 0 : cumulative.back(); }
  };

  // Start-up, before Resize() and any Observe(). `bounds`: the buckets' upper bounds in
  // seconds, ascending; a +Inf bucket follows them.
  int Register(std::string name, std::string help, std::vector<double> bounds);
  void Resize(int reactors);

  // Only reactor `reactor`'s thread observes into its row.
  void Observe(int reactor, int id, absl::Duration d);
  Reading Read(int reactor, int id) const;

  size_t size() const { return names_.size(); }
  int reactors() const { return static_cast<int>(rows_.size()); }
  const std::string& name(int id) const { return names_[id]; }
  const std::string& help(int id) const { return helps_[id]; }
  const std::vector<double>& bounds(int id) const { return bounds_[id]; }

 private:
  // A row holds, per histogram, one count per bucket (not cumulative) and the +Inf bucket,
  // then the sum in nanoseconds: offsets_[id] is where that histogram starts.
  struct alignas(64) Row {
    std::unique_ptr<std::atomic<uint64_t>[]> values;
  };
  std::vector<std::string> names_, helps_;
  std::vector<std::vector<double>> bounds_;
  std::vector<size_t> offsets_;
  size_t row_size_ = 0;
  std::vector<Row> rows_;
};

}  // namespace kensa

#endif  // KENSA_CORE_HISTOGRAMS_H_
