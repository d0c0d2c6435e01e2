// SPDX-License-Identifier: GPL-2.0-or-later
#include "net/sasl.h"

#include "absl/strings/escaping.h"

namespace kensa::net {
namespace {

bool IsBase64Char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         c == '+' || c == '/';
}

}  // namespace

std::optional<std::string> DecodeSaslBase64(std::string_view text) {
  // Abseil's decoder is lenient (it takes unpadded input); the strictness is checked here.
  if (text.size() % 4 != 0) return std::nullopt;
  size_t pad = 0;
  while (pad < 2 && pad < text.size() && text[text.size() - 1 - pad] == '=') ++pad;
  for (size_t i = 0; i + pad < text.size(); ++i) {
    if (!IsBase64Char(text[i])) return std::nullopt;
  }
  std::string out;
  if (!absl::Base64Unescape(absl::string_view(text.data(), text.size()), &out)) {
    return std::nullopt;
  }
  return out;
}

std::string EncodeSaslBase64(std::string_view bytes) {
  return absl::Base64Escape(absl::string_view(bytes.data(), bytes.size()));
}

std::optional<SaslPlain> ParseSaslPlain(std::string_view message) {
  const size_t first = message.find('\0');
  if (first == std::string_view::npos) return std::nullopt;
  const size_t second = message.find('\0', first + 1);
  if (second == std::string_view::npos) return std::nullopt;
  if (message.find('\0', second + 1) != std::string_view::npos) return std::nullopt;
  SaslPlain p;
  p.authzid = std::string(message.substr(0, first));
  p.user = std::string(message.substr(first + 1, second - first - 1));
  p.password = std::string(message.substr(second + 1));
  if (p.user.empty() || p.password.empty()) return std::nullopt;
  return p;
}

}  // namespace kensa::net
