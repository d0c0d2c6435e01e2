// SPDX-License-Identifier: GPL-2.0-or-later
// The test message of kensa-bench: a few headers made per message (so every Message-ID is
// unique and a relay's duplicate detection, if any, never short-cuts the work) in front of one
// body shared by every message, so building a 100 KB message costs no copy.
//
// The body is either generated (plain text of an exact size) or read from a prepared file (a
// MIME entity: its own header lines, an empty line, its body). A prepared file may hold
// placeholders (kTokenPlaceholder); each message gets its own 24 base64 characters in their
// place, so a scanner's verdict cache (kensa's, libclamav's clean-file cache in clamd) sees a
// new attachment in every message, as it would in real mail, while the body is still sent from
// the shared copy: only the tokens are per message.
#ifndef KENSA_BENCH_BENCH_MESSAGE_H_
#define KENSA_BENCH_BENCH_MESSAGE_H_

#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <ctime>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace kensa::bench {

class MessageFactory {
 public:
  // 24 characters; a prepared file puts it where any 18 bytes may go (inside a base64 line at a
  // multiple of 4 characters, over bytes no decoder checks), see bench/scan_messages.py.
  static constexpr std::string_view kTokenPlaceholder = "@@KENSA_BENCH_TOKEN_24@@";

  // `body_bytes` is the exact size of the body (what smtp-source -l means too), CRLF lines of
  // 78 bytes; no line starts with '.', so DATA needs no dot-stuffing and BDAT sends the same.
  MessageFactory(std::string from, std::string to, size_t body_bytes)
      : from_(std::move(from)), to_(std::move(to)) {
    Init();
    std::string body;
    BuildBody(body_bytes, &body);
    pieces_.push_back(std::move(body));
  }

  // The body from `path`; false (and `error`) when it cannot be read or a line starts with '.'
  // (it would need dot-stuffing for DATA and not for BDAT: the generator never writes one).
  // Bare LF line ends become CRLF.
  bool LoadBodyFile(const std::string& path, std::string* error) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      *error = absl::StrCat(path, ": cannot open");
      return false;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    std::string raw = ss.str(), body;
    body.reserve(raw.size() + raw.size() / 64);
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '\n' && (i == 0 || raw[i - 1] != '\r')) body += '\r';
      body += raw[i];
    }
    if (body.size() < 2 || body.compare(body.size() - 2, 2, "\r\n") != 0) body += "\r\n";
    if (body[0] == '.' || body.find("\n.") != std::string::npos) {
      *error = absl::StrCat(path, ": a line starts with '.'");
      return false;
    }
    if (body.find("\r\n\r\n") == std::string::npos) {
      *error = absl::StrCat(path, ": no empty line after the MIME headers");
      return false;
    }
    pieces_.clear();
    for (size_t at = 0;;) {
      size_t hit = body.find(kTokenPlaceholder, at);
      pieces_.push_back(body.substr(at, hit == std::string::npos ? std::string::npos : hit - at));
      if (hit == std::string::npos) break;
      at = hit + kTokenPlaceholder.size();
    }
    file_body_ = true;
    return true;
  }

  // Every header line is short; the block ends with the empty line before the body (a prepared
  // body brings its own MIME headers and that empty line).
  std::string Headers(int64_t seq) const {
    return absl::StrCat("From: <", from_, ">\r\nTo: <", to_, ">\r\nSubject: kensa-bench ", seq,
                        "\r\nDate: ", date_, "\r\nMessage-ID: <", seq, ".", run_id_,
                        "@kensa-bench.invalid>\r\n",
                        file_body_ ? "" :
                        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n");
  }

  // The body of message `seq` as segments to send in order; the tokens between the shared
  // pieces are written into `*tokens`, which must outlive the segments.
  void Body(int64_t seq, std::string* tokens, std::vector<std::string_view>* out) const {
    tokens->clear();
    for (size_t i = 0; i + 1 < pieces_.size(); ++i) tokens->append(Token(seq, i));
    for (size_t i = 0; i < pieces_.size(); ++i) {
      out->push_back(pieces_[i]);
      if (i + 1 < pieces_.size())
        out->push_back(std::string_view(*tokens).substr(i * kTokenPlaceholder.size(),
                                                        kTokenPlaceholder.size()));
    }
  }
  size_t body_size() const {
    size_t n = (pieces_.size() - 1) * kTokenPlaceholder.size();
    for (const std::string& p : pieces_) n += p.size();
    return n;
  }
  size_t tokens_per_message() const { return pieces_.size() - 1; }

 private:
  void Init() {
    run_id_ = absl::StrCat(getpid(), ".", time(nullptr));
    char date[64];
    time_t now = time(nullptr);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    date_ = date;
    // The run's nonce keeps tokens unique across runs too: a scanner that lives through several
    // runs (clamd does) must not find last run's attachment in its cache.
    std::random_device rd;
    nonce_ = (uint64_t{rd()} << 32) ^ rd() ^ static_cast<uint64_t>(now);
  }

  // 18 bytes (nonce, message, placeholder index) as 24 base64 characters.
  std::string Token(int64_t seq, size_t index) const {
    char raw[18];
    uint64_t s = static_cast<uint64_t>(seq);
    uint16_t i = static_cast<uint16_t>(index);
    memcpy(raw, &nonce_, 8);
    memcpy(raw + 8, &s, 8);
    memcpy(raw + 16, &i, 2);
    return absl::Base64Escape(absl::string_view(raw, sizeof raw));
  }

  static void BuildBody(size_t n, std::string* body) {
    static constexpr size_t kLine = 78;  // 76 characters + CRLF, well under RFC 5322's 998
    static constexpr std::string_view kAlphabet =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    if (n < 2) n = 2;  // an empty body still needs its line to end in CRLF
    body->reserve(n);
    size_t line_no = 0;
    while (body->size() < n) {
      size_t left = n - body->size();
      // The last line takes what is left; a single leftover byte joins the line before.
      size_t len = left >= kLine + 2 ? kLine : left;
      if (left == kLine + 1) len = kLine + 1;
      for (size_t i = 0; i + 2 < len; ++i) *body += kAlphabet[(line_no + i) % kAlphabet.size()];
      *body += "\r\n";
      ++line_no;
    }
  }

  std::string from_, to_, run_id_, date_;
  uint64_t nonce_ = 0;
  bool file_body_ = false;
  std::vector<std::string> pieces_;  // the body, split at the placeholders
};

}  // namespace kensa::bench

#endif  // KENSA_BENCH_BENCH_MESSAGE_H_
