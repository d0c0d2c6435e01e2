// SPDX-License-Identifier: GPL-2.0-or-later
// TEMPORARY: EncodeBase64 only, so that scan/rewrite builds and tests before the real
// transfer_encoding.cc lands; the lead drops this file when merging that one.
#include <openssl/evp.h>

#include <string>
#include <string_view>

#include "scan/transfer_encoding.h"

namespace kensa::scan {

std::string EncodeBase64(std::string_view in, size_t line_length, std::string_view eol) {
  std::string flat(4 * ((in.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(flat.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  flat.resize(static_cast<size_t>(n));
  if (line_length == 0) line_length = flat.size() + 1;
  std::string out;
  for (size_t at = 0; at < flat.size(); at += line_length) {
    out.append(flat, at, line_length);
    out.append(eol);
  }
  return out;
}

}  // namespace kensa::scan
