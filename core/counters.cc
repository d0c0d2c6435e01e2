// SPDX-License-Identifier: GPL-2.0-or-later
#include "core/counters.h"

#include "absl/strings/str_cat.h"

namespace kensa {

int CounterSet::Register(std::string name, std::string help) {
  names_.push_back(std::move(name));
  helps_.push_back(std::move(help));
  return static_cast<int>(names_.size()) - 1;
}

void CounterSet::Resize(int reactors) {
  rows_.resize(reactors);
  for (Row& r : rows_) {
    r.values = std::make_unique<std::atomic<uint64_t>[]>(names_.size());
    for (size_t i = 0; i < names_.size(); ++i) r.values[i].store(0);
  }
}

uint64_t CounterSet::Sum(int id) const {
  uint64_t total = 0;
  for (const Row& r : rows_) total += r.values[id].load(std::memory_order_relaxed);
  return total;
}

std::string CounterSet::Render() const {
  std::string out;
  for (size_t i = 0; i < names_.size(); ++i) {
    absl::StrAppend(&out, "# HELP kensa_", names_[i], " ", helps_[i], "\nkensa_", names_[i], " ",
                    Sum(static_cast<int>(i)), "\n");
  }
  return out;
}

}  // namespace kensa
