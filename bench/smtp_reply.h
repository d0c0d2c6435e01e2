// SPDX-License-Identifier: GPL-2.0-or-later
// Splits the server's byte stream into SMTP replies (RFC 5321 4.2: "250-..." continues,
// "250 ..." ends). Pipelined replies may arrive several per read or split across reads.
#ifndef KENSA_BENCH_SMTP_REPLY_H_
#define KENSA_BENCH_SMTP_REPLY_H_

#include <deque>
#include <string>
#include <string_view>

namespace kensa::bench {

struct Reply {
  int code = 0;
  std::string text;  // every line, CRLF-joined (EHLO keywords are read from it)
};

class ReplyReader {
 public:
  // Appends each complete reply to `out`. False when the peer sends something that is not a
  // reply (no 3-digit code, or a line beyond any sane length): the caller drops the session.
  bool Feed(std::string_view data, std::deque<Reply>* out) {
    for (char c : data) {
      if (c != '\n') {
        line_ += c;
        if (line_.size() > kMaxLine) return false;
        continue;
      }
      if (!line_.empty() && line_.back() == '\r') line_.pop_back();
      if (line_.size() < 3 || !IsDigit(line_[0]) || !IsDigit(line_[1]) || !IsDigit(line_[2]))
        return false;
      text_ += line_;
      text_ += "\r\n";
      if (line_.size() == 3 || line_[3] != '-') {
        out->push_back(Reply{(line_[0] - '0') * 100 + (line_[1] - '0') * 10 + (line_[2] - '0'),
                             std::move(text_)});
        text_.clear();
      }
      line_.clear();
    }
    return true;
  }

 private:
  static constexpr size_t kMaxLine = 4096;
  static bool IsDigit(char c) { return c >= '0' && c <= '9'; }
  std::string line_, text_;
};

// Whether an EHLO reply lists `keyword` (as the first word of one of its lines).
inline bool HasEhloKeyword(const std::string& ehlo_text, std::string_view keyword) {
  size_t pos = 0;
  while (pos < ehlo_text.size()) {
    size_t end = ehlo_text.find("\r\n", pos);
    if (end == std::string::npos) end = ehlo_text.size();
    std::string_view line(ehlo_text.data() + pos, end - pos);
    if (line.size() >= 4) {
      std::string_view word = line.substr(4);
      word = word.substr(0, word.find(' '));
      if (word.size() == keyword.size()) {
        bool same = true;
        for (size_t i = 0; i < word.size(); ++i)
          if ((word[i] | 0x20) != (keyword[i] | 0x20)) same = false;
        if (same) return true;
      }
    }
    pos = end + 2;
  }
  return false;
}

}  // namespace kensa::bench

#endif  // KENSA_BENCH_SMTP_REPLY_H_
