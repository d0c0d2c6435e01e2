// SPDX-License-Identifier: GPL-2.0-or-later
// The SMTP reply parser reads what remote MTAs send to the delivery client: whatever it is,
// the parser must not crash, buffer beyond its line limit, or hand out a reply that breaks
// its own contract (a 2xx-5xx code, bounded lines, text that is one line).
//
// Input layout: byte 0 picks the limits (bit 0: small ones, so the fuzzer reaches them); the
// rest is server output cut into Append() calls at each 0x1f byte. A 'D' right after a cut
// is a Discard() (what the client does after "220" to STARTTLS).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string_view>

#include "net/smtp_reply_parser.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using kensa::net::ServerReply;
using kensa::net::SmtpReplyParser;

struct Limits {
  size_t line_bytes, lines;
};

void Drain(SmtpReplyParser& p, const Limits& limits, bool* failed) {
  while (true) {
    ServerReply r;
    SmtpReplyParser::Result res = p.Next(&r);
    if (res == SmtpReplyParser::Result::kNeedMore) {
      Check(!*failed);
      // A server that never ends its line cannot make the client buffer more than one.
      Check(p.buffered() <= limits.line_bytes + 2);
      return;
    }
    if (res == SmtpReplyParser::Result::kError) {
      Check(!p.error().empty());
      *failed = true;
      return;
    }
    Check(!*failed);  // an error is sticky
    Check(r.code >= 200 && r.code <= 599);
    Check(!r.lines.empty() && r.lines.size() <= limits.lines);
    for (const std::string& line : r.lines) {
      Check(line.size() <= limits.line_bytes);
      Check(line.find('\n') == std::string::npos);
    }
    Check(r.text.find('\n') == std::string::npos);
    Check(r.enhanced.empty() || (r.enhanced.size() >= 5 && r.enhanced[0] == '0' + r.code / 100));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const Limits limits = (data[0] & 1) != 0 ? Limits{16, 3} : Limits{4096, 100};
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  SmtpReplyParser parser(limits.line_bytes, limits.lines);
  bool failed = false;
  while (true) {
    const size_t cut = in.find('\x1f');
    parser.Append(in.substr(0, cut));
    Drain(parser, limits, &failed);
    if (cut == std::string_view::npos) break;
    in.remove_prefix(cut + 1);
    if (!in.empty() && in[0] == 'D') {
      parser.Discard();
      Check(failed || parser.buffered() == 0);
      in.remove_prefix(1);
    }
  }
  return 0;
}
