// SPDX-License-Identifier: GPL-2.0-or-later
#include "net/openssl_errors.h"

#include <openssl/err.h>

namespace kensa::net {

std::string DrainOpenSslErrors() {
  std::string out;
  unsigned long e;
  while ((e = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

std::string DescribeOpenSslFailure() {
  std::string out = DrainOpenSslErrors();
  return out.empty() ? std::string("unknown OpenSSL error") : out;
}

}  // namespace kensa::net
