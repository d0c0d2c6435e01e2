// SPDX-License-Identifier: GPL-2.0-or-later
// The whole pipeline on messages: parser, decoders, verdict cache, libclamav, findings.
#include "scan/message_scanner.h"

#include <random>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "scan/transfer_encoding.h"

namespace kensa::scan {
namespace {

std::string Eicar() {
  return absl::StrCat("X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD",
                      "-ANTIVIRUS-TEST-FILE!$H+H*");
}

class MessageScannerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<std::shared_ptr<const ClamEngine>> e =
        ClamEngine::Load(KENSA_TEST_SIGS_DIR, ClamLimits{});
    ASSERT_TRUE(e.ok()) << e.status();
    engine_ = new std::shared_ptr<const ClamEngine>(*e);
  }
  static void TearDownTestSuite() {
    delete engine_;
    engine_ = nullptr;
  }

  MessageVerdict Scan(std::string_view raw, VerdictCache* cache = nullptr, size_t split = 0,
                      ScanSettings settings = {}) {
    settings.temp_dir = ::testing::TempDir();
    MessageScanner s(**engine_, "v1", cache, settings);
    if (split == 0) {
      s.Feed(raw);
    } else {
      for (size_t i = 0; i < raw.size(); i += split) s.Feed(raw.substr(i, split));
    }
    return s.Finish();
  }

  static std::shared_ptr<const ClamEngine>* engine_;
};

std::shared_ptr<const ClamEngine>* MessageScannerTest::engine_ = nullptr;

std::string Mixed(const std::string& attachment_headers, const std::string& attachment_body) {
  return absl::StrCat(
      "From: a@example.org\r\nTo: b@example.test\r\nSubject: t\r\nMIME-Version: 1.0\r\n"
      "Content-Type: multipart/mixed; boundary=\"BOUND\"\r\n\r\n"
      "preamble\r\n--BOUND\r\nContent-Type: text/plain\r\n\r\nhello\r\n--BOUND\r\n",
      attachment_headers, "\r\n", attachment_body, "\r\n--BOUND--\r\n");
}

TEST_F(MessageScannerTest, CleanMessageHasNoFindings) {
  MessageVerdict v = Scan(Mixed("Content-Type: application/octet-stream\r\n"
                                "Content-Transfer-Encoding: base64\r\n",
                                EncodeBase64(std::string(5000, 'x'))));
  EXPECT_EQ(v.kind, MessageVerdict::Kind::kClean);
  EXPECT_TRUE(v.findings.empty());
  EXPECT_GE(v.parts, 2u);
}

TEST_F(MessageScannerTest, TimesEveryLeafPartOnce) {
  // The metrics' scan time per part: one duration per leaf, infected or not.
  MessageVerdict v = Scan(Mixed("Content-Type: application/octet-stream\r\n", Eicar()));
  EXPECT_EQ(v.kind, MessageVerdict::Kind::kInfected);
  EXPECT_EQ(v.part_scan_times.size(), v.parts);
  for (absl::Duration d : v.part_scan_times) {
    EXPECT_GE(d, absl::ZeroDuration());
    EXPECT_LT(d, absl::Seconds(30));
  }
}

TEST_F(MessageScannerTest, RootOfAMultipartMessageSpansTheWholeBody) {
  // What a finding for the whole message (the second reading, a MIME limit) replaces: it must
  // be a valid range even though a multipart root is reported before its end is known.
  const std::string raw = Mixed("Content-Type: text/plain\r\n", "x");
  MessageVerdict v = Scan(raw);
  EXPECT_EQ(v.root.header_begin, 0u);
  EXPECT_EQ(v.root.body_end, raw.size());
  EXPECT_LE(v.root.body_begin, v.root.body_end);
  EXPECT_EQ(raw.substr(v.root.body_begin, 8), "preamble");
}

TEST_F(MessageScannerTest, Base64AttachmentIsFoundAndLocated) {
  const std::string headers =
      "Content-Type: application/octet-stream; name=\"e.com\"\r\n"
      "Content-Transfer-Encoding: base64\r\n";
  const std::string raw = Mixed(headers, EncodeBase64(Eicar()));
  for (size_t split : {0, 1, 7, 100}) {
    MessageVerdict v = Scan(raw, nullptr, split);
    ASSERT_EQ(v.kind, MessageVerdict::Kind::kInfected) << split;
    ASSERT_EQ(v.findings.size(), 1u);
    const MimePart& p = v.findings[0].part;
    EXPECT_EQ(p.filename, "e.com");
    EXPECT_EQ(raw.substr(p.header_begin, headers.size()), headers);
    EXPECT_EQ(raw.substr(p.body_begin, p.body_end - p.body_begin), EncodeBase64(Eicar()));
    // libclamav marks names from unsigned databases as clamscan shows them.
    EXPECT_EQ(v.findings[0].result.name, "Kensa.Test.EICAR.UNOFFICIAL");
  }
}

TEST_F(MessageScannerTest, QuotedPrintableAndUuencodeInsideText) {
  MessageVerdict qp = Scan(Mixed("Content-Type: text/plain\r\n"
                                 "Content-Transfer-Encoding: quoted-printable\r\n",
                                 "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H=\r\n+H*"));
  EXPECT_EQ(qp.kind, MessageVerdict::Kind::kInfected);
  // uuencode of EICAR (python3 -c 'import binascii; ...'), inside a plain text body.
  std::string uu = "begin 644 eicar.com\r\n";
  const std::string e = Eicar();
  for (size_t i = 0; i < e.size(); i += 45) {
    std::string chunk = e.substr(i, 45);
    std::string line(1, static_cast<char>(32 + chunk.size()));
    for (size_t j = 0; j < chunk.size(); j += 3) {
      unsigned char b[3] = {0, 0, 0};
      for (size_t k = 0; k < 3 && j + k < chunk.size(); ++k) b[k] = chunk[j + k];
      const int c[4] = {b[0] >> 2, ((b[0] & 3) << 4) | (b[1] >> 4), ((b[1] & 15) << 2) | (b[2] >> 6),
                        b[2] & 63};
      for (int x : c) line += static_cast<char>(x == 0 ? '`' : 32 + x);
    }
    uu += line + "\r\n";
  }
  uu += "`\r\nend\r\n";
  MessageVerdict v = Scan(Mixed("Content-Type: text/plain\r\n", "see below\r\n" + uu));
  ASSERT_EQ(v.kind, MessageVerdict::Kind::kInfected);
  EXPECT_EQ(v.findings[0].part.media_type, "text/plain");
}

TEST_F(MessageScannerTest, SinglePartMessageBodyIsTheFinding) {
  const std::string raw = absl::StrCat("Subject: x\r\nContent-Transfer-Encoding: base64\r\n\r\n",
                                       EncodeBase64(Eicar()));
  MessageVerdict v = Scan(raw);
  ASSERT_EQ(v.kind, MessageVerdict::Kind::kInfected);
  EXPECT_EQ(v.findings[0].part.role, PartRole::kMessageBody);
  EXPECT_EQ(v.findings[0].part.header_begin, 0u);
}

TEST_F(MessageScannerTest, WholeMessageReadingFindsWhatNoPartHolds) {
  // A header field is in no leaf: only libclamav's reading of the raw message sees it.
  const std::string raw = absl::StrCat("Subject: ", Eicar(), "\r\n\r\nhello\r\n");
  MessageVerdict v = Scan(raw);
  ASSERT_EQ(v.kind, MessageVerdict::Kind::kInfected);
  EXPECT_TRUE(v.second_opinion_only);
  EXPECT_EQ(v.findings[0].part.header_begin, 0u);

  ScanSettings parts_only;
  parts_only.whole_message_check = false;
  MessageVerdict p = Scan(raw, nullptr, 0, parts_only);
  EXPECT_EQ(p.kind, MessageVerdict::Kind::kClean);
  EXPECT_FALSE(p.second_opinion_only);

  // Found by a part's reading: the second reading does not run and takes no credit.
  MessageVerdict b = Scan(Mixed("Content-Type: application/octet-stream\r\n"
                                "Content-Transfer-Encoding: base64\r\n",
                                EncodeBase64(Eicar())));
  ASSERT_EQ(b.kind, MessageVerdict::Kind::kInfected);
  EXPECT_FALSE(b.second_opinion_only);
}

TEST_F(MessageScannerTest, VerdictCacheAnswersTheSecondCopy) {
  VerdictCache cache(100);
  const std::string raw = Mixed("Content-Type: application/octet-stream\r\n"
                                "Content-Transfer-Encoding: base64\r\n",
                                EncodeBase64(Eicar()));
  ScanSettings s;
  s.whole_message_check = false;
  MessageVerdict first = Scan(raw, &cache, 0, s);
  MessageVerdict second = Scan(raw, &cache, 0, s);
  EXPECT_EQ(first.cache_hits, 0u);
  EXPECT_GE(second.cache_hits, 1u);
  EXPECT_EQ(second.engine_scans, 0u);
  EXPECT_EQ(second.kind, MessageVerdict::Kind::kInfected);
}

TEST_F(MessageScannerTest, LargePartsSpillToDiskAndTooLargeIsUnscannable) {
  std::mt19937 rng(7);
  std::string blob(3 << 20, '\0');
  for (char& c : blob) c = static_cast<char>(rng());
  const std::string raw = Mixed("Content-Type: application/octet-stream\r\n"
                                "Content-Transfer-Encoding: base64\r\n",
                                EncodeBase64(blob + Eicar()));
  ScanSettings s;
  s.part_memory_bytes = 64 << 10;
  MessageVerdict v = Scan(raw, nullptr, 65536, s);
  EXPECT_EQ(v.kind, MessageVerdict::Kind::kInfected);
  s.max_part_bytes = 1 << 20;
  MessageVerdict big = Scan(raw, nullptr, 65536, s);
  ASSERT_EQ(big.kind, MessageVerdict::Kind::kUnscannable);
  EXPECT_EQ(big.findings[0].result.name, "Kensa.Limits.Exceeded.MaxPartSize");
}

TEST_F(MessageScannerTest, SpillFileFailureIsALocalFailureAndNeverCached) {
  // The temporary directory is gone (as good as full): no verdict, no finding that would
  // replace the part with a notice, nothing remembered; the same part scans when it is back.
  const std::string raw = Mixed("Content-Type: application/octet-stream; name=\"a.bin\"\r\n"
                                "Content-Transfer-Encoding: base64\r\n",
                                EncodeBase64(std::string(200 << 10, 'q')));
  VerdictCache cache(100);
  ScanSettings s;
  s.part_memory_bytes = 64 << 10;
  s.temp_dir = ::testing::TempDir() + "/no-such-dir-for-kensa-spill";
  MessageScanner broken(**engine_, "v1", &cache, s);
  broken.Feed(raw);
  MessageVerdict v = broken.Finish();
  EXPECT_EQ(v.kind, MessageVerdict::Kind::kLocalFailure);
  EXPECT_EQ(v.KindName(), "local_failure");
  EXPECT_TRUE(v.findings.empty());
  EXPECT_NE(v.local_failure.find("no-such-dir-for-kensa-spill"), std::string::npos)
      << v.local_failure;
  MessageVerdict again = Scan(raw, &cache, 0, s);  // Scan() uses a temp dir that exists
  EXPECT_EQ(again.kind, MessageVerdict::Kind::kClean);
  // The small parts were scanned and remembered the first time; the failed one was not.
  MessageVerdict third = Scan(raw, &cache, 0, s);
  EXPECT_EQ(third.cache_hits, again.cache_hits + 1);
}

TEST_F(MessageScannerTest, LocalFailureOutranksAVirusElsewhere) {
  // A cleaned copy would still carry the part nobody scanned: the whole message waits.
  const std::string raw = absl::StrCat(
      "Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\n"
      "Content-Type: application/octet-stream\r\n\r\n", Eicar(),
      "\r\n--B\r\nContent-Type: application/octet-stream\r\n"
      "Content-Transfer-Encoding: base64\r\n\r\n", EncodeBase64(std::string(200 << 10, 'q')),
      "\r\n--B--\r\n");
  ScanSettings s;
  s.part_memory_bytes = 64 << 10;
  s.temp_dir = ::testing::TempDir() + "/no-such-dir-for-kensa-spill";
  MessageScanner scanner(**engine_, "v1", nullptr, s);
  scanner.Feed(raw);
  EXPECT_EQ(scanner.Finish().kind, MessageVerdict::Kind::kLocalFailure);
}

TEST_F(MessageScannerTest, DeepNestingIsBoundedAndUnscannable) {
  std::string raw = "Subject: deep\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n";
  const int depth = 1000;
  for (int i = 0; i < depth; ++i) {
    absl::StrAppend(&raw, "--b", i, "\r\nContent-Type: multipart/mixed; boundary=b", i + 1,
                    "\r\n\r\n");
  }
  absl::StrAppend(&raw, "--b", depth, "\r\nContent-Type: text/plain\r\n\r\nhi\r\n");
  ScanSettings s;
  s.mime.max_depth = 16;
  MessageVerdict v = Scan(raw, nullptr, 0, s);
  EXPECT_EQ(v.kind, MessageVerdict::Kind::kUnscannable);
}

}  // namespace
}  // namespace kensa::scan
