// SPDX-License-Identifier: GPL-2.0-or-later
// Whether a ClamAV logical signature's expression ("0&1", "(0|1)>2,1", "0&1=0", ...) can be
// true for an object in which some of its subsignatures certainly match nothing (no literal of
// theirs occurs) and the rest may match any number of times. Over-approximates: "can be true"
// is the answer whenever it is not sure, so "cannot" is a proof the signature does not match.
#ifndef KENSA_SIGS_LOGICAL_EXPRESSION_H_
#define KENSA_SIGS_LOGICAL_EXPRESSION_H_

#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace kensa::sigs {

// known_zero[i]: subsignature i certainly has no match. An index past the vector may match.
absl::StatusOr<bool> ExpressionCanBeTrue(std::string_view expression,
                                         const std::vector<bool>& known_zero);

}  // namespace kensa::sigs

#endif  // KENSA_SIGS_LOGICAL_EXPRESSION_H_
