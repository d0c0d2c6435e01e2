// SPDX-License-Identifier: GPL-2.0-or-later
#include "net/pop3_dot_codec.h"

namespace kensa::net {

size_t Pop3DotDecoder::Feed(std::string_view in, std::string* out) {
  size_t i = 0;
  while (i < in.size() && state_ != State::kDone) {
    const char c = in[i];
    switch (state_) {
      case State::kLineStart:
        if (c == '.') {
          state_ = State::kDot;  // held: a stuffed dot or the terminator
          ++i;
          continue;
        }
        state_ = State::kMid;
        break;
      case State::kDot:
        if (c == '\r') {
          state_ = State::kDotCr;
          ++i;
          continue;
        }
        if (c == '\n') {  // ".\n": a terminator from a server that sends bare LF
          state_ = State::kDone;
          ++i;
          continue;
        }
        state_ = State::kMid;  // ".x" was "..x" or a lone dot-prefixed line: drop one dot
        break;
      case State::kDotCr:
        if (c == '\n') {
          state_ = State::kDone;
          ++i;
          continue;
        }
        out->push_back('\r');  // ".\rx": the dot was stuffing, the CR is content
        state_ = State::kMid;
        break;
      case State::kMid:
      case State::kDone:
        break;
    }
    // kMid: copy up to and with the next LF in one go.
    const size_t lf = in.find('\n', i);
    if (lf == std::string_view::npos) {
      out->append(in.substr(i));
      i = in.size();
    } else {
      out->append(in.substr(i, lf + 1 - i));
      i = lf + 1;
      state_ = State::kLineStart;
    }
  }
  return i;
}

void Pop3DotStuffer::Append(std::string_view content, std::string* out) {
  out->reserve(out->size() + content.size() + content.size() / 64 + 8);
  size_t i = 0;
  while (i < content.size()) {
    if (line_start_ && content[i] == '.') out->push_back('.');
    const size_t lf = content.find('\n', i);
    const size_t end = lf == std::string_view::npos ? content.size() : lf + 1;
    out->append(content.substr(i, end - i));
    line_start_ = lf != std::string_view::npos;
    i = end;
  }
}

void Pop3DotStuffer::Finish(std::string* out) {
  if (!line_start_) out->append("\r\n");
  out->append(".\r\n");
  line_start_ = true;
}

std::string Pop3DotStuff(std::string_view message) {
  std::string out;
  Pop3DotStuffer stuffer;
  stuffer.Append(message, &out);
  stuffer.Finish(&out);
  return out;
}

std::string Pop3DotStuffPrefix(std::string_view message) {
  std::string out;
  Pop3DotStuffer().Append(message, &out);
  return out;
}

}  // namespace kensa::net
