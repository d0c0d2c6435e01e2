// SPDX-License-Identifier: GPL-2.0-or-later
// Quoted-printable (RFC 2045 6.7) as mail clients decode it, streaming.
//
// Choices, each what Thunderbird or Python's binascii.a2b_qp does, or the RFC:
// - "=XY" with two hex digits, either case, is the byte 0xXY.
// - "=" then optional spaces/tabs then CRLF or LF is a soft line break: all of it is removed.
//   So is "=" (with optional spaces/tabs, or a lone CR) at the very end of the stream.
// - Any other "=" is kept literally and what follows it is decoded as usual ("=4G" stays
//   "=4G", "==41" is "=A"), as a2b_qp does.
// - Spaces and tabs right before a line break (CRLF or LF) or the end of the stream are
//   removed (RFC 2045 rule 3: transports may add them). Whitespace before a soft break's "="
//   is data and kept.
// - Line breaks are kept as they are (CRLF stays CRLF, LF stays LF); a CR not followed by LF
//   is an ordinary byte.
// Every decision depends only on the bytes, never on where Feed() calls split them; the
// whitespace held back is capped (Limits), so memory is bounded.
#include "scan/quoted_printable_decoder.h"

#include <string>
#include <string_view>

#include "core/hex_digit.h"

namespace kensa::scan::quoted_printable {
namespace {

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

class Decoder final : public StreamDecoder {
 public:
  explicit Decoder(const Limits& limits) : limits_(limits) {}

  void Feed(std::string_view in, std::string* out) override {
    size_t i = 0;
    while (i < in.size()) {
      if (state_ == State::kText && held_.empty() && !held_cr_) {
        // Fast path: copy the run of ordinary bytes in one append.
        size_t j = i;
        while (j < in.size() && !IsSpecial(in[j])) ++j;
        out->append(in.data() + i, j - i);
        i = j;
        if (i == in.size()) break;
      }
      Step(in[i++], out);
    }
  }

  void Finish(std::string* out) override {
    switch (state_) {
      case State::kText:
        // The end of the stream ends the line: held whitespace is trailing, unless a lone CR
        // followed it.
        if (held_cr_) {
          out->append(held_);
          out->push_back('\r');
        }
        break;
      case State::kEquals:
      case State::kEqualsBlank:
      case State::kEqualsCr:
        break;  // A soft line break at the very end.
      case State::kEqualsHex:
        out->push_back('=');
        out->push_back(hex_);
        break;
    }
    state_ = State::kText;
    held_.clear();
    held_cr_ = false;
  }

 private:
  enum class State { kText, kEquals, kEqualsHex, kEqualsBlank, kEqualsCr };

  static bool IsSpecial(char c) { return c == '=' || c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

  void Step(char c, std::string* out) {
    switch (state_) {
      case State::kText:
        Text(c, out);
        return;
      case State::kEquals:
        if (HexDigitValue(c) >= 0) {
          hex_ = c;
          state_ = State::kEqualsHex;
        } else if (IsBlank(c)) {
          held_.assign(1, c);
          state_ = State::kEqualsBlank;
        } else if (c == '\r') {
          state_ = State::kEqualsCr;
        } else if (c == '\n') {
          state_ = State::kText;  // Soft line break.
        } else {
          Literal("", c, out);
        }
        return;
      case State::kEqualsHex:
        if (const int low = HexDigitValue(c); low >= 0) {
          out->push_back(static_cast<char>(HexDigitValue(hex_) * 16 + low));
          state_ = State::kText;
        } else {
          Literal(std::string_view(&hex_, 1), c, out);
        }
        return;
      case State::kEqualsBlank:
        if (IsBlank(c) && held_.size() < limits_.max_held_whitespace) {
          held_.push_back(c);
        } else if (c == '\r') {
          state_ = State::kEqualsCr;
        } else if (c == '\n') {
          held_.clear();
          state_ = State::kText;
        } else {
          std::string blanks = std::move(held_);
          held_.clear();
          Literal(blanks, c, out);
        }
        return;
      case State::kEqualsCr:
        if (c == '\n') {
          held_.clear();
          state_ = State::kText;
        } else {
          std::string rest = std::move(held_);
          held_.clear();
          rest.push_back('\r');
          Literal(rest, c, out);
        }
        return;
    }
  }

  // The '=' in front of `after` starts no escape: it is data, and `after` then c are decoded
  // as ordinary text.
  void Literal(std::string_view after, char c, std::string* out) {
    state_ = State::kText;
    out->push_back('=');
    for (char a : after) Text(a, out);
    Text(c, out);
  }

  void Text(char c, std::string* out) {
    if (c == '\n') {
      held_.clear();  // Trailing whitespace.
      if (held_cr_) out->push_back('\r');
      held_cr_ = false;
      out->push_back('\n');
      return;
    }
    if (held_cr_) {  // The CR held back was not a line break.
      ReleaseHeld(out);
      out->push_back('\r');
      held_cr_ = false;
    }
    if (IsBlank(c)) {
      if (held_.size() >= limits_.max_held_whitespace) ReleaseHeld(out);
      held_.push_back(c);
    } else if (c == '\r') {
      held_cr_ = true;
    } else if (c == '=') {
      ReleaseHeld(out);
      state_ = State::kEquals;
    } else {
      ReleaseHeld(out);
      out->push_back(c);
    }
  }

  void ReleaseHeld(std::string* out) {
    out->append(held_);
    held_.clear();
  }

  const Limits limits_;
  State state_ = State::kText;
  std::string held_;       // Spaces/tabs that may be trailing, or between '=' and a line end.
  bool held_cr_ = false;   // In kText: a CR that may start a CRLF line break.
  char hex_ = 0;           // In kEqualsHex: the first hex digit.
};

}  // namespace

std::unique_ptr<StreamDecoder> NewDecoder(const Limits& limits) { return std::make_unique<Decoder>(limits); }

}  // namespace kensa::scan::quoted_printable
