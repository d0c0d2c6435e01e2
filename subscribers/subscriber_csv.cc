// SPDX-License-Identifier: GPL-2.0-or-later
// Parsing and writing the subscriber CSV.
#include "subscribers/subscriber_csv.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace kensa::subscribers {
namespace {

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsBlank(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsBlank(s.back())) s.remove_suffix(1);
  return s;
}

// Splits one line into *fields (reused between lines); false with *error on a broken quote.
bool SplitFields(std::string_view line, std::vector<std::string>* fields, size_t* count,
                 std::string* error) {
  *count = 0;
  size_t i = 0;
  while (true) {
    if (fields->size() <= *count) fields->emplace_back();
    std::string& f = (*fields)[(*count)++];
    f.clear();
    while (i < line.size() && IsBlank(line[i])) ++i;
    if (i < line.size() && line[i] == '"') {
      ++i;
      while (true) {
        if (i >= line.size()) {
          *error = "unterminated quoted field";
          return false;
        }
        if (line[i] == '"') {
          if (i + 1 < line.size() && line[i + 1] == '"') {
            f.push_back('"');
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        f.push_back(line[i++]);
      }
      while (i < line.size() && IsBlank(line[i])) ++i;
      if (i < line.size() && line[i] != ',') {
        *error = "text after a quoted field";
        return false;
      }
    } else {
      const size_t comma = line.find(',', i);
      const size_t end = comma == std::string_view::npos ? line.size() : comma;
      f.assign(Trim(line.substr(i, end - i)));
      i = end;
    }
    if (i >= line.size()) return true;
    ++i;  // the comma
  }
}

bool EqualsLower(std::string_view text, std::string_view lower) {
  if (text.size() != lower.size()) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != lower[i]) return false;
  }
  return true;
}

absl::Status LineError(uint64_t line, std::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("line ", line, ": ", std::string(why)));
}

}  // namespace

absl::StatusOr<std::vector<CsvRow>> ParseSubscriberCsv(std::istream& in) {
  std::vector<CsvRow> rows;
  std::vector<std::string> fields;
  std::string text, error;
  size_t columns = 0;  // 0 until the header is read
  uint64_t line_no = 0;
  while (std::getline(in, text)) {
    ++line_no;
    std::string_view line = text;
    if (line_no == 1 && line.substr(0, 3) == "\xEF\xBB\xBF") line.remove_prefix(3);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    line = Trim(line);
    if (line.empty() || line.front() == '#') continue;
    size_t n = 0;
    if (!SplitFields(line, &fields, &n, &error)) return LineError(line_no, error);
    if (columns == 0) {
      const bool ok = (n == 3 || n == 4) && EqualsLower(fields[0], "address") &&
                      EqualsLower(fields[1], "inbound") && EqualsLower(fields[2], "outbound") &&
                      (n == 3 || EqualsLower(fields[3], "action"));
      if (!ok) {
        return LineError(line_no, absl::StrCat("expected the header \"", std::string(kCsvHeader),
                                               "\" (the action column may be left out)"));
      }
      columns = n;
      continue;
    }
    if (n != columns) {
      return LineError(line_no, absl::StrCat(n, " fields, the header has ", columns));
    }
    CsvRow row;
    row.line = line_no;
    if (absl::Status s = NormalizeAddressTo(fields[0], &row.key); !s.ok()) {
      return LineError(line_no, std::string(s.message()));
    }
    std::optional<bool> inbound = ParseOnOff(fields[1]);
    std::optional<bool> outbound = ParseOnOff(fields[2]);
    if (!inbound || !outbound) {
      return LineError(line_no, absl::StrCat("inbound and outbound take on/off, yes/no, "
                                             "true/false or 1/0, not \"",
                                             !inbound ? fields[1] : fields[2], "\""));
    }
    row.entry.inbound = *inbound;
    row.entry.outbound = *outbound;
    if (columns == 4 && !fields[3].empty()) {
      std::optional<SubscriberAction> action = ParseSubscriberAction(fields[3]);
      if (!action) {
        return LineError(line_no, absl::StrCat("action \"", fields[3],
                                               "\" is not default, remove, reject or quarantine"));
      }
      row.entry.action = *action;
    }
    rows.push_back(std::move(row));
  }
  if (in.bad()) return absl::DataLossError(absl::StrCat("reading line ", line_no + 1, " failed"));
  if (columns == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("no header line \"", std::string(kCsvHeader), "\""));
  }
  std::sort(rows.begin(), rows.end(),
            [](const CsvRow& a, const CsvRow& b) { return a.key < b.key; });
  for (size_t i = 1; i < rows.size(); ++i) {
    if (rows[i].key == rows[i - 1].key) {
      const uint64_t first = std::min(rows[i].line, rows[i - 1].line);
      const uint64_t second = std::max(rows[i].line, rows[i - 1].line);
      return LineError(second, absl::StrCat(rows[i].key, " is already on line ", first));
    }
  }
  return rows;
}

void FormatCsvRow(std::string_view key, const SubscriberEntry& entry, std::string* line) {
  line->clear();
  // A leading '#' unquoted would read back as a comment line.
  if (key.find_first_of(",\"") != std::string_view::npos || key.front() == '#') {
    line->push_back('"');
    for (char c : key) {
      if (c == '"') line->push_back('"');
      line->push_back(c);
    }
    line->push_back('"');
  } else {
    line->append(key);
  }
  line->append(entry.inbound ? ",on," : ",off,");
  line->append(entry.outbound ? "on," : "off,");
  line->append(SubscriberActionName(entry.action));
}

}  // namespace kensa::subscribers
