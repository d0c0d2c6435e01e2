// SPDX-License-Identifier: GPL-2.0-or-later
// TEMPORARY stand-in for scan/transfer_encoding.cc so that the MIME parser builds and is tested
// in its own branch; the real decoders land from another branch and this file is dropped at the
// merge. Simple, tolerant streaming decoders for base64, quoted-printable and x-uuencode.
#include <cctype>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "scan/transfer_encoding.h"

namespace kensa::scan {
namespace {

std::string LowerTrimmedWithoutComments(std::string_view v) {
  std::string out;
  int comment = 0;
  for (char c : v) {
    if (c == '(') { ++comment; continue; }
    if (c == ')' && comment > 0) { --comment; continue; }
    if (comment > 0 || std::isspace(static_cast<unsigned char>(c))) continue;
    out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return out;
}

int Base64Value(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

class IdentityDecoder : public StreamDecoder {
 public:
  void Feed(std::string_view in, std::string* out) override { out->append(in); }
  void Finish(std::string*) override {}
};

class Base64Decoder : public StreamDecoder {
 public:
  void Feed(std::string_view in, std::string* out) override {
    for (unsigned char c : in) {
      if (c == '=') { Flush(out); continue; }
      int v = Base64Value(c);
      if (v < 0) continue;
      acc_ = (acc_ << 6) | static_cast<uint32_t>(v);
      if (++n_ == 4) {
        out->push_back(static_cast<char>(acc_ >> 16));
        out->push_back(static_cast<char>(acc_ >> 8));
        out->push_back(static_cast<char>(acc_));
        acc_ = 0;
        n_ = 0;
      }
    }
  }
  void Finish(std::string* out) override { Flush(out); }

 private:
  void Flush(std::string* out) {
    if (n_ == 2) out->push_back(static_cast<char>(acc_ >> 4));
    if (n_ == 3) {
      out->push_back(static_cast<char>(acc_ >> 10));
      out->push_back(static_cast<char>(acc_ >> 2));
    }
    acc_ = 0;
    n_ = 0;
  }
  uint32_t acc_ = 0;
  int n_ = 0;
};

int HexValue(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

class QuotedPrintableDecoder : public StreamDecoder {
 public:
  void Feed(std::string_view in, std::string* out) override {
    for (char c : in) Step(c, out);
  }
  void Finish(std::string* out) override {
    out->append(held_);
    held_.clear();
  }

 private:
  void Step(char c, std::string* out) {
    if (held_.empty()) {
      if (c == '=') held_.push_back(c); else out->push_back(c);
      return;
    }
    if (held_.size() == 1) {
      if (c == '\n') { held_.clear(); return; }  // soft line break
      if (c == '\r' || HexValue(c) >= 0) { held_.push_back(c); return; }
      out->append(held_);
      held_.clear();
      Step(c, out);
      return;
    }
    if (held_[1] == '\r') {
      held_.clear();
      if (c != '\n') Step(c, out);
      return;
    }
    int hi = HexValue(held_[1]), lo = HexValue(c);
    if (lo >= 0) {
      out->push_back(static_cast<char>(hi * 16 + lo));
      held_.clear();
      return;
    }
    out->append(held_);
    held_.clear();
    Step(c, out);
  }
  std::string held_;
};

// Decodes the lines of a uuencoded body ("begin" ... "end"), a line at a time.
size_t UuDecodeLine(std::string_view line, std::string* out) {
  if (line.empty()) return 0;
  size_t n = static_cast<size_t>((line[0] - ' ') & 0x3f);
  size_t before = out->size();
  size_t i = 1;
  while (out->size() - before < n) {
    unsigned char q[4];
    for (int k = 0; k < 4; ++k, ++i) q[k] = i < line.size() ? ((line[i] - ' ') & 0x3f) : 0;
    unsigned char b[3] = {static_cast<unsigned char>(q[0] << 2 | q[1] >> 4),
                          static_cast<unsigned char>(q[1] << 4 | q[2] >> 2),
                          static_cast<unsigned char>(q[2] << 6 | q[3])};
    for (int k = 0; k < 3 && out->size() - before < n; ++k) out->push_back(static_cast<char>(b[k]));
  }
  return n;
}

class UuencodeDecoder : public StreamDecoder {
 public:
  void Feed(std::string_view in, std::string* out) override {
    for (char c : in) {
      if (c == '\n') { Line(out); continue; }
      if (line_.size() < 4096) line_.push_back(c);
    }
  }
  void Finish(std::string* out) override {
    if (!line_.empty()) Line(out);
  }

 private:
  void Line(std::string* out) {
    std::string_view l = line_;
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    if (!in_file_) {
      if (l.substr(0, 6) == "begin ") in_file_ = true;
    } else if (l == "end") {
      in_file_ = false;
    } else {
      UuDecodeLine(l, out);
    }
    line_.clear();
  }
  bool in_file_ = false;
  std::string line_;
};

}  // namespace

TransferEncoding ParseTransferEncoding(std::string_view header_value) {
  std::string v = LowerTrimmedWithoutComments(header_value);
  if (v == "base64") return TransferEncoding::kBase64;
  if (v == "quoted-printable") return TransferEncoding::kQuotedPrintable;
  if (v == "x-uuencode" || v == "x-uue" || v == "uuencode" || v == "uue") {
    return TransferEncoding::kUuencode;
  }
  return TransferEncoding::kIdentity;
}

std::string_view TransferEncodingName(TransferEncoding e) {
  switch (e) {
    case TransferEncoding::kIdentity: return "identity";
    case TransferEncoding::kBase64: return "base64";
    case TransferEncoding::kQuotedPrintable: return "quoted-printable";
    case TransferEncoding::kUuencode: return "x-uuencode";
  }
  return "identity";
}

std::unique_ptr<StreamDecoder> NewStreamDecoder(TransferEncoding e) {
  switch (e) {
    case TransferEncoding::kBase64: return std::make_unique<Base64Decoder>();
    case TransferEncoding::kQuotedPrintable: return std::make_unique<QuotedPrintableDecoder>();
    case TransferEncoding::kUuencode: return std::make_unique<UuencodeDecoder>();
    case TransferEncoding::kIdentity: break;
  }
  return std::make_unique<IdentityDecoder>();
}

std::string DecodeBase64(std::string_view in) {
  std::string out;
  Base64Decoder d;
  d.Feed(in, &out);
  d.Finish(&out);
  return out;
}

std::string DecodeQuotedPrintable(std::string_view in) {
  std::string out;
  QuotedPrintableDecoder d;
  d.Feed(in, &out);
  d.Finish(&out);
  return out;
}

std::string EncodeBase64(std::string_view in, size_t line_length, std::string_view eol) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t col = 0;
  auto put = [&](char c) {
    out.push_back(c);
    if (line_length != 0 && ++col == line_length) {
      out.append(eol);
      col = 0;
    }
  };
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    uint32_t v = static_cast<unsigned char>(in[i]) << 16 |
                 static_cast<unsigned char>(in[i + 1]) << 8 | static_cast<unsigned char>(in[i + 2]);
    put(kAlphabet[v >> 18]);
    put(kAlphabet[(v >> 12) & 63]);
    put(kAlphabet[(v >> 6) & 63]);
    put(kAlphabet[v & 63]);
  }
  if (i < in.size()) {
    uint32_t v = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    put(kAlphabet[v >> 18]);
    put(kAlphabet[(v >> 12) & 63]);
    put(i + 1 < in.size() ? kAlphabet[(v >> 6) & 63] : '=');
    put('=');
  }
  if (col != 0) out.append(eol);
  return out;
}

struct UuencodeExtractor::State {
  Sink* sink;
  size_t max_line_bytes;
  std::string line;
  bool too_long = false;
  bool in_file = false;
};

UuencodeExtractor::UuencodeExtractor(Sink* sink, size_t max_line_bytes)
    : state_(std::make_unique<State>()) {
  state_->sink = sink;
  state_->max_line_bytes = max_line_bytes;
}

UuencodeExtractor::~UuencodeExtractor() = default;

namespace {
void UuLine(UuencodeExtractor::Sink* sink, bool* in_file, std::string_view l) {
  if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
  if (!*in_file) {
    if (l.substr(0, 6) == "begin ") {
      size_t sp = l.find(' ', 6);
      sink->OnFileBegin(sp == std::string_view::npos ? "" : l.substr(sp + 1));
      *in_file = true;
    }
    return;
  }
  if (l == "end") {
    sink->OnFileEnd();
    *in_file = false;
    return;
  }
  std::string out;
  UuDecodeLine(l, &out);
  if (!out.empty()) sink->OnFileData(out);
}
}  // namespace

void UuencodeExtractor::Feed(std::string_view text) {
  for (char c : text) {
    if (c == '\n') {
      if (!state_->too_long) UuLine(state_->sink, &state_->in_file, state_->line);
      state_->line.clear();
      state_->too_long = false;
      continue;
    }
    if (state_->line.size() >= state_->max_line_bytes) {
      state_->too_long = true;
      continue;
    }
    state_->line.push_back(c);
  }
}

void UuencodeExtractor::Finish() {
  if (!state_->line.empty() && !state_->too_long) {
    UuLine(state_->sink, &state_->in_file, state_->line);
  }
  state_->line.clear();
  if (state_->in_file) state_->sink->OnFileEnd();
  state_->in_file = false;
}

}  // namespace kensa::scan
