// SPDX-License-Identifier: GPL-2.0-or-later
// ServerHistograms: the ids of the latency histograms the client connections observe into
// (core/histograms.h). server/ registers them itself, so their names, help texts and buckets
// live beside the code that measures.
#ifndef KENSA_SERVER_SERVER_HISTOGRAMS_H_
#define KENSA_SERVER_SERVER_HISTOGRAMS_H_

#include "core/histograms.h"

namespace kensa {

struct ServerHistograms {
  int end_of_data_reply = 0, part_scan = 0;

  // Start-up, before histograms.Resize().
  static ServerHistograms Register(HistogramSet& histograms);
};

}  // namespace kensa

#endif  // KENSA_SERVER_SERVER_HISTOGRAMS_H_
