// SPDX-License-Identifier: GPL-2.0-or-later
// GaugeSet: per-reactor gauges (open connections, queue length, ...). Each reactor writes only
// its own slot whenever the value changes (a relaxed store, a cache line apart from the other
// reactors), so a reader on another thread (the metrics endpoint) reads the rows without
// asking the reactors anything and without a lock.
#ifndef KENSA_CORE_GAUGES_H_
#define KENSA_CORE_GAUGES_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace kensa {

class GaugeSet {
 public:
  enum class Kind {
    kValue,
    // The value is a moment (Unix microseconds, 0 = none) and the gauge reports its age:
    // a reactor need not wake up to keep an age current.
    kAgeOfTimestamp,
  };

  // Start-up, before Resize() and any Set().
  int Register(std::string name, std::string help, Kind kind = Kind::kValue);
  void Resize(int reactors);

  // Only reactor `reactor`'s thread sets its slots.
  void Set(int reactor, int id, int64_t value) {
    rows_[reactor].values[id].store(value, std::memory_order_relaxed);
  }
  int64_t Get(int reactor, int id) const {
    return rows_[reactor].values[id].load(std::memory_order_relaxed);
  }

  size_t size() const { return names_.size(); }
  int reactors() const { return static_cast<int>(rows_.size()); }
  const std::string& name(int id) const { return names_[id]; }
  const std::string& help(int id) const { return helps_[id]; }
  Kind kind(int id) const { return kinds_[id]; }

 private:
  struct alignas(64) Row {
    std::unique_ptr<std::atomic<int64_t>[]> values;
  };
  std::vector<std::string> names_, helps_;
  std::vector<Kind> kinds_;
  std::vector<Row> rows_;
};

}  // namespace kensa

#endif  // KENSA_CORE_GAUGES_H_
