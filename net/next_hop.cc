// SPDX-License-Identifier: GPL-2.0-or-later
#include "net/next_hop.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace kensa::net {
namespace {

absl::Status Bad(std::string_view uri, const std::string& why) {
  return absl::InvalidArgumentError(
      absl::StrCat("next hop \"", std::string(uri), "\": ", why,
                   " (use smtp://host:port, lmtp://host:port or maildir:/path)"));
}

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

}  // namespace

std::string NextHop::ToString() const {
  if (kind == Kind::kMaildir) return absl::StrCat("maildir:", path);
  const bool v6 = host.find(':') != std::string::npos;
  std::string out = absl::StrCat(kind == Kind::kLmtp ? "lmtp://" : "smtp://", v6 ? "[" : "",
                                 host, v6 ? "]" : "", ":", port);
  if (tls == TlsPolicy::kNone) out += "?tls=none";
  if (tls == TlsPolicy::kRequired) out += "?tls=required";
  return out;
}

absl::StatusOr<NextHop> ParseNextHop(std::string_view uri) {
  NextHop hop;
  if (StartsWith(uri, "maildir:")) {
    hop.kind = NextHop::Kind::kMaildir;
    hop.path = std::string(uri.substr(8));
    if (hop.path.empty()) return Bad(uri, "empty Maildir path");
    if (StartsWith(hop.path, "//")) hop.path = hop.path.substr(1);
    return hop;
  }
  std::string_view rest;
  if (StartsWith(uri, "smtp://")) {
    hop.kind = NextHop::Kind::kSmtp;
    hop.port = 25;
    rest = uri.substr(7);
  } else if (StartsWith(uri, "lmtp://")) {
    hop.kind = NextHop::Kind::kLmtp;
    hop.port = 24;
    rest = uri.substr(7);
  } else {
    return Bad(uri, "unknown scheme");
  }
  if (size_t q = rest.find('?'); q != std::string_view::npos) {
    std::string_view opt = rest.substr(q + 1);
    rest = rest.substr(0, q);
    if (opt == "tls=none") {
      hop.tls = TlsPolicy::kNone;
    } else if (opt == "tls=opportunistic") {
      hop.tls = TlsPolicy::kOpportunistic;
    } else if (opt == "tls=required") {
      hop.tls = TlsPolicy::kRequired;
    } else {
      return Bad(uri, absl::StrCat("unknown option \"", std::string(opt), "\""));
    }
  }
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  std::string_view port_text;
  bool has_port = false;  // ":" after the host (a bracketed literal's own colons don't count)
  if (!rest.empty() && rest.front() == '[') {
    size_t close = rest.find(']');
    if (close == std::string_view::npos) return Bad(uri, "unterminated [");
    hop.host = std::string(rest.substr(1, close - 1));
    // Brackets hold an IPv6 literal and nothing else ("[mx]" would not round-trip).
    if (hop.host.find(':') == std::string::npos ||
        hop.host.find_first_not_of("0123456789abcdefABCDEF:.") != std::string::npos) {
      return Bad(uri, "brackets must hold an IPv6 address");
    }
    std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return Bad(uri, "junk after ]");
      port_text = after.substr(1);
      has_port = true;
    }
  } else {
    size_t colon = rest.rfind(':');
    if (colon != std::string_view::npos) {
      if (rest.find(':') != colon) return Bad(uri, "IPv6 literals need brackets");
      hop.host = std::string(rest.substr(0, colon));
      port_text = rest.substr(colon + 1);
      has_port = true;
    } else {
      hop.host = std::string(rest);
    }
  }
  if (hop.host.empty()) return Bad(uri, "no host");
  for (char c : hop.host) {
    if (c <= ' ' || c == '/' || c == '@' || c == 0x7f) return Bad(uri, "bad host");
  }
  if (has_port) {
    uint32_t port = 0;
    bool digits = !port_text.empty() && port_text.size() <= 5;
    for (char c : port_text) digits = digits && c >= '0' && c <= '9';  // SimpleAtoi allows "+25"
    if (!digits || !absl::SimpleAtoi(std::string(port_text), &port) || port == 0 || port > 65535) {
      return Bad(uri, "bad port");
    }
    hop.port = static_cast<uint16_t>(port);
  }
  return hop;
}

}  // namespace kensa::net
