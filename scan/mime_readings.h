// SPDX-License-Identifier: GPL-2.0-or-later
// From a part's header block to the ways a client may read its body. One Content-Type and
// one Content-Transfer-Encoding give one reading; duplicates (or two boundary parameters)
// give one reading each, because different clients pick different ones and the scanner
// must see what each of them would show.
#ifndef KENSA_SCAN_MIME_READINGS_H_
#define KENSA_SCAN_MIME_READINGS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "scan/mime_parser.h"
#include "scan/transfer_encoding.h"

namespace kensa::scan {

struct BodyReading {
  enum Kind { kLeaf, kMultipart, kMessage };
  Kind kind = kLeaf;
  std::string media_type;
  std::string charset;
  std::string boundary;  // kMultipart only
  TransferEncoding encoding = TransferEncoding::kIdentity;
};

struct PartHeaders {
  std::vector<MimeHeader> kept;       // the first max_headers_kept fields
  size_t field_count = 0;
  std::vector<BodyReading> readings;  // never empty; readings[0] is the primary one
  bool readings_capped = false;       // more than max_readings distinct readings existed
  std::string filename;               // UTF-8
};

// `block` is the header block (field lines with their line endings), `base` its raw offset.
// `default_media_type` applies without a Content-Type (message/rfc822 in multipart/digest).
// A multipart reading with a non-identity encoding also yields a decoded leaf reading (the
// encoding is illegal there, so clients disagree on whether to apply it); message/rfc822
// with a non-identity encoding is a leaf reading (it cannot be parsed inline). Other message/*
// types (but delivery-status) are a leaf reading first and a message reading second.
PartHeaders ReadPartHeaders(std::string_view block, uint64_t base,
                            std::string_view default_media_type, const MimeLimits& limits);

}  // namespace kensa::scan

#endif  // KENSA_SCAN_MIME_READINGS_H_
