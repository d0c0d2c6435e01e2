// SPDX-License-Identifier: GPL-2.0-or-later
// The prefilter's derived inputs (sigs/prefilter_spec.h: literals, hash signatures, routed
// classes, the probe's file-type files), kept on disk beside the compiled Hyperscan databases,
// so that a restart or reload of a set whose version it has seen reads one file instead of
// every signature file again. The file is named by the set's version (a name of its exact
// content) and the derivation's version; it is a cache: any error reading it means "derive".
#ifndef KENSA_SIGS_PREFILTER_INPUTS_CACHE_H_
#define KENSA_SIGS_PREFILTER_INPUTS_CACHE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sigs/prefilter_spec.h"

namespace kensa::sigs {

// Written to a temporary name and renamed, so a reader never sees half a file.
absl::Status WritePrefilterInputsCache(const std::string& path, const PrefilterDerivation& d);

// The probe's files are written into `work_dir`/probe (as the derivation does).
absl::StatusOr<PrefilterDerivation> ReadPrefilterInputsCache(const std::string& path,
                                                             const std::string& work_dir);

}  // namespace kensa::sigs

#endif  // KENSA_SIGS_PREFILTER_INPUTS_CACHE_H_
