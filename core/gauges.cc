// SPDX-License-Identifier: GPL-2.0-or-later
#include "core/gauges.h"

namespace kensa {

int GaugeSet::Register(std::string name, std::string help, Kind kind) {
  names_.push_back(std::move(name));
  helps_.push_back(std::move(help));
  kinds_.push_back(kind);
  return static_cast<int>(names_.size()) - 1;
}

void GaugeSet::Resize(int reactors) {
  rows_.resize(reactors);
  for (Row& r : rows_) {
    r.values = std::make_unique<std::atomic<int64_t>[]>(names_.size());
    for (size_t i = 0; i < names_.size(); ++i) r.values[i].store(0);
  }
}

}  // namespace kensa
