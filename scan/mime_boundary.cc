// SPDX-License-Identifier: GPL-2.0-or-later
#include "scan/mime_boundary.h"

namespace kensa::scan {
namespace {

bool IsPadding(char c) { return c == ' ' || c == '\t' || c == '\r'; }

// kNone, kNeedMore, kDelimiter or kClose for one boundary.
DelimiterMatch::Kind MatchOne(std::string_view line, bool final_answer, std::string_view b,
                              bool prefix_match) {
  if (line.size() < 2 + b.size()) {
    if (final_answer) return DelimiterMatch::kNone;
    bool prefix = true;
    for (size_t j = 0; j < line.size() && prefix; ++j) {
      prefix = line[j] == (j < 2 ? '-' : b[j - 2]);
    }
    return prefix ? DelimiterMatch::kNeedMore : DelimiterMatch::kNone;
  }
  if (line[0] != '-' || line[1] != '-' || line.substr(2, b.size()) != b) {
    return DelimiterMatch::kNone;
  }
  std::string_view rest = line.substr(2 + b.size());
  DelimiterMatch::Kind kind = DelimiterMatch::kDelimiter;
  if (rest.size() >= 2 && rest[0] == '-' && rest[1] == '-') {
    kind = DelimiterMatch::kClose;
    rest.remove_prefix(2);
  } else if (rest.size() == 1 && rest[0] == '-' && !final_answer) {
    return DelimiterMatch::kNeedMore;
  }
  for (char c : rest) {
    if (!IsPadding(c)) {
      if (!prefix_match) return DelimiterMatch::kNone;
      break;
    }
  }
  return final_answer ? kind : DelimiterMatch::kNeedMore;
}

}  // namespace

DelimiterMatch MatchDelimiter(std::string_view line, bool complete, bool decide_now,
                              const std::vector<std::string_view>& boundaries,
                              bool prefix_match) {
  bool final_answer = complete || decide_now;
  bool undecided = false;
  for (size_t i = 0; i < boundaries.size(); ++i) {
    DelimiterMatch::Kind k = MatchOne(line, final_answer, boundaries[i], prefix_match);
    if (k == DelimiterMatch::kNeedMore) {
      undecided = true;
    } else if (k != DelimiterMatch::kNone) {
      // An inner boundary still undecided could take this line first: wait for it.
      if (undecided) return {DelimiterMatch::kNeedMore, 0};
      return {k, i};
    }
  }
  return {undecided ? DelimiterMatch::kNeedMore : DelimiterMatch::kNone, 0};
}

}  // namespace kensa::scan
