// SPDX-License-Identifier: GPL-2.0-or-later
// SmtpReplyParser: splits the bytes an SMTP/LMTP server sends into replies (RFC 5321 4.2),
// multi-line ones ("250-...") joined, with bounded line length and line count so a hostile
// or broken server cannot make the client buffer without limit. Kept apart from the client
// state machine so it can be tested (and fuzzed) on its own.
#ifndef KENSA_NET_SMTP_REPLY_PARSER_H_
#define KENSA_NET_SMTP_REPLY_PARSER_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace kensa::net {

struct ServerReply {
  int code = 0;
  std::string enhanced;            // "5.1.1" from the first line, or empty
  std::string text;                // every line's text, enhanced codes removed, joined "; "
  std::vector<std::string> lines;  // each line's text after "250-" / "250 ", as sent
};

// "5.1.1 text" -> enhanced "5.1.1", rest "text", when it is an RFC 3463 code whose class
// digit agrees with the reply code; otherwise enhanced is empty and rest is the whole line.
void SplitEnhancedCode(int code, std::string_view line, std::string* enhanced,
                       std::string* rest);

class SmtpReplyParser {
 public:
  enum class Result { kReply, kNeedMore, kError };

  SmtpReplyParser(size_t max_line_bytes, size_t max_lines)
      : max_line_bytes_(max_line_bytes), max_lines_(max_lines) {}

  void Append(std::string_view bytes);
  // The next complete reply into *out (kReply), or kNeedMore, or kError (sticky; error()
  // says why). Safe to call again after Discard().
  Result Next(ServerReply* out);
  // Forgets everything buffered: after "220" to STARTTLS nothing the server sent in
  // plaintext may be read as coming from inside TLS (CVE-2011-0411-style injection).
  void Discard();

  const std::string& error() const { return error_; }
  size_t buffered() const { return buf_.size() - pos_; }

 private:
  Result Fail(std::string why);

  size_t max_line_bytes_, max_lines_;
  std::string buf_;
  size_t pos_ = 0;  // start of the unparsed bytes in buf_
  std::vector<std::string> pending_;  // lines of a multi-line reply so far
  int pending_code_ = 0;
  std::string error_;
};

}  // namespace kensa::net

#endif  // KENSA_NET_SMTP_REPLY_PARSER_H_
