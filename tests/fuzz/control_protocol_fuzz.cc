// SPDX-License-Identifier: GPL-2.0-or-later
// The control socket's frame reader reads whatever a local client sends (kensad) or kensad
// answers (kensa-shell): it must not crash, hold more than a line beyond its limits, or hand
// out a frame that breaks its contract; and what it reads must encode back to a frame it
// reads the same way.
//
// Input layout: byte 0 picks the total limit (bit 0: a small one, so the fuzzer reaches it);
// the rest is the byte stream cut into Append() calls at each 0x1f byte.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "control/control_protocol.h"
#include "tests/fuzz/fuzz_check.h"

using kensa::control::EncodeFrame;
using kensa::control::Frame;
using kensa::control::FrameReader;
using kensa::control::kMaxLineBytes;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t limit = (data[0] & 1) != 0 ? 64 : kensa::control::kMaxRequestBytes;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  FrameReader reader(limit);
  FrameReader::Result last = FrameReader::Result::kNeedMore;
  while (true) {
    const size_t cut = in.find('\x1f');
    reader.Append(in.substr(0, cut));
    FrameReader::Result r = reader.Next();
    if (last == FrameReader::Result::kError) Check(r == FrameReader::Result::kError);
    if (r == FrameReader::Result::kError) Check(!reader.error().empty() && reader.buffered() == 0);
    if (r == FrameReader::Result::kNeedMore) Check(reader.buffered() <= kMaxLineBytes + 2 + limit);
    if (r == FrameReader::Result::kDone) {
      const Frame& f = reader.frame();
      Check(f.head.find('\n') == std::string::npos);
      for (const std::string& line : f.body) {
        Check(line.find('\n') == std::string::npos && line.size() <= kMaxLineBytes);
      }
      // Round trip: the encoding of what was read reads back the same.
      FrameReader again(limit + 64 + f.body.size());
      again.Append(EncodeFrame(f.head, f.body));
      if (f.head.find('\r') == std::string::npos) {
        bool trailing_cr = false;
        for (const std::string& line : f.body) trailing_cr |= !line.empty() && line.back() == '\r';
        if (!trailing_cr && again.Next() == FrameReader::Result::kDone) {
          Check(again.frame().head == f.head && again.frame().body == f.body);
        }
      }
    }
    if (r != FrameReader::Result::kNeedMore) last = r;
    if (cut == std::string_view::npos) break;
    in.remove_prefix(cut + 1);
  }
  return 0;
}
