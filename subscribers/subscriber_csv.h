// SPDX-License-Identifier: GPL-2.0-or-later
// The subscriber CSV of kensa-subscribers import/export: "address,inbound,outbound,action",
// parsed whole and checked before the store is touched, so a bad file changes nothing.
#ifndef KENSA_SUBSCRIBERS_SUBSCRIBER_CSV_H_
#define KENSA_SUBSCRIBERS_SUBSCRIBER_CSV_H_

#include <cstdint>
#include <istream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "subscribers/subscriber_entry.h"

namespace kensa::subscribers {

inline constexpr std::string_view kCsvHeader = "address,inbound,outbound,action";

struct CsvRow {
  std::string key;  // normalised
  SubscriberEntry entry;
  uint64_t line = 0;  // 1-based, for messages
};

// The header (any case; the action column may be left out) first; blank lines and lines
// starting with '#' anywhere; fields may be quoted as in RFC 4180; CRLF and a UTF-8 BOM (what
// spreadsheets write) are accepted. Rows come back sorted by key. An error names the line;
// a key given twice (after normalisation) is an error, since which row was meant is unknown.
absl::StatusOr<std::vector<CsvRow>> ParseSubscriberCsv(std::istream& in);

// One data row without the newline, quoting the address when it holds ',' or '"' or starts
// with '#'.
void FormatCsvRow(std::string_view key, const SubscriberEntry& entry, std::string* line);

}  // namespace kensa::subscribers

#endif  // KENSA_SUBSCRIBERS_SUBSCRIBER_CSV_H_
