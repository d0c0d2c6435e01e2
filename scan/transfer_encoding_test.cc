// SPDX-License-Identifier: GPL-2.0-or-later
#include "scan/transfer_encoding.h"

#include <gtest/gtest.h>

#include "scan/decoder_test_support.h"

namespace kensa::scan {
namespace {

TEST(ParseTransferEncoding, CaseCommentsQuotesAndAliases) {
  EXPECT_EQ(ParseTransferEncoding("base64"), TransferEncoding::kBase64);
  EXPECT_EQ(ParseTransferEncoding("  BASE64 \r\n"), TransferEncoding::kBase64);
  EXPECT_EQ(ParseTransferEncoding("(note) Base64 (more (nested) \\) )"), TransferEncoding::kBase64);
  EXPECT_EQ(ParseTransferEncoding("\"base64\""), TransferEncoding::kBase64);
  EXPECT_EQ(ParseTransferEncoding("base64; junk"), TransferEncoding::kBase64);
  EXPECT_EQ(ParseTransferEncoding("Quoted-Printable"), TransferEncoding::kQuotedPrintable);
  for (const char* uu : {"x-uuencode", "X-UUE", "uuencode", "uue"}) {
    EXPECT_EQ(ParseTransferEncoding(uu), TransferEncoding::kUuencode) << uu;
  }
  for (const char* id : {"7bit", "8bit", "binary", "", "x-unknown", "base6", "(base64)", "base64x"}) {
    EXPECT_EQ(ParseTransferEncoding(id), TransferEncoding::kIdentity) << id;
  }
}

TEST(TransferEncodingName, RoundTrips) {
  for (auto e : {TransferEncoding::kIdentity, TransferEncoding::kBase64, TransferEncoding::kQuotedPrintable,
                 TransferEncoding::kUuencode}) {
    if (e != TransferEncoding::kIdentity) {
      EXPECT_EQ(ParseTransferEncoding(TransferEncodingName(e)), e);
    }
  }
  EXPECT_EQ(TransferEncodingName(TransferEncoding::kQuotedPrintable), "quoted-printable");
}

TEST(NewStreamDecoder, IdentityPassesBytesThrough) {
  auto d = NewStreamDecoder(TransferEncoding::kIdentity);
  const std::string bytes("a\0b=\r\n", 6);
  EXPECT_EQ(testing::DecodeWhole(*d, bytes), bytes);
}

}  // namespace
}  // namespace kensa::scan
