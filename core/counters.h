// SPDX-License-Identifier: GPL-2.0-or-later
// CounterSet: per-reactor counters, summed on read. Each reactor writes only its own row
// (one cache line apart from the others, relaxed atomics), so counting costs no sharing on
// the data path; a reader (metrics, shell) sums the rows.
#ifndef KENSA_CORE_COUNTERS_H_
#define KENSA_CORE_COUNTERS_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace kensa {

class CounterSet {
 public:
  // Registration happens at start-up, before Resize() and before any Add().
  int Register(std::string name, std::string help);
  void Resize(int reactors);

  void Add(int reactor, int id, uint64_t n = 1) {
    rows_[reactor].values[id].fetch_add(n, std::memory_order_relaxed);
  }
  uint64_t Sum(int id) const;
  // One reactor's row, for a reader that reports per reactor (the metrics endpoint).
  uint64_t Get(int reactor, int id) const {
    return rows_[reactor].values[id].load(std::memory_order_relaxed);
  }
  int reactors() const { return static_cast<int>(rows_.size()); }
  size_t size() const { return names_.size(); }
  const std::string& name(int id) const { return names_[id]; }
  const std::string& help(int id) const { return helps_[id]; }
  // "name value\n" per counter, Prometheus text style.
  std::string Render() const;

 private:
  struct alignas(64) Row {
    std::unique_ptr<std::atomic<uint64_t>[]> values;
  };
  std::vector<std::string> names_, helps_;
  std::vector<Row> rows_;
};

}  // namespace kensa

#endif  // KENSA_CORE_COUNTERS_H_
