// SPDX-License-Identifier: GPL-2.0-or-later
// Each subexpression is summarised by whether it can be true and the range its match count can
// take (a subexpression's count is the sum of its subsignatures' counts, as in libclamav). A
// level that mixes '&' and '|' without parentheses is read as '|': any tree of '&' and '|' needs
// at least one true operand, so that reading can only say "can be true" more often.
#include "sigs/logical_expression.h"

#include <cstdint>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace kensa::sigs {
namespace {

constexpr uint64_t kMany = std::numeric_limits<uint64_t>::max();

struct Summary {
  bool can_be_true = false;
  uint64_t lo = 0, hi = 0;  // count range
};

uint64_t Add(uint64_t a, uint64_t b) { return a > kMany - b ? kMany : a + b; }

class Parser {
 public:
  Parser(std::string_view s, const std::vector<bool>& zero) : s_(s), zero_(zero) {}

  absl::StatusOr<Summary> Parse() {
    absl::StatusOr<Summary> e = Expr(0);
    if (!e.ok()) return e;
    if (pos_ != s_.size()) return Error("trailing characters");
    return e;
  }

 private:
  absl::Status Error(std::string_view what) const {
    return absl::InvalidArgumentError(
        absl::StrCat("logical expression: ", std::string(what), " at ", pos_, " in '", std::string(s_), "'"));
  }

  absl::StatusOr<Summary> Expr(int depth) {
    if (depth > 64) return Error("nested too deep");
    absl::StatusOr<Summary> first = Operand(depth);
    if (!first.ok()) return first;
    Summary acc = *first;
    bool any_and = false, any_or = false, all_true = acc.can_be_true, one_true = acc.can_be_true;
    while (pos_ < s_.size() && (s_[pos_] == '&' || s_[pos_] == '|')) {
      (s_[pos_] == '&' ? any_and : any_or) = true;
      ++pos_;
      absl::StatusOr<Summary> next = Operand(depth);
      if (!next.ok()) return next;
      all_true = all_true && next->can_be_true;
      one_true = one_true || next->can_be_true;
      acc.lo = Add(acc.lo, next->lo);
      acc.hi = Add(acc.hi, next->hi);
    }
    acc.can_be_true = (any_and && !any_or) ? all_true : one_true;
    return acc;
  }

  absl::StatusOr<Summary> Operand(int depth) {
    Summary p;
    if (pos_ < s_.size() && s_[pos_] == '(') {
      ++pos_;
      absl::StatusOr<Summary> inner = Expr(depth + 1);
      if (!inner.ok()) return inner;
      if (pos_ >= s_.size() || s_[pos_] != ')') return Error("missing ')'");
      ++pos_;
      p = *inner;
    } else {
      absl::StatusOr<uint64_t> index = Number();
      if (!index.ok()) return index.status();
      const bool zero = *index < zero_.size() && zero_[*index];
      p.lo = 0;
      p.hi = zero ? 0 : kMany;
      p.can_be_true = !zero;
    }
    if (pos_ < s_.size() && (s_[pos_] == '=' || s_[pos_] == '>' || s_[pos_] == '<')) {
      const char op = s_[pos_++];
      absl::StatusOr<uint64_t> n = Number();
      if (!n.ok()) return n.status();
      // ",m" asks for at least m distinct subsignatures as well: only ever harder to satisfy.
      if (pos_ < s_.size() && s_[pos_] == ',') {
        ++pos_;
        if (absl::StatusOr<uint64_t> m = Number(); !m.ok()) return m.status();
      }
      switch (op) {
        case '=': p.can_be_true = p.lo <= *n && *n <= p.hi; break;
        case '>': p.can_be_true = p.hi > *n; break;
        case '<': p.can_be_true = p.lo < *n; break;
      }
    }
    return p;
  }

  absl::StatusOr<uint64_t> Number() {
    const size_t start = pos_;
    uint64_t v = 0;
    while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
      if (v > 1'000'000'000) return Error("number too large");
      v = v * 10 + static_cast<uint64_t>(s_[pos_++] - '0');
    }
    if (pos_ == start) return Error("number expected");
    return v;
  }

  std::string_view s_;
  const std::vector<bool>& zero_;
  size_t pos_ = 0;
};

}  // namespace

absl::StatusOr<bool> ExpressionCanBeTrue(std::string_view expression,
                                         const std::vector<bool>& known_zero) {
  absl::StatusOr<Summary> s = Parser(expression, known_zero).Parse();
  if (!s.ok()) return s.status();
  return s->can_be_true;
}

}  // namespace kensa::sigs
