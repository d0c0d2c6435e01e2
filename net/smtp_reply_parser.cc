// SPDX-License-Identifier: GPL-2.0-or-later
#include "net/smtp_reply_parser.h"

#include <utility>

namespace kensa::net {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Printable text for an error message: a server's bytes go into logs.
std::string Printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 80)) {
    unsigned char u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u >= 0x7f) ? '?' : c;
  }
  return out;
}

}  // namespace

void SplitEnhancedCode(int code, std::string_view line, std::string* enhanced,
                       std::string* rest) {
  enhanced->clear();
  size_t i = 0;
  // class "." subject(1-3 digits) "." detail(1-3 digits), then a space or the end.
  auto digits = [&](size_t max) {
    size_t start = i;
    while (i < line.size() && IsDigit(line[i]) && i - start < max) ++i;
    return i > start && (i >= line.size() || !IsDigit(line[i]));
  };
  if (code >= 200 && code < 600 && !line.empty() && line[0] == static_cast<char>('0' + code / 100)) {
    i = 1;
    if (i < line.size() && line[i] == '.' && (++i, digits(3)) && i < line.size() &&
        line[i] == '.' && (++i, digits(3)) && (i == line.size() || line[i] == ' ')) {
      *enhanced = std::string(line.substr(0, i));
      while (i < line.size() && line[i] == ' ') ++i;
      *rest = std::string(line.substr(i));
      return;
    }
  }
  *rest = std::string(line);
}

void SmtpReplyParser::Append(std::string_view bytes) {
  if (!error_.empty()) return;
  // Compact before growing: the consumed prefix is dead weight.
  if (pos_ > 0 && pos_ >= buf_.size() / 2) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  buf_.append(bytes.data(), bytes.size());
}

void SmtpReplyParser::Discard() {
  buf_.clear();
  pos_ = 0;
  pending_.clear();
  pending_code_ = 0;
}

SmtpReplyParser::Result SmtpReplyParser::Fail(std::string why) {
  error_ = std::move(why);
  buf_.clear();
  pos_ = 0;
  pending_.clear();
  return Result::kError;
}

SmtpReplyParser::Result SmtpReplyParser::Next(ServerReply* out) {
  if (!error_.empty()) return Result::kError;
  while (true) {
    size_t nl = buf_.find('\n', pos_);
    if (nl == std::string::npos) {
      if (buf_.size() - pos_ > max_line_bytes_ + 2) return Fail("reply line too long");
      return Result::kNeedMore;
    }
    std::string_view line(buf_.data() + pos_, nl - pos_);
    pos_ = nl + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > max_line_bytes_) return Fail("reply line too long");
    if (line.size() < 3 || !IsDigit(line[0]) || !IsDigit(line[1]) || !IsDigit(line[2]) ||
        line[0] < '2' || line[0] > '5' || (line.size() > 3 && line[3] != ' ' && line[3] != '-')) {
      return Fail("malformed reply: \"" + Printable(line) + "\"");
    }
    const int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    // The lines of one reply share its code (RFC 5321 4.2.1); a change means we are out
    // of step with the server.
    if (!pending_.empty() && code != pending_code_) {
      return Fail("reply code changed inside a multi-line reply: \"" + Printable(line) + "\"");
    }
    if (pending_.size() >= max_lines_) return Fail("too many lines in one reply");
    pending_code_ = code;
    pending_.emplace_back(line.size() > 4 ? line.substr(4) : std::string_view());
    if (line.size() > 3 && line[3] == '-') continue;

    ServerReply r;
    r.code = code;
    for (size_t i = 0; i < pending_.size(); ++i) {
      std::string enhanced, text;
      SplitEnhancedCode(code, pending_[i], &enhanced, &text);
      if (i == 0) r.enhanced = enhanced;
      if (!text.empty()) {
        if (!r.text.empty()) r.text += "; ";
        r.text += text;
      }
    }
    r.lines = std::move(pending_);
    pending_.clear();
    *out = std::move(r);
    return Result::kReply;
  }
}

}  // namespace kensa::net
