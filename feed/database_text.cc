// SPDX-License-Identifier: GPL-2.0-or-later
#include "feed/database_text.h"

#include <clamav.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "feed/manifest.h"

namespace kensa::feed {
namespace {

// A line longer than this is still counted; only its first bytes name it.
constexpr size_t kMaxNameBytes = 512;

bool KindIs(std::string_view kind, std::initializer_list<std::string_view> kinds) {
  for (std::string_view k : kinds) {
    if (kind == k) return true;
  }
  return false;
}

bool IsYara(std::string_view kind) { return kind == "yar" || kind == "yara"; }

bool StartsYaraRule(absl::string_view line) {
  for (absl::string_view modifier : {"private ", "global "}) {
    while (absl::ConsumePrefix(&line, modifier)) line = absl::StripLeadingAsciiWhitespace(line);
  }
  return absl::StartsWith(line, "rule ") || absl::StartsWith(line, "rule\t");
}

// Calls each for every line that holds a signature.
absl::Status ForEachSignatureLine(const std::string& path, std::string_view kind,
                                  const std::function<void(absl::string_view)>& each) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view l = absl::StripAsciiWhitespace(line);
    if (l.empty() || l[0] == '#') continue;
    if (IsYara(kind) && !StartsYaraRule(l)) continue;
    each(l);
  }
  if (in.bad()) return absl::InternalError(absl::StrCat("cannot read ", path));
  return absl::OkStatus();
}

std::string Field(absl::string_view line, char sep, size_t index) {
  std::vector<absl::string_view> fields = absl::StrSplit(line, absl::MaxSplits(sep, index + 1));
  return index < fields.size() ? std::string(fields[index]) : std::string(line);
}

}  // namespace

bool IsCvdContainer(std::string_view name) {
  const std::string kind = DatabaseKind(name);
  return kind == "cvd" || kind == "cld" || kind == "cud";
}

std::string SignatureNameOfLine(std::string_view kind, std::string_view text) {
  const absl::string_view line(text.data(), text.size());
  std::string name;
  if (KindIs(kind, {"ndb", "ndu", "ldb", "ldu", "cdb", "idb", "crb", "pwdb"})) {
    name = Field(line,
                 kind == "ldb" || kind == "ldu" || kind == "crb" || kind == "pwdb" ? ';' : ':', 0);
  } else if (KindIs(kind,
                    {"hdb", "hdu", "hsb", "hsu", "mdb", "mdu", "msb", "msu", "fp", "sfp", "imp"})) {
    name = Field(line, ':', 2);
  } else if (kind == "db") {
    name = Field(line, '=', 0);
  } else if (kind == "ftm") {
    name = Field(line, ':', 3);
  } else if (IsYara(kind)) {
    name = std::string(line);
  } else {
    name = std::string(line);
  }
  if (name.size() > kMaxNameBytes) name.resize(kMaxNameBytes);
  return name;
}

absl::StatusOr<uint64_t> CountSignatures(const std::string& path) {
  const std::string file = std::filesystem::path(path).filename().string();
  const std::string kind = DatabaseKind(file);
  if (IsCvdContainer(file)) {
    cl_cvd* head = cl_cvdhead(path.c_str());
    if (head == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("cannot read the CVD header of ", path));
    }
    const uint64_t sigs = head->sigs;
    cl_cvdfree(head);
    return sigs;
  }
  if (kind == "cbc") return 1;
  uint64_t count = 0;
  if (absl::Status s = ForEachSignatureLine(path, kind, [&](absl::string_view) { ++count; });
      !s.ok()) {
    return s;
  }
  return count;
}

absl::StatusOr<std::vector<std::string>> SignatureNames(const std::string& path) {
  const std::string file = std::filesystem::path(path).filename().string();
  const std::string kind = DatabaseKind(file);
  std::vector<std::string> names;
  if (IsCvdContainer(file)) return names;
  if (kind == "cbc") {
    names.push_back(file);
    return names;
  }
  if (absl::Status s = ForEachSignatureLine(path, kind,
                                            [&](absl::string_view l) {
                                              names.push_back(SignatureNameOfLine(
                                                  kind, std::string_view(l.data(), l.size())));
                                            });
      !s.ok()) {
    return s;
  }
  return names;
}

}  // namespace kensa::feed
