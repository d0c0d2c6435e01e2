// SPDX-License-Identifier: GPL-2.0-or-later
// ParseManifest reads the TOML with toml++ and then checks every key by hand: toml++ accepts
// any key, and a manifest with a key this version does not know may mean something this
// version would get wrong, so it is refused rather than ignored.
#include "feed/manifest.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <set>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "sigs/signature_version.h"

namespace kensa::feed {
namespace {

constexpr char kCreationFormat[] = "%Y-%m-%d%ET%H:%M:%SZ";
constexpr size_t kCreationLength = 20;  // "2024-06-15T12:00:00Z"
constexpr size_t kSha256HexDigits = 64;

absl::Status Bad(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("manifest: ", what));
}

absl::string_view A(std::string_view s) { return absl::string_view(s.data(), s.size()); }

std::string Quoted(std::string_view s) {
  return absl::StrCat("\"", absl::CHexEscape(absl::string_view(s.data(), s.size())), "\"");
}

// Every key of table must be one of allowed.
absl::Status OnlyKeys(const toml::table& table, absl::string_view where,
                      std::initializer_list<absl::string_view> allowed) {
  for (const auto& [key, value] : table) {
    if (std::find(allowed.begin(), allowed.end(), A(key.str())) == allowed.end()) {
      return Bad(absl::StrCat("unknown key ", where, Quoted(key.str())));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> GetString(const toml::table& table, std::string_view key,
                                      absl::string_view where) {
  const toml::node* n = table.get(key);
  if (n == nullptr) return Bad(absl::StrCat("missing key ", where, A(key)));
  const toml::value<std::string>* s = n->as_string();
  if (s == nullptr) return Bad(absl::StrCat(where, A(key), " must be a string"));
  return s->get();
}

absl::StatusOr<uint64_t> GetCount(const toml::node* n, absl::string_view name) {
  const toml::value<int64_t>* i = n->as_integer();
  if (i == nullptr) return Bad(absl::StrCat(name, " must be an integer"));
  if (i->get() < 0) return Bad(absl::StrCat(name, " must not be negative"));
  return static_cast<uint64_t>(i->get());
}

absl::StatusOr<uint64_t> GetCount(const toml::table& table, std::string_view key,
                                  absl::string_view where) {
  const toml::node* n = table.get(key);
  if (n == nullptr) return Bad(absl::StrCat("missing key ", where, A(key)));
  return GetCount(n, absl::StrCat(where, A(key)));
}

absl::StatusOr<BundleVersion> GetVersion(const toml::table& table, std::string_view key) {
  absl::StatusOr<std::string> s = GetString(table, key, "");
  if (!s.ok()) return s.status();
  absl::StatusOr<BundleVersion> v = ParseBundleVersion(*s);
  if (!v.ok()) return Bad(absl::StrCat(A(key), ": ", v.status().message()));
  return v;
}

bool IsLowerHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

absl::StatusOr<ManifestFile> ReadFile(const toml::node& node, size_t index) {
  const std::string where = absl::StrCat("file[", index, "].");
  const toml::table* t = node.as_table();
  if (t == nullptr) return Bad(absl::StrCat("file[", index, "] must be a table"));
  if (absl::Status s = OnlyKeys(*t, where, {"name", "size", "sha256", "signatures"}); !s.ok()) {
    return s;
  }
  ManifestFile f;
  absl::StatusOr<std::string> name = GetString(*t, "name", where);
  if (!name.ok()) return name.status();
  if (absl::Status s = ValidateDatabaseFileName(*name); !s.ok()) {
    return Bad(absl::StrCat(where, "name: ", s.message()));
  }
  f.name = *std::move(name);
  absl::StatusOr<uint64_t> size = GetCount(*t, "size", where);
  if (!size.ok()) return size.status();
  f.size = *size;
  absl::StatusOr<std::string> sha = GetString(*t, "sha256", where);
  if (!sha.ok()) return sha.status();
  if (sha->size() != kSha256HexDigits || !IsLowerHex(*sha)) {
    return Bad(absl::StrCat(where, "sha256 of ", f.name, " must be ", kSha256HexDigits,
                            " lowercase hex digits, not ", Quoted(*sha)));
  }
  f.sha256 = *std::move(sha);
  absl::StatusOr<uint64_t> sigs = GetCount(*t, "signatures", where);
  if (!sigs.ok()) return sigs.status();
  f.signatures = *sigs;
  return f;
}

}  // namespace

const ManifestFile* Manifest::Find(std::string_view name) const {
  for (const ManifestFile& f : files) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

uint64_t Manifest::TotalBytes() const {
  uint64_t total = 0;
  for (const ManifestFile& f : files) total += f.size;
  return total;
}

absl::Status ValidateDatabaseFileName(std::string_view name) {
  const std::string shown = Quoted(name);
  if (name.empty()) return absl::InvalidArgumentError("empty file name");
  if (name.size() > kMaxMemberNameBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("file name longer than ", kMaxMemberNameBytes, " bytes"));
  }
  if (name.find('/') != std::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(shown, " is a path; a bundle holds plain file names only"));
  }
  if (name[0] == '.') {
    return absl::InvalidArgumentError(absl::StrCat(shown, " starts with '.'"));
  }
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-' &&
        c != '+') {
      return absl::InvalidArgumentError(
          absl::StrCat(shown, " has a character outside [A-Za-z0-9._+-]"));
    }
  }
  if (!sigs::IsDatabaseFileName(name)) {
    return absl::InvalidArgumentError(absl::StrCat(shown, " is not a ClamAV database file name"));
  }
  return absl::OkStatus();
}

std::string DatabaseKind(std::string_view name) {
  const size_t dot = name.rfind('.');
  if (dot == std::string_view::npos) return "";
  return absl::AsciiStrToLower(absl::string_view(name.data() + dot + 1, name.size() - dot - 1));
}

std::map<std::string, uint64_t> ComputeTotals(const std::vector<ManifestFile>& files) {
  std::map<std::string, uint64_t> totals;
  for (const ManifestFile& f : files) totals[DatabaseKind(f.name)] += f.signatures;
  return totals;
}

std::string FormatCreationTime(absl::Time t) {
  return absl::FormatTime(kCreationFormat, t, absl::UTCTimeZone());
}

absl::StatusOr<absl::Time> ParseCreationTime(std::string_view text) {
  absl::Time t;
  std::string err;
  // The round trip rejects every other spelling absl would accept (offsets, fractions,
  // out-of-range fields that it normalises), so one time has one spelling.
  if (text.size() != kCreationLength ||
      !absl::ParseTime(kCreationFormat, absl::string_view(text.data(), text.size()),
                       absl::UTCTimeZone(), &t, &err) ||
      FormatCreationTime(t) != text) {
    return Bad(absl::StrCat("created must be an RFC 3339 UTC time like 2024-06-15T12:00:00Z, not ",
                            Quoted(text)));
  }
  return t;
}

absl::StatusOr<Manifest> ParseManifest(std::string_view text) {
  toml::table root;
  try {
    root = toml::parse(text, std::string_view("manifest.toml"));
  } catch (const toml::parse_error& e) {
    const toml::source_position& p = e.source().begin;
    return Bad(absl::StrCat("line ", p.line, " column ", p.column, ": ", A(e.description())));
  }
  if (absl::Status s = OnlyKeys(
          root, "", {"format", "version", "created", "min_kensa_version", "totals", "file"});
      !s.ok()) {
    return s;
  }
  Manifest m;
  absl::StatusOr<uint64_t> format = GetCount(root, "format", "");
  if (!format.ok()) return format.status();
  if (*format != kManifestFormat) {
    return Bad(absl::StrCat("format ", *format, " is not supported (this kensa reads format ",
                            kManifestFormat, ")"));
  }
  absl::StatusOr<BundleVersion> version = GetVersion(root, "version");
  if (!version.ok()) return version.status();
  m.version = *std::move(version);
  absl::StatusOr<std::string> created = GetString(root, "created", "");
  if (!created.ok()) return created.status();
  if (absl::StatusOr<absl::Time> t = ParseCreationTime(*created); !t.ok()) return t.status();
  m.created = *std::move(created);
  absl::StatusOr<BundleVersion> min_kensa = GetVersion(root, "min_kensa_version");
  if (!min_kensa.ok()) return min_kensa.status();
  m.min_kensa_version = *std::move(min_kensa);

  const toml::node* files = root.get("file");
  if (files == nullptr) return Bad("missing key file (a bundle holds at least one database)");
  const toml::array* array = files->as_array();
  if (array == nullptr || !array->is_array_of_tables()) {
    return Bad("file must be an array of tables ([[file]])");
  }
  std::set<std::string> names;
  for (size_t i = 0; i < array->size(); ++i) {
    absl::StatusOr<ManifestFile> f = ReadFile(*array->get(i), i);
    if (!f.ok()) return f.status();
    if (!names.insert(f->name).second) {
      return Bad(absl::StrCat("file ", Quoted(f->name), " is listed twice"));
    }
    m.files.push_back(*std::move(f));
  }
  if (m.files.empty()) return Bad("file is empty (a bundle holds at least one database)");

  const toml::node* totals = root.get("totals");
  if (totals == nullptr) return Bad("missing key totals");
  const toml::table* totals_table = totals->as_table();
  if (totals_table == nullptr) return Bad("totals must be a table");
  for (const auto& [key, value] : *totals_table) {
    absl::StatusOr<uint64_t> n = GetCount(&value, absl::StrCat("totals.", A(key.str())));
    if (!n.ok()) return n.status();
    m.totals[std::string(key.str())] = *n;
  }
  const std::map<std::string, uint64_t> computed = ComputeTotals(m.files);
  if (m.totals != computed) {
    std::string want;
    for (const auto& [kind, n] : computed) absl::StrAppend(&want, " ", kind, "=", n);
    return Bad(
        absl::StrCat("totals do not match the files' signature counts (the files say", want, ")"));
  }
  return m;
}

std::string FormatManifest(const Manifest& m) {
  std::ostringstream out;
  out << "# kensa signature bundle manifest (signed by manifest.sig)\n"
      << "format = " << m.format << "\n"
      << "version = " << Quoted(m.version.ToString()) << "\n"
      << "created = " << Quoted(m.created) << "\n"
      << "min_kensa_version = " << Quoted(m.min_kensa_version.ToString()) << "\n"
      << "\n[totals]\n";
  for (const auto& [kind, n] : m.totals) out << kind << " = " << n << "\n";
  for (const ManifestFile& f : m.files) {
    out << "\n[[file]]\n"
        << "name = " << Quoted(f.name) << "\n"
        << "size = " << f.size << "\n"
        << "sha256 = " << Quoted(f.sha256) << "\n"
        << "signatures = " << f.signatures << "\n";
  }
  return out.str();
}

}  // namespace kensa::feed
