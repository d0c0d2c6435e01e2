// SPDX-License-Identifier: GPL-2.0-or-later
#include "core/histograms.h"

#include <algorithm>

namespace kensa {

int HistogramSet::Register(std::string name, std::string help, std::vector<double> bounds) {
  names_.push_back(std::move(name));
  helps_.push_back(std::move(help));
  offsets_.push_back(row_size_);
  row_size_ += bounds.size() + 2;  // the buckets, +Inf, the sum
  bounds_.push_back(std::move(bounds));
  return static_cast<int>(names_.size()) - 1;
}

void HistogramSet::Resize(int reactors) {
  rows_.resize(reactors);
  for (Row& r : rows_) {
    r.values = std::make_unique<std::atomic<uint64_t>[]>(row_size_);
    for (size_t i = 0; i < row_size_; ++i) r.values[i].store(0);
  }
}

void HistogramSet::Observe(int reactor, int id, absl::Duration d) {
  if (d < absl::ZeroDuration()) d = absl::ZeroDuration();  // a clock step backwards
  const std::vector<double>& b = bounds_[id];
  // The first bound the observation is at or below (Prometheus buckets are "le").
  const size_t bucket = static_cast<size_t>(
      std::lower_bound(b.begin(), b.end(), absl::ToDoubleSeconds(d)) - b.begin());
  std::atomic<uint64_t>* h = &rows_[reactor].values[offsets_[id]];
  h[bucket].fetch_add(1, std::memory_order_relaxed);
  h[b.size() + 1].fetch_add(static_cast<uint64_t>(absl::ToInt64Nanoseconds(d)),
                            std::memory_order_relaxed);
}

HistogramSet::Reading HistogramSet::Read(int reactor, int id) const {
  const size_t buckets = bounds_[id].size() + 1;
  const std::atomic<uint64_t>* h = &rows_[reactor].values[offsets_[id]];
  Reading r;
  r.cumulative.resize(buckets);
  uint64_t running = 0;
  for (size_t i = 0; i < buckets; ++i) {
    running += h[i].load(std::memory_order_relaxed);
    r.cumulative[i] = running;
  }
  r.sum_seconds = static_cast<double>(h[buckets].load(std::memory_order_relaxed)) / 1e9;
  return r;
}

}  // namespace kensa
