// SPDX-License-Identifier: GPL-2.0-or-later
// The PROXY protocol header parser reads the first bytes of every connection on a listener
// behind a load balancer (only from trusted addresses, but a balancer forwards what clients
// send after the header). Whatever arrives, and however it is cut into reads, the parser
// must not crash, read past its input, take more than its limit, or change its mind: every
// prefix of an input that parses says "need more" or the same final answer.
//
// Input layout: byte 0 picks the limit (232 + byte * 4: the least a receiver must take up to
// ~1.2 KB); the rest is the connection's first bytes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "net/proxy_protocol.h"
#include "tests/fuzz/fuzz_check.h"

using kensa::net::ParseProxyHeader;
using kensa::net::ProxyParse;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const size_t limit = 232 + static_cast<size_t>(data[0]) * 4;
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  const ProxyParse whole = ParseProxyHeader(input, limit);
  if (whole.state == ProxyParse::State::kDone) {
    Check(whole.header.length > 0 && whole.header.length <= input.size());
    Check(whole.header.length <= limit);
    Check(whole.header.version == 1 || whole.header.version == 2);
    if (whole.header.version == 1) Check(whole.header.length <= kensa::net::kProxyV1MaxBytes);
    if (!whole.header.local) {
      Check(whole.header.source.length > 0 && whole.header.destination.length > 0);
      Check(whole.header.source.family() == whole.header.destination.family());
    }
    // What follows the header is the client's: more of it changes nothing.
    const ProxyParse exact = ParseProxyHeader(input.substr(0, whole.header.length), limit);
    Check(exact.state == ProxyParse::State::kDone);
    Check(exact.header.length == whole.header.length);
  }
  if (whole.state == ProxyParse::State::kError) Check(!whole.error.empty());
  if (whole.state == ProxyParse::State::kNeedMore) Check(input.size() < limit);
  // The answer never depends on how the bytes were cut into reads.
  for (size_t n = 0; n < input.size(); ++n) {
    const ProxyParse part = ParseProxyHeader(input.substr(0, n), limit);
    if (part.state == ProxyParse::State::kNeedMore) continue;
    Check(part.state == whole.state);
    if (part.state == ProxyParse::State::kDone) Check(part.header.length == whole.header.length);
    break;
  }
  return 0;
}
