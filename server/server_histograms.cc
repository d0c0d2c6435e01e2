// SPDX-License-Identifier: GPL-2.0-or-later
#include "server/server_histograms.h"

namespace kensa {

ServerHistograms ServerHistograms::Register(HistogramSet& h) {
  ServerHistograms ids;
  // The client waits this long for its 250 (or 4xx/554): the verdict of what was not yet
  // scanned while the data arrived, and the spool's fsyncs. Seconds here time a client out.
  ids.end_of_data_reply =
      h.Register("smtp_end_of_data_reply_seconds",
                 "SMTP: end of message data to the final reply (verdict and spool commit)",
                 {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60});
  // Most parts are answered by the verdict cache or the prefilter in microseconds; an engine
  // scan of an archive takes up to [scan] max_scan_time.
  ids.part_scan = h.Register(
      "scan_part_seconds",
      "per MIME leaf part (SMTP and POP3): from the part's end to its verdict (verdict cache, "
      "prefilter decision, libclamav)",
      {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
       10, 30, 120});
  return ids;
}

}  // namespace kensa
