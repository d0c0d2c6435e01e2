// SPDX-License-Identifier: GPL-2.0-or-later
#include "scan/mime_readings.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "scan/mime_header.h"
#include "scan/mime_params.h"

namespace kensa::scan {
namespace {

bool IsMessageType(std::string_view t) {
  return t == "message/rfc822" || t == "message/global" || t == "message/news";
}

// message/external-body, message/partial, ...: Python's email parses every message/* but
// delivery-status (header blocks, no body) as a message.
bool IsOtherEmbeddedMessage(std::string_view t) {
  return t.rfind("message/", 0) == 0 && !IsMessageType(t) && t != "message/delivery-status";
}

bool SameReading(const BodyReading& a, const BodyReading& b) {
  return a.kind == b.kind && a.media_type == b.media_type && a.boundary == b.boundary &&
         a.encoding == b.encoding && a.charset == b.charset;
}

}  // namespace

PartHeaders ReadPartHeaders(std::string_view block, uint64_t base,
                            std::string_view default_media_type, const MimeLimits& limits) {
  PartHeaders out;
  std::vector<ContentType> types;
  std::vector<TransferEncoding> encodings;
  std::string disposition_name;
  ForEachHeaderField(block, base, [&](MimeHeader&& h) {
    ++out.field_count;
    if (HeaderNameIs(h.name, "content-type")) {
      types.push_back(ParseContentType(h.value));
    } else if (HeaderNameIs(h.name, "content-transfer-encoding")) {
      TransferEncoding e = ParseTransferEncoding(h.value);
      if (std::find(encodings.begin(), encodings.end(), e) == encodings.end()) {
        encodings.push_back(e);
      }
    } else if (HeaderNameIs(h.name, "content-disposition") && disposition_name.empty()) {
      disposition_name = DispositionFilename(h.value);
    }
    if (out.kept.size() < limits.max_headers_kept) out.kept.push_back(std::move(h));
  });
  if (types.empty()) {
    ContentType d;
    d.media_type = std::string(default_media_type);
    types.push_back(std::move(d));
  }
  if (encodings.empty()) encodings.push_back(TransferEncoding::kIdentity);
  out.filename = !disposition_name.empty() ? disposition_name : types[0].name;

  std::vector<BodyReading> all;
  auto add = [&](BodyReading r) {
    for (const BodyReading& seen : all) {
      if (SameReading(seen, r)) return;
    }
    all.push_back(std::move(r));
  };
  // Each Content-Type (each of its boundaries) with the first encoding, then the first
  // Content-Type with each further encoding: the decoded bytes depend on the encoding only,
  // so the full cross product would add nothing to scan.
  auto readings_of = [&](const ContentType& ct, TransferEncoding e) {
    BodyReading r;
    r.media_type = ct.media_type;
    r.charset = ct.charset;
    r.encoding = e;
    if (ct.media_type.rfind("multipart/", 0) == 0 && !ct.boundaries.empty()) {
      for (const std::string& b : ct.boundaries) {
        BodyReading m = r;
        m.kind = BodyReading::kMultipart;
        m.boundary = b;
        add(m);
      }
      if (e != TransferEncoding::kIdentity) add(r);
    } else if (IsMessageType(ct.media_type) && e == TransferEncoding::kIdentity) {
      r.kind = BodyReading::kMessage;
      add(r);
    } else if (IsOtherEmbeddedMessage(ct.media_type) && e == TransferEncoding::kIdentity) {
      add(r);  // most clients show it as an attachment ...
      r.kind = BodyReading::kMessage;
      add(r);  // ... Python's email parses it as a message
    } else {
      add(r);
    }
  };
  for (const ContentType& ct : types) readings_of(ct, encodings[0]);
  for (size_t i = 1; i < encodings.size(); ++i) readings_of(types[0], encodings[i]);
  if (all.size() > limits.max_readings) {
    all.resize(std::max<size_t>(limits.max_readings, 1));
    out.readings_capped = true;
  }
  out.readings = std::move(all);
  return out;
}

}  // namespace kensa::scan
