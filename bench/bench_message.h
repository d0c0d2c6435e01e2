// SPDX-License-Identifier: GPL-2.0-or-later
// The test message of kensa-bench: a few headers made per message (so every Message-ID is
// unique and a relay's duplicate detection, if any, never short-cuts the work) in front of one
// body shared by every message, so building a 100 KB message costs no copy.
#ifndef KENSA_BENCH_BENCH_MESSAGE_H_
#define KENSA_BENCH_BENCH_MESSAGE_H_

#include <unistd.h>

#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"

namespace kensa::bench {

class MessageFactory {
 public:
  // `body_bytes` is the exact size of the body (what smtp-source -l means too), CRLF lines of
  // 78 bytes; no line starts with '.', so DATA needs no dot-stuffing and BDAT sends the same.
  MessageFactory(std::string from, std::string to, size_t body_bytes)
      : from_(std::move(from)), to_(std::move(to)) {
    run_id_ = absl::StrCat(getpid(), ".", time(nullptr));
    char date[64];
    time_t now = time(nullptr);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    date_ = date;
    BuildBody(body_bytes);
  }

  // Every header line is short; the block ends with the empty line before the body.
  std::string Headers(int64_t seq) const {
    return absl::StrCat("From: <", from_, ">\r\nTo: <", to_, ">\r\nSubject: kensa-bench ", seq,
                        "\r\nDate: ", date_, "\r\nMessage-ID: <", seq, ".", run_id_,
                        "@kensa-bench.invalid>\r\nMIME-Version: 1.0\r\n"
                        "Content-Type: text/plain; charset=us-ascii\r\n\r\n");
  }
  std::string_view body() const { return body_; }

 private:
  void BuildBody(size_t n) {
    static constexpr size_t kLine = 78;  // 76 characters + CRLF, well under RFC 5322's 998
    static constexpr std::string_view kAlphabet =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    if (n < 2) n = 2;  // an empty body still needs its line to end in CRLF
    body_.reserve(n);
    size_t line_no = 0;
    while (body_.size() < n) {
      size_t left = n - body_.size();
      // The last line takes what is left; a single leftover byte joins the line before.
      size_t len = left >= kLine + 2 ? kLine : left;
      if (left == kLine + 1) len = kLine + 1;
      for (size_t i = 0; i + 2 < len; ++i) body_ += kAlphabet[(line_no + i) % kAlphabet.size()];
      body_ += "\r\n";
      ++line_no;
    }
  }

  std::string from_, to_, run_id_, date_, body_;
};

}  // namespace kensa::bench

#endif  // KENSA_BENCH_BENCH_MESSAGE_H_
