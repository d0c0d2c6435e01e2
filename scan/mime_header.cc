// SPDX-License-Identifier: GPL-2.0-or-later
#include "scan/mime_header.h"

#include <cstring>
#include <string>
#include <string_view>

namespace kensa::scan {
namespace {

bool IsNameChar(unsigned char c) { return c >= 33 && c <= 126 && c != ':'; }

// Length of the field name when `line` opens a field (the ':' is at the returned index,
// after optional WSP), or npos.
size_t ColonIndex(std::string_view line) {
  size_t i = 0;
  while (i < line.size() && IsNameChar(static_cast<unsigned char>(line[i]))) ++i;
  if (i == 0) return std::string_view::npos;
  while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
  if (i < line.size() && line[i] == ':') return i;
  return std::string_view::npos;
}

std::string_view TrimName(std::string_view name) {
  while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
  return name;
}

std::string_view WithoutEol(std::string_view line) {
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

}  // namespace

bool IsHeaderLine(std::string_view line) {
  if (line.empty()) return false;
  if (line[0] == ' ' || line[0] == '\t') return true;
  return ColonIndex(line) != std::string_view::npos;
}

bool IsMboxFromLine(std::string_view line) { return line.substr(0, 5) == "From "; }

void ForEachHeaderField(std::string_view block, uint64_t base,
                        const std::function<void(MimeHeader&&)>& field) {
  MimeHeader current;
  bool open = false;
  size_t pos = 0;
  while (pos < block.size()) {
    size_t nl = block.find('\n', pos);
    size_t next = nl == std::string_view::npos ? block.size() : nl + 1;
    std::string_view line = WithoutEol(block.substr(pos, next - pos));
    if (!line.empty() && (line[0] == ' ' || line[0] == '\t')) {
      if (open) {
        current.value.append(line);
        current.end = base + next;
      }
    } else if (size_t colon = ColonIndex(line); colon != std::string_view::npos) {
      if (open) field(std::move(current));
      current = MimeHeader{};
      current.name = std::string(TrimName(line.substr(0, colon)));
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && (value[0] == ' ' || value[0] == '\t')) value.remove_prefix(1);
      current.value = std::string(value);
      current.begin = base + pos;
      current.end = base + next;
      open = true;
    } else if (open) {
      field(std::move(current));
      open = false;
    }
    pos = next;
  }
  if (open) field(std::move(current));
}

bool HeaderNameIs(std::string_view name, std::string_view lower_case_name) {
  if (name.size() != lower_case_name.size()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != lower_case_name[i]) return false;
  }
  return true;
}

}  // namespace kensa::scan
