// SPDX-License-Identifier: GPL-2.0-or-later
// Read as libclamav 1.4 reads it (cli_ac_chklsig): an expression splits at its first operator
// outside parentheses into the part before and everything after it, so "0&1|2" is 0&(1|2); an
// expression that is one parenthesised group, with or without a count modifier after it,
// splits inside the group at the group's last operator, so "(0&1|2)" is (0&1)|2. Each part is
// summarised by whether it can be true and the highest match count it can reach.
#include "sigs/logical_expression.h"

#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace kensa::sigs {
namespace {

constexpr uint64_t kMany = std::numeric_limits<uint64_t>::max();
constexpr int kMaxDepth = 512;

struct Summary {
  bool can_be_true = false;
  uint64_t hi = 0;  // highest count; the lowest is always taken as 0 (the safe side)
};

uint64_t Add(uint64_t a, uint64_t b) { return a > kMany - b ? kMany : a + b; }

bool IsModifier(char c) { return c == '>' || c == '<' || c == '='; }

// A count modifier's test, on a count that lies in [0, hi].
bool CountCanPass(char mod, uint64_t n, uint64_t hi) {
  switch (mod) {
    case '=': return n <= hi;
    case '>': return hi > n;
    case '<': return n > 0;
    default: return false;
  }
}

class Evaluator {
 public:
  explicit Evaluator(const std::vector<bool>& zero) : zero_(zero) {}

  absl::StatusOr<Summary> Eval(std::string_view e, int depth) {
    if (depth > kMaxDepth) return Error(e, "nested too deep");
    if (e.empty()) return Error(e, "empty operand");
    int pth = 0;
    size_t op = 0, op1 = 0, block_end = 0;  // op, op1: offset + 1 (0: none)
    char block_mod = 0;
    uint64_t block_n = 0;
    char mod = 0;
    size_t mod_at = 0;
    for (size_t i = 0; i < e.size(); ++i) {
      const char c = e[i];
      if (c == '(') {
        ++pth;
      } else if (c == ')' || IsModifier(c)) {
        if (c == ')' && pth-- == 0) return Error(e, "missing '('");
        mod = c;
        mod_at = i;
      } else if (c == '&' || c == '|') {
        if (pth == 0) {
          op = i + 1;
          break;
        }
        if (pth == 1) op1 = i + 1;
      }
      if (op1 != 0 && pth == 0) {
        // The end of the first group: a modifier after it counts when it ends the expression.
        block_end = i;
        block_mod = 0;
        if (i + 1 < e.size() && IsModifier(e[i + 1])) {
          block_mod = e[i + 1];
          size_t j = i + 2;
          absl::StatusOr<uint64_t> n = Number(e, &j);
          if (!n.ok()) return n.status();
          block_n = *n;
          while (j < e.size() && (e[j] == ',' || (e[j] >= '0' && e[j] <= '9'))) ++j;
          i = j - 1;
        }
        if (i + 1 == e.size()) break;
        block_mod = 0;
      }
    }
    if (pth != 0) return Error(e, "missing ')'");
    if (op == 0 && op1 == 0) {
      if (e.front() == '(') {
        if (e.size() < 2 || e.back() != ')') return Error(e, "modifier after a group");
        return Eval(e.substr(1, e.size() - 2), depth + 1);
      }
      size_t j = 0;
      absl::StatusOr<uint64_t> id = Number(e, &j);
      if (!id.ok()) return id.status();
      const bool zero = *id < zero_.size() && zero_[*id];
      Summary s{!zero, zero ? 0 : kMany};
      if (mod != 0 && IsModifier(mod)) {
        size_t k = mod_at + 1;
        absl::StatusOr<uint64_t> n = Number(e, &k);
        if (!n.ok()) return n.status();
        s.can_be_true = CountCanPass(mod, *n, s.hi);
      } else if (j != e.size()) {
        return Error(e, "trailing characters");
      }
      return s;
    }
    std::string_view left, right;
    char oper;
    if (op != 0) {
      oper = e[op - 1];
      left = e.substr(0, op - 1);
      right = e.substr(op);
    } else {
      oper = e[op1 - 1];
      left = e.substr(1, op1 - 2);
      right = e.substr(op1, block_end - op1);
    }
    absl::StatusOr<Summary> l = Eval(left, depth + 1);
    if (!l.ok()) return l;
    absl::StatusOr<Summary> r = Eval(right, depth + 1);
    if (!r.ok()) return r;
    Summary s;
    s.can_be_true = oper == '&' ? (l->can_be_true && r->can_be_true)
                                : (l->can_be_true || r->can_be_true);
    s.hi = s.can_be_true ? Add(l->hi, r->hi) : 0;
    // A group's modifier tests its count, which is 0 when the group is false ("(0&1)<1" is
    // true where 0 or 1 is absent); ",m" asks for m distinct subsignatures: only ever harder.
    if (block_mod != 0) s.can_be_true = CountCanPass(block_mod, block_n, s.hi);
    return s;
  }

 private:
  static absl::Status Error(std::string_view e, std::string_view what) {
    return absl::InvalidArgumentError(
        absl::StrCat("logical expression: ", std::string(what), " in '", std::string(e), "'"));
  }

  static absl::StatusOr<uint64_t> Number(std::string_view e, size_t* at) {
    const size_t start = *at;
    uint64_t v = 0;
    while (*at < e.size() && e[*at] >= '0' && e[*at] <= '9') {
      if (v > 1'000'000'000) return Error(e, "number too large");
      v = v * 10 + static_cast<uint64_t>(e[(*at)++] - '0');
    }
    if (*at == start) return Error(e, "number expected");
    return v;
  }

  const std::vector<bool>& zero_;
};

}  // namespace

absl::StatusOr<bool> ExpressionCanBeTrue(std::string_view expression,
                                         const std::vector<bool>& known_zero) {
  absl::StatusOr<Summary> s = Evaluator(known_zero).Eval(expression, 0);
  if (!s.ok()) return s.status();
  return s->can_be_true;
}

}  // namespace kensa::sigs
