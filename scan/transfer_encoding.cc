// SPDX-License-Identifier: GPL-2.0-or-later
// Content-Transfer-Encoding values and the choice of stream decoder.
#include "scan/transfer_encoding.h"

#include <algorithm>
#include <string>

#include "scan/base64_decoder.h"
#include "scan/quoted_printable_decoder.h"
#include "scan/uuencode_extractor.h"

namespace kensa::scan {
namespace {

// The header value without (comments, nested, with \-quoting) and without double quotes.
std::string StripCommentsAndQuotes(std::string_view v) {
  std::string out;
  int depth = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    const char c = v[i];
    if (c == '\\' && depth > 0) {
      ++i;  // A quoted character inside a comment.
    } else if (c == '(') {
      ++depth;
    } else if (c == ')' && depth > 0) {
      --depth;
    } else if (depth == 0 && c != '"') {
      out.push_back(c);
    }
  }
  return out;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

class IdentityDecoder final : public StreamDecoder {
 public:
  void Feed(std::string_view in, std::string* out) override { out->append(in); }
  void Finish(std::string*) override {}
};

}  // namespace

// The mechanism is the first token: "base64; foo" or "base64 junk" still decode as base64,
// as libclamav's own MIME code and mail clients read them.
TransferEncoding ParseTransferEncoding(std::string_view header_value) {
  const std::string bare = StripCommentsAndQuotes(header_value);
  constexpr std::string_view kSeparators = " \t\r\n;";
  std::string_view token = bare;
  token.remove_prefix(std::min(token.size(), token.find_first_not_of(kSeparators)));
  token = token.substr(0, token.find_first_of(kSeparators));
  if (EqualsIgnoreCase(token, "base64")) return TransferEncoding::kBase64;
  if (EqualsIgnoreCase(token, "quoted-printable")) return TransferEncoding::kQuotedPrintable;
  for (std::string_view uu : {"x-uuencode", "x-uue", "uuencode", "uue"}) {
    if (EqualsIgnoreCase(token, uu)) return TransferEncoding::kUuencode;
  }
  return TransferEncoding::kIdentity;
}

std::string_view TransferEncodingName(TransferEncoding e) {
  switch (e) {
    case TransferEncoding::kIdentity:
      return "identity";
    case TransferEncoding::kBase64:
      return "base64";
    case TransferEncoding::kQuotedPrintable:
      return "quoted-printable";
    case TransferEncoding::kUuencode:
      return "x-uuencode";
  }
  return "identity";
}

std::unique_ptr<StreamDecoder> NewStreamDecoder(TransferEncoding e) {
  switch (e) {
    case TransferEncoding::kBase64:
      return base64::NewDecoder(base64::BestKernels());
    case TransferEncoding::kQuotedPrintable:
      return quoted_printable::NewDecoder();
    case TransferEncoding::kUuencode:
      return uuencode::NewDecoder();
    case TransferEncoding::kIdentity:
      break;
  }
  return std::make_unique<IdentityDecoder>();
}

std::string DecodeQuotedPrintable(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  auto d = quoted_printable::NewDecoder();
  d->Feed(in, &out);
  d->Finish(&out);
  return out;
}

}  // namespace kensa::scan
