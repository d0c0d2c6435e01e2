// SPDX-License-Identifier: GPL-2.0-or-later
// The whole-message reading predicted instead of run (scan/mail_reading_prediction.h), through
// the MessageScanner with real signature sets: a signature that only libclamav's line form of
// a part shows is still found, one in the raw message's headers sends the message to
// libclamav's reading, and a set with signatures that look at a part's container is never
// predicted. Each verdict is also checked against the engine's own reading.
#include <filesystem>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "scan/clam_test_support.h"
#include "scan/message_scanner.h"
#include "sigs/file_type_triggers.h"
#include "sigs/signature_set.h"

namespace kensa::sigs {
namespace {

using scan::MessageVerdict;
using scan::testing::TempDir;
using scan::testing::WriteFile;
using SecondReading = MessageVerdict::SecondReading;

std::string Hex(std::string_view s) {
  return absl::BytesToHexString(absl::string_view(s.data(), s.size()));
}

class WholeMessagePredictionTest : public ::testing::Test {
 protected:
  // A small set (under prefilter_min_signatures): the parts go to the engine, the prefilter's
  // database serves the whole message only.
  std::shared_ptr<const SignatureSet> Build(const std::string& extra_ldb = "") {
    WriteFile(dir_.path() / "test.ndb",
              absl::StrCat("Kensa.Test.LineForm:0:*:", Hex("marker-one\nmarker-two"), "\n",
                           "Kensa.Test.Header:4:*:", Hex("X-Planted: evil header"), "\n",
                           "Kensa.Test.Body:0:*:", Hex("plain body marker"), "\n"));
    if (!extra_ldb.empty()) WriteFile(dir_.path() / "test.ldb", extra_ldb);
    PrefilterOptions o;
    o.cache_dir = cache_.str();
    auto set = SignatureSet::Build(dir_.str(), scan::ClamLimits{}, /*check_canaries=*/false, o);
    EXPECT_TRUE(set.ok()) << set.status();
    if (!set.ok()) return nullptr;
    EXPECT_EQ((*set)->prefilter(), nullptr);
    EXPECT_NE((*set)->message_prefilter(), nullptr) << (*set)->info().prefilter_error;
    return *set;
  }

  // The verdict with the prediction, checked against the verdict of libclamav's reading.
  MessageVerdict Scan(const SignatureSet& set, std::string_view raw) {
    scan::ScanSettings settings;
    settings.temp_dir = ::testing::TempDir();
    scan::MessageScanner with(set.engine(), set.version(), nullptr, settings);
    with.SetMessagePrefilter(set.message_prefilter());
    with.Feed(raw);
    MessageVerdict v = with.Finish();
    scan::MessageScanner without(set.engine(), set.version(), nullptr, settings);
    without.Feed(raw);
    MessageVerdict engine = without.Finish();
    // Run unless a part was found infected first.
    EXPECT_NE(engine.second_reading, SecondReading::kPredicted);
    EXPECT_EQ(v.kind, engine.kind) << raw;
    EXPECT_EQ(v.names, engine.names) << raw;
    return v;
  }

  TempDir dir_, cache_;
};

const char kHead[] = "Received: from a by b\r\nFrom: a@example.org\r\nSubject: t\r\n";

TEST_F(WholeMessagePredictionTest, PlainMessagesArePredicted) {
  auto set = Build();
  ASSERT_NE(set, nullptr);
  MessageVerdict v = Scan(*set, absl::StrCat(kHead, "\r\nhello\r\n\r\nworld  \r\n"));
  EXPECT_EQ(v.kind, MessageVerdict::Kind::kClean);
  EXPECT_EQ(v.second_reading, SecondReading::kPredicted) << v.prediction_why_not;
  // The part and its line form, both typed as text without the probe and cleared by the
  // prefilter: no libclamav call at all.
  EXPECT_EQ(v.engine_scans, 0u);
  EXPECT_EQ(v.fast_path, 2u);
}

TEST_F(WholeMessagePredictionTest, WhatOnlyTheLineFormShowsIsFound) {
  auto set = Build();
  ASSERT_NE(set, nullptr);
  // kensa's reading of the part has CRLF between the markers; libclamav's has LF only.
  const std::string raw = absl::StrCat(
      kHead, "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"B\"\r\n\r\n"
      "--B\r\nContent-Type: text/plain\r\n\r\nsee below\r\n--B\r\nContent-Type: text/plain\r\n\r\n"
      "marker-one\r\nmarker-two\r\n--B--\r\n");
  MessageVerdict v = Scan(*set, raw);
  EXPECT_EQ(v.kind, MessageVerdict::Kind::kInfected);
  EXPECT_EQ(v.second_reading, SecondReading::kPredicted) << v.prediction_why_not;
  ASSERT_EQ(v.findings.size(), 1u);
  EXPECT_EQ(v.findings[0].result.name, "Kensa.Test.LineForm.UNOFFICIAL");
  // Found in a part, not by a reading of the whole message: the part is removed, not the mail.
  EXPECT_EQ(v.findings[0].part.id, 2u);
  EXPECT_FALSE(v.second_opinion_only);
}

TEST_F(WholeMessagePredictionTest, AParsedPartIsFoundAsBefore) {
  auto set = Build();
  ASSERT_NE(set, nullptr);
  MessageVerdict v = Scan(*set, absl::StrCat(kHead, "\r\nthe plain body marker here\r\n"));
  EXPECT_EQ(v.kind, MessageVerdict::Kind::kInfected);
  EXPECT_EQ(v.second_reading, SecondReading::kNone);  // not needed: a part is infected
}

TEST_F(WholeMessagePredictionTest, ALiteralInTheRawMessageGoesToLibclamavsReading) {
  auto set = Build();
  ASSERT_NE(set, nullptr);
  MessageVerdict v =
      Scan(*set, absl::StrCat(kHead, "X-Planted: evil header\r\n\r\nhello\r\n"));
  EXPECT_EQ(v.kind, MessageVerdict::Kind::kInfected);
  EXPECT_EQ(v.second_reading, SecondReading::kEngine);
  EXPECT_EQ(v.prediction_why_not, "literal or hash in the raw message");
  EXPECT_TRUE(v.second_opinion_only);
}

TEST_F(WholeMessagePredictionTest, MessagesNotPlainGoToLibclamavsReading) {
  auto set = Build();
  ASSERT_NE(set, nullptr);
  MessageVerdict v = Scan(*set, absl::StrCat(kHead, "Content-Transfer-Encoding: x-uuencode"
                                                    "\r\n\r\nmarker-one\r\nmarker-two\r\n"));
  EXPECT_EQ(v.second_reading, SecondReading::kEngine);
  EXPECT_EQ(v.prediction_why_not, "transfer encoding");
}

TEST_F(WholeMessagePredictionTest, QuotedPrintableIsReadLineByLine) {
  auto set = Build();
  ASSERT_NE(set, nullptr);
  // A soft break joins the two markers' lines in both readings; the line form keeps the
  // encoded LF.
  MessageVerdict v = Scan(*set, absl::StrCat(kHead, "Content-Transfer-Encoding: quoted-printable"
                                                    "\r\n\r\nsee: marker-=\r\none=0Amarker-two\r\n"));
  EXPECT_EQ(v.kind, MessageVerdict::Kind::kInfected);
  EXPECT_EQ(v.second_reading, SecondReading::kNone);  // the part itself holds it
  v = Scan(*set, absl::StrCat(kHead, "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
                                     "nothing =3D here=\r\n at all\r\n"));
  EXPECT_EQ(v.kind, MessageVerdict::Kind::kClean);
  EXPECT_EQ(v.second_reading, SecondReading::kPredicted) << v.prediction_why_not;
}

TEST_F(WholeMessagePredictionTest, SignaturesThatLookAtTheContainerAreNeverPredicted) {
  auto set = Build(absl::StrCat("Kensa.Test.InMail;Engine:51-255,Container:CL_TYPE_MAIL,Target:0;"
                                "0;", Hex("only inside a mail"), "\n"));
  ASSERT_NE(set, nullptr);
  EXPECT_TRUE(set->message_prefilter()->mail_reading_unpredictable());
  MessageVerdict v = Scan(*set, absl::StrCat(kHead, "\r\nonly inside a mail\r\n"));
  EXPECT_EQ(v.second_reading, SecondReading::kEngine);
  EXPECT_EQ(v.prediction_why_not, "the set's container signatures or file types");
}

TEST_F(WholeMessagePredictionTest, FileTypesThatReadTextAreNeverPredicted) {
  // A file type of the set's own whose magic is plain text could type or unpack a plain part.
  WriteFile(dir_.path() / "test.ftm", "1:*:3c6b656e73612d706c61696e3e:Kensa plain:CL_TYPE_ANY:"
                                       "CL_TYPE_ZIPSFX\n0:0:1f8b:GZip:CL_TYPE_ANY:CL_TYPE_GZ\n");
  auto set = Build();
  ASSERT_NE(set, nullptr);
  EXPECT_TRUE(set->message_prefilter()->mail_reading_unpredictable());
  MessageVerdict v = Scan(*set, absl::StrCat(kHead, "\r\nhello\r\n"));
  EXPECT_EQ(v.second_reading, SecondReading::kEngine);
}

// As a reactor scans a small message (ScanSession): libclamav forbidden, the first object
// that would need it ends the attempt.
TEST_F(WholeMessagePredictionTest, WithoutLibclamavAPlainMessageIsScannedAndOthersAreNot) {
  auto set = Build();
  ASSERT_NE(set, nullptr);
  auto forbidden = [&](std::string_view raw) {
    scan::ScanSettings settings;
    settings.temp_dir = ::testing::TempDir();
    scan::MessageScanner scanner(set->engine(), set->version(), nullptr, settings);
    scanner.SetMessagePrefilter(set->message_prefilter());
    scanner.ForbidEngine();
    scanner.Feed(raw);
    return scanner.Finish();
  };
  MessageVerdict plain = forbidden(absl::StrCat(kHead, "\r\nhello\r\n\r\nworld\r\n"));
  EXPECT_FALSE(plain.needed_engine);
  EXPECT_EQ(plain.kind, MessageVerdict::Kind::kClean);
  EXPECT_EQ(plain.engine_scans, 0u);
  EXPECT_EQ(plain.second_reading, SecondReading::kPredicted);
  // A literal in a part, in the raw message, an HTML part, a message that is not plain: each
  // needs libclamav.
  for (const std::string& raw :
       {absl::StrCat(kHead, "\r\nthe plain body marker here\r\n"),
        absl::StrCat(kHead, "X-Planted: evil header\r\n\r\nhello\r\n"),
        absl::StrCat(kHead, "Content-Type: text/html\r\n\r\n<html><body>hi</body></html>\r\n"),
        absl::StrCat(kHead, "\r\nbegin 644 x\r\n`\r\nend\r\n")}) {
    MessageVerdict v = forbidden(raw);
    EXPECT_TRUE(v.needed_engine) << raw;
    EXPECT_EQ(v.engine_scans, 0u) << raw;
  }
}

TEST(FtmLineMayReadTextTest, OnlyEntriesWithoutAControlByte) {
  // libclamav's own kinds of entry: embedded files and magic with control bytes.
  EXPECT_FALSE(FtmLineMayReadText("1:*:504b0304:ZIP-SFX:CL_TYPE_ANY:CL_TYPE_ZIPSFX"));
  EXPECT_FALSE(FtmLineMayReadText("1:*:4d5a{60-300}50450000:PE:CL_TYPE_ANY:CL_TYPE_MSEXE"));
  EXPECT_FALSE(FtmLineMayReadText("0:0:1f8b:GZip:CL_TYPE_ANY:CL_TYPE_GZ"));
  // Triggers are the prefilter's own check.
  EXPECT_FALSE(FtmLineMayReadText("1:*:3c68746d6c3e:HTML:CL_TYPE_ANY:CL_TYPE_HTML"));
  // Text a set's entry could find in plain mail.
  EXPECT_TRUE(FtmLineMayReadText("1:*:3c6b656e73613e:k:CL_TYPE_ANY:CL_TYPE_ZIPSFX"));
  EXPECT_TRUE(FtmLineMayReadText("0:0:52656365697665643a:r:CL_TYPE_ANY:CL_TYPE_TEXT_ASCII"));
  EXPECT_TRUE(FtmLineMayReadText("1:*:e697a5??e69cac:u:CL_TYPE_ANY:CL_TYPE_RARSFX"));
}

}  // namespace
}  // namespace kensa::sigs
