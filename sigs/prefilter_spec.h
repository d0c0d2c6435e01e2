// SPDX-License-Identifier: GPL-2.0-or-later
// DerivePrefilterInputs: reads every database of a signature directory (official containers
// .cvd/.cld/.cud unpacked first) and derives what the prefilter needs (scan/prefilter_database.h):
//
//   .ndb .ndu .db   body signatures: a required literal set per signature of target type 0
//                   (any object), 5 (images) or 7 (text, also matched after normalisation)
//   .ldb .ldu       logical signatures: the literals of every subsignature that has some,
//                   when the expression cannot be true with all of those absent
//   .hdb .hdu .hsb .hsu  whole-object hashes
//   .yar .yara .cbc YARA rules and bytecode: not analysed; they route every class
//   .cdb            container metadata: routes the container class
//   .ftm .cfg       file-type magic and feature switches: copied for the type probe; the
//                   .ftm entries that trigger HTML, PDF or mail handling anywhere in a layer
//                   join libclamav's built-in ones as type triggers (file_type_triggers.h)
//   others          only ever apply to objects that are not plain bytes (PE sections and
//                   imports, Authenticode, icons, phishing lists) or only
//                   take detections away (allow lists, ignore lists): nothing to derive
//
// A signature whose literals cannot be found routes its classes to the engine: the derivation
// never guesses. Signature target types other than 0, 5 and 7 apply only to objects that are
// not plain bytes, which always go to the engine; mail signatures (4) also apply to text.
#ifndef KENSA_SIGS_PREFILTER_SPEC_H_
#define KENSA_SIGS_PREFILTER_SPEC_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "scan/prefilter_database.h"

namespace kensa::sigs {

struct PrefilterDerivation {
  scan::PrefilterInputs inputs;
  std::string probe_dir;  // a directory with the set's .ftm/.cfg files; empty when it has none
  // What was read, for the log and the benchmark.
  size_t body_signatures = 0, logical_signatures = 0, hash_signatures = 0;
  size_t without_literal = 0;  // signatures that route their classes
  std::vector<std::string> routing_examples;  // up to 10 "file: name (why)"
};

// `work_dir` receives the unpacked containers and the probe directory (kept: the probe engine
// reads them when it loads; the caller removes work_dir after).
absl::StatusOr<PrefilterDerivation> DerivePrefilterInputs(const std::string& dir,
                                                          const std::string& work_dir);

}  // namespace kensa::sigs

#endif  // KENSA_SIGS_PREFILTER_SPEC_H_
