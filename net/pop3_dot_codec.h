// SPDX-License-Identifier: GPL-2.0-or-later
// POP3 multi-line responses (RFC 1939 section 3): lines that start with '.' are byte-stuffed
// and CRLF "." CRLF ends the response. The decoder undoes the stuffing as bytes arrive, cut
// anywhere; the encoder stuffs a whole message for the client.
#ifndef KENSA_NET_POP3_DOT_CODEC_H_
#define KENSA_NET_POP3_DOT_CODEC_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace kensa::net {

class Pop3DotDecoder {
 public:
  // Appends the unstuffed content of `in` to *out, up to and without the terminating "."
  // line. Returns how many bytes of `in` it consumed: all of them, or up to and with the
  // terminator once it is seen (then done() is true and the rest belongs to what follows).
  size_t Feed(std::string_view in, std::string* out);
  bool done() const { return state_ == State::kDone; }
  // Input bytes consumed but not yet decided ("." or ".\r" at a line start): whoever switches
  // from decoding to passing the raw bytes on must send these first.
  std::string_view held() const {
    return state_ == State::kDot ? "." : state_ == State::kDotCr ? ".\r" : "";
  }
  void Reset() { state_ = State::kLineStart; }

 private:
  enum class State { kLineStart, kMid, kDot, kDotCr, kDone };
  State state_ = State::kLineStart;
};

// Pop3DotStuff() for a message handed over in pieces cut anywhere, so a large message is
// stuffed as it streams out.
class Pop3DotStuffer {
 public:
  // Appends the stuffed form of the next piece of content to *out.
  void Append(std::string_view content, std::string* out);
  // Appends the end: CRLF after a last line without one, then ".\r\n".
  void Finish(std::string* out);

 private:
  bool line_start_ = true;  // the next content byte starts a line
};

// The message as the client must receive it after a "+OK" line: every line starting with '.'
// gets another '.', a last line without its CRLF gets one, and ".\r\n" ends it.
std::string Pop3DotStuff(std::string_view message);
// The stuffing alone, for a prefix of a message whose rest follows as raw (stuffed) bytes:
// `message` starts at a line start; nothing is added at its end.
std::string Pop3DotStuffPrefix(std::string_view message);

}  // namespace kensa::net

#endif  // KENSA_NET_POP3_DOT_CODEC_H_
