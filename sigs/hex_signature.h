// SPDX-License-Identifier: GPL-2.0-or-later
// RequiredLiterals: what any match of a ClamAV hex body pattern must contain, for the
// prefilter. A pattern's bytes are exact runs broken by wildcards (??, a?, ?a), gaps (*, {n-m},
// [n-m]), alternatives ((aa|bbcc), !(aa|bb)) and boundaries ((B), (L), (W)). Any match of the
// pattern contains each of its exact runs, and one branch of each all-exact alternative; the
// best of these (the longest shortest member) is the pattern's required literal set. A
// pattern with no exact byte at all has none: the prefilter cannot rule it out.
#ifndef KENSA_SIGS_HEX_SIGNATURE_H_
#define KENSA_SIGS_HEX_SIGNATURE_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace kensa::sigs {

struct Literal {
  std::string bytes;
  bool caseless = false;
  bool operator==(const Literal&) const = default;
};

// Every match contains at least one member of `any_of` (a set of one for an exact run).
struct RequiredLiterals {
  std::vector<Literal> any_of;
  size_t shortest() const;
};

// Hex digits to bytes ("4142" -> "AB"); nullopt for an odd count or a non-hex character.
std::optional<std::string> HexToBytes(std::string_view hex);

// The literal set of a hex pattern, nullopt when it has no exact byte; an error when the
// text is not a hex pattern (odd digit count, unbalanced brackets).
absl::StatusOr<std::optional<RequiredLiterals>> ExtractRequiredLiterals(std::string_view hex);

// A logical signature's subsignature: "[offset:]pattern[::modifiers]". Modifiers i (nocase),
// w (wide: UTF-16LE), a (ascii, with w: both forms), f (fullword) shape the literals.
// PCRE, byte-compare, macro and fuzzy-image subsignatures have none (nullopt).
absl::StatusOr<std::optional<RequiredLiterals>> ExtractSubsignatureLiterals(std::string_view sub);

}  // namespace kensa::sigs

#endif  // KENSA_SIGS_HEX_SIGNATURE_H_
