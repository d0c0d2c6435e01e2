// SPDX-License-Identifier: GPL-2.0-or-later
// What a bundle's tools read inside a ClamAV database file: how many signatures it holds
// (for the manifest) and their names (for `kensa-sigtool diff`). The rules, per kind:
//   .cvd .cld .cud   the signature count in the CVD header (libclamav's cl_cvdhead), no names;
//   .cbc             one bytecode signature per file, named by the file;
//   .yar .yara       one per line that starts a rule (`rule`, `private rule`, `global rule`);
//   other text kinds one per line that is neither empty nor a `#` comment.
// A signature's name is the field the kind keeps it in (.ndb/.ldb/.cdb/.idb/.crb/.pwdb: the
// first; .hdb/.hsb/.mdb/.msb/.fp/.sfp/.imp and their .hdu...: the third; .db: before '=';
// .ftm: the fourth); kinds without names (.wdb, .pdb, .gdb, .cfg, .ign, .ign2) use the line.
// Files are read line by line, never whole.
#ifndef KENSA_FEED_DATABASE_TEXT_H_
#define KENSA_FEED_DATABASE_TEXT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace kensa::feed {

// True for the CVD containers (.cvd, .cld, .cud), whose signatures are not text lines.
bool IsCvdContainer(std::string_view name);

absl::StatusOr<uint64_t> CountSignatures(const std::string& path);

// The names of the signatures in a text database, in file order; empty for CVD containers.
absl::StatusOr<std::vector<std::string>> SignatureNames(const std::string& path);

// The name of the signature on one line of a database of kind ("ndb"); line is neither empty
// nor a comment.
std::string SignatureNameOfLine(std::string_view kind, std::string_view line);

}  // namespace kensa::feed

#endif  // KENSA_FEED_DATABASE_TEXT_H_
