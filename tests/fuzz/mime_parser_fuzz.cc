// SPDX-License-Identifier: GPL-2.0-or-later
// The MIME parser reads attacker-written messages: whatever they are, it must not crash, must
// report well-formed events, and must report the same thing however the bytes are split. The
// prediction of libclamav's reading (scan/mail_reading_prediction.h) then reads the same
// message and the parser's parts, and must not crash either.
//
// Input layout: byte 0 picks the limits (default, or small ones that the input can reach);
// bytes 1-2 seed the random split; the rest is the message.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "scan/mail_reading_prediction.h"
#include "scan/mime_parser.h"
#include "scan/mime_test_sink.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using kensa::scan::FeedInPieces;
using kensa::scan::FeedRandomly;
using kensa::scan::MimeLimits;
using kensa::scan::MimeParser;
using kensa::scan::MimePart;
using kensa::scan::RecordedLeaf;
using kensa::scan::RecordingSink;
using kensa::scan::TransferEncoding;

// Checks each event against what the parser has been fed so far.
class CheckingSink : public RecordingSink {
 public:
  void OnLeafBegin(const MimePart& part) override {
    Check(part.header_begin <= part.header_end);
    Check(part.header_end <= part.body_begin);
    Check(part.body_begin <= parser->bytes_fed());
    if (!part.alternate_view) {
      Check(part.body_begin >= last_primary_begin);
      last_primary_begin = part.body_begin;
    }
    RecordingSink::OnLeafBegin(part);
  }
  void OnLeafEnd(const MimePart& part) override {
    Check(part.body_begin <= part.body_end);
    Check(part.body_end <= parser->bytes_fed());
    for (const auto& h : part.headers) Check(part.header_begin <= h.begin && h.end <= part.header_end);
    RecordingSink::OnLeafEnd(part);
  }
  void OnContainerBegin(const MimePart& part) override { containers.push_back(part); }
  MimeParser* parser = nullptr;
  uint64_t last_primary_begin = 0;
  std::vector<MimePart> containers;
};

// A line form comes from a leaf that exists and is identity-encoded, and is never longer than
// its body plus the line break a delimiter adds.
void CheckPrediction(const CheckingSink& s, std::string_view raw) {
  std::vector<MimePart> leaves;
  for (const RecordedLeaf& l : s.leaves) leaves.push_back(l.end);
  const kensa::scan::MailReadingPrediction p =
      kensa::scan::PredictMailReading(raw, leaves, s.containers);
  Check(p.plain == p.why_not.empty());
  for (const auto& form : p.line_forms) {
    Check(form.leaf < leaves.size());
    const MimePart& leaf = leaves[form.leaf];
    Check(leaf.encoding == TransferEncoding::kIdentity);
    Check(form.bytes.size() <= leaf.body_end - leaf.body_begin + 1);
  }
}

MimeLimits LimitsFor(uint8_t selector) {
  MimeLimits l;
  if (selector & 1) {
    l.max_depth = 3;
    l.max_parts = 12;
    l.max_header_bytes = 200;
    l.max_headers_kept = 4;
    l.max_readings = 3;
    l.max_alternate_parsers = 2;
    l.max_delimiter_padding = 6;
    l.max_held_whitespace = 8;
  }
  return l;
}

void CheckRecording(const CheckingSink& s, std::string_view raw) {
  Check(s.problems.empty());
  for (const RecordedLeaf& l : s.leaves) {
    Check(l.begins == 1 && l.ends == 1);
    const MimePart& e = l.end;
    Check(e.body_end <= raw.size());
    // An identity leaf's bytes are exactly its raw body.
    if (e.encoding == TransferEncoding::kIdentity) {
      Check(l.data == raw.substr(e.body_begin, e.body_end - e.body_begin));
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  MimeLimits limits = LimitsFor(data[0]);
  uint32_t seed = data[1] | static_cast<uint32_t>(data[2]) << 8;
  std::string_view raw(reinterpret_cast<const char*>(data) + 3, size - 3);

  CheckingSink whole;
  MimeParser a(limits, &whole);
  whole.parser = &a;
  a.Feed(raw);
  a.Finish();
  Check(a.bytes_fed() == raw.size());
  CheckRecording(whole, raw);
  CheckPrediction(whole, raw);

  CheckingSink pieces;
  MimeParser b(limits, &pieces);
  pieces.parser = &b;
  FeedRandomly(b, raw, seed, 1 + seed % 97);
  CheckRecording(pieces, raw);
  Check(pieces.Digest(false) == whole.Digest(false));

  if (raw.size() <= 4096) {
    CheckingSink bytes;
    MimeParser c(limits, &bytes);
    bytes.parser = &c;
    FeedInPieces(c, raw, {1});
    Check(bytes.Digest(false) == whole.Digest(false));
  }
  return 0;
}
