// SPDX-License-Identifier: GPL-2.0-or-later
// Subscriber CSV files come from ISPs' provisioning exports and spreadsheets: any bytes get a
// status naming a line or rows whose keys are normalised; formatting a row and parsing it
// again gives the same row back.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "subscribers/subscriber_csv.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  absl::StatusOr<std::vector<kensa::subscribers::CsvRow>> rows =
      kensa::subscribers::ParseSubscriberCsv(in);
  if (!rows.ok()) return 0;
  std::string text = "address,inbound,outbound,action\n";
  for (const kensa::subscribers::CsvRow& r : *rows) {
    if (r.key.empty()) __builtin_trap();
    std::string line;
    kensa::subscribers::FormatCsvRow(r.key, r.entry, &line);
    text += line;
    if (text.back() != '\n') text += '\n';
  }
  std::istringstream again(text);
  absl::StatusOr<std::vector<kensa::subscribers::CsvRow>> back =
      kensa::subscribers::ParseSubscriberCsv(again);
  if (!back.ok() || back->size() != rows->size()) __builtin_trap();
  for (size_t i = 0; i < rows->size(); ++i) {
    const auto& a = (*rows)[i];
    const auto& b = (*back)[i];
    if (a.key != b.key || a.entry.inbound != b.entry.inbound ||
        a.entry.outbound != b.entry.outbound || a.entry.action != b.entry.action) {
      __builtin_trap();
    }
  }
  return 0;
}
