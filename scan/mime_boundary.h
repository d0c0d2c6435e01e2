// SPDX-License-Identifier: GPL-2.0-or-later
// Is a line a multipart delimiter? A delimiter line is "--" boundary, a close delimiter
// "--" boundary "--", either followed only by transport padding (SP, HT; a CR before the LF
// counts as padding too) up to the line ending. This is how Python's email package and
// Thunderbird read them; a line where other text follows the boundary is not a delimiter.
// Boundaries are tried innermost first, so an inner multipart sees its own delimiters first
// and an outer delimiter closes the inner multipart.
#ifndef KENSA_SCAN_MIME_BOUNDARY_H_
#define KENSA_SCAN_MIME_BOUNDARY_H_

#include <cstddef>
#include <string_view>
#include <vector>

namespace kensa::scan {

struct DelimiterMatch {
  enum Kind { kNone, kNeedMore, kDelimiter, kClose };
  Kind kind = kNone;
  size_t index = 0;  // into the boundaries given, for kDelimiter and kClose
};

// `line` is the start of a line (the whole line without its LF when `complete`).
// Returns kNeedMore while a longer prefix could still decide either way. With `decide_now`
// a line that so far is a boundary followed by padding counts as a delimiter (the caller's
// bound on how much of one line it keeps). With `prefix_match`, any text may follow the
// boundary: the reading of RFC 2046's note to implementors, which mime4j follows.
DelimiterMatch MatchDelimiter(std::string_view line, bool complete, bool decide_now,
                              const std::vector<std::string_view>& boundaries,
                              bool prefix_match = false);

}  // namespace kensa::scan

#endif  // KENSA_SCAN_MIME_BOUNDARY_H_
