// SPDX-License-Identifier: GPL-2.0-or-later
// Classic uuencode, found and decoded the way mail clients and uudecode do it.
//
// UuencodeExtractor: "begin <mode> <name>" opens a file; its encoded lines follow; "end", a
// line that cannot be uuencode, an overlong line or the end of the stream closes it. A stream
// may hold several files. A blank line inside a file is a zero-length line whose space a
// transport stripped.
//
// The x-uuencode stream decoder (a body whose Content-Transfer-Encoding says uuencode) yields
// the contents of the body's begin..end blocks, one after another. Until the first begin line,
// complete uuencode lines are decoded directly: some senders label a bare encoded body
// x-uuencode. After a begin line, text outside the blocks is ignored.
#include "scan/uuencode_extractor.h"

#include <cctype>

namespace kensa::scan::uuencode {
namespace {

bool IsUuChar(char c) { return c >= 0x20 && c <= 0x60; }
unsigned UuValue(char c) { return (static_cast<unsigned char>(c) - 0x20) & 0x3f; }

std::string_view TrimTrailingBlanks(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

size_t SkipSpaces(std::string_view s, size_t i) {
  while (i < s.size() && s[i] == ' ') ++i;
  return i;
}

}  // namespace

std::optional<std::string_view> ParseBeginLine(std::string_view line) {
  constexpr std::string_view kBegin = "begin ";
  if (!line.starts_with(kBegin)) return std::nullopt;
  size_t i = SkipSpaces(line, kBegin.size());
  const size_t mode_start = i;
  while (i < line.size() && line[i] >= '0' && line[i] <= '7') ++i;
  if (const size_t digits = i - mode_start; digits < 3 || digits > 4) return std::nullopt;
  if (i >= line.size() || line[i] != ' ') return std::nullopt;
  const std::string_view name = TrimTrailingBlanks(line.substr(SkipSpaces(line, i)));
  if (name.empty()) return std::nullopt;
  return name;
}

bool IsEndLine(std::string_view line) { return TrimTrailingBlanks(line) == "end"; }

bool DecodeLine(std::string_view line, bool complete_only, std::string* out) {
  if (line.empty()) return true;  // A " " length line with its space stripped: no data.
  if (!IsUuChar(line[0])) return false;
  const size_t n = UuValue(line[0]);
  const size_t needed = (n + 2) / 3 * 4;
  std::string_view body = line.substr(1);
  if (body.size() > needed) body = body.substr(0, needed);  // Checksums, junk: ignored.
  if (complete_only && body.size() < needed) return false;
  for (char c : body) {
    if (!IsUuChar(c)) return false;
  }
  char quad[4];
  size_t produced = 0;
  for (size_t i = 0; i < needed && produced < n; i += 4) {
    for (size_t k = 0; k < 4; ++k) quad[k] = i + k < body.size() ? body[i + k] : '`';
    const uint32_t v = (UuValue(quad[0]) << 18) | (UuValue(quad[1]) << 12) | (UuValue(quad[2]) << 6) |
                       UuValue(quad[3]);
    const char bytes[3] = {static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
    const size_t take = std::min<size_t>(3, n - produced);
    out->append(bytes, take);
    produced += take;
  }
  return true;
}

namespace {

class Decoder final : public StreamDecoder {
 public:
  explicit Decoder(const Limits& limits) : lines_(limits.max_line_bytes) {}

  void Feed(std::string_view in, std::string* out) override {
    lines_.Feed(in, [&](std::string_view line, bool overlong) { OnLine(line, overlong, out); });
  }

  void Finish(std::string* out) override {
    lines_.Finish([&](std::string_view line, bool overlong) { OnLine(line, overlong, out); });
    in_file_ = false;
  }

 private:
  void OnLine(std::string_view line, bool overlong, std::string* out) {
    if (overlong) {
      in_file_ = false;
      return;
    }
    if (in_file_) {
      if (IsEndLine(line)) {
        in_file_ = false;
      } else if (!DecodeLine(line, /*complete_only=*/false, out)) {
        in_file_ = false;
        OpenIfBegin(line);
      }
      return;
    }
    if (OpenIfBegin(line)) return;
    if (!seen_begin_) DecodeLine(line, /*complete_only=*/true, out);
  }

  bool OpenIfBegin(std::string_view line) {
    if (!ParseBeginLine(line)) return false;
    in_file_ = seen_begin_ = true;
    return true;
  }

  LineSplitter lines_;
  bool in_file_ = false;
  bool seen_begin_ = false;
};

}  // namespace

std::unique_ptr<StreamDecoder> NewDecoder(const Limits& limits) { return std::make_unique<Decoder>(limits); }

}  // namespace kensa::scan::uuencode

namespace kensa::scan {

struct UuencodeExtractor::State {
  State(Sink* s, size_t max_line_bytes) : sink(s), lines(max_line_bytes) {}

  void OnLine(std::string_view line, bool overlong) {
    if (overlong) {
      Close();
      return;
    }
    if (in_file) {
      if (uuencode::IsEndLine(line)) {
        Close();
        return;
      }
      decoded.clear();
      if (uuencode::DecodeLine(line, /*complete_only=*/false, &decoded)) {
        if (!decoded.empty()) sink->OnFileData(decoded);
        return;
      }
      Close();  // Not uuencode: the file ended without "end"; the line may open the next.
    }
    if (const auto name = uuencode::ParseBeginLine(line)) {
      sink->OnFileBegin(*name);
      in_file = true;
    }
  }

  void Close() {
    if (!in_file) return;
    sink->OnFileEnd();
    in_file = false;
  }

  Sink* const sink;
  uuencode::LineSplitter lines;
  bool in_file = false;
  std::string decoded;  // One line's bytes: at most 45 (63 with a junk length character).
};

UuencodeExtractor::UuencodeExtractor(Sink* sink, size_t max_line_bytes)
    : state_(std::make_unique<State>(sink, max_line_bytes)) {}

UuencodeExtractor::~UuencodeExtractor() = default;

void UuencodeExtractor::Feed(std::string_view text) {
  state_->lines.Feed(text, [this](std::string_view line, bool overlong) { state_->OnLine(line, overlong); });
}

void UuencodeExtractor::Finish() {
  state_->lines.Finish([this](std::string_view line, bool overlong) { state_->OnLine(line, overlong); });
  state_->Close();
}

}  // namespace kensa::scan
