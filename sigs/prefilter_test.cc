// SPDX-License-Identifier: GPL-2.0-or-later
// The prefilter end to end on signature sets made by the test: every object's verdict with the
// prefilter equals the engine's alone, objects are skipped only when provably clean, a
// signature without a literal routes its classes to the engine, hash signatures and
// normalised-text matches are not missed, and the compiled databases come back from the cache.
#include "scan/prefilter.h"

#include <filesystem>
#include <string>
#include <tuple>

#include <openssl/evp.h>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "scan/clam_test_support.h"
#include "sigs/canaries.h"
#include "sigs/signature_set.h"

namespace kensa::sigs {
namespace {

using scan::PartPrefilter;
using scan::testing::TempDir;
using scan::testing::WriteFile;
using Decision = PartPrefilter::Decision;

constexpr char kEvilNdb[] =
    // "evil payload marker" anywhere (target 0), "gif trailer" in images (target 5), and
    // "normalised phrase" in text (target 7).
    "Kensa.Test.Evil:0:*:6576696c207061796c6f6164{2-8}6d61726b6572\n"
    "Kensa.Test.ImageOnly:5:*:676966207472??696c6572\n"
    "Kensa.Test.TextOnly:7:*:6e6f726d616c6973656420706872617365\n"
    "Kensa.Test.Lowercase:0:*:74686520717569636b2062726f776e20666f78\n";

std::string Md5Hex(std::string_view data) {
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_Digest(data.data(), data.size(), d, &len, EVP_md5(), nullptr);
  std::string hex;
  for (unsigned i = 0; i < len; ++i) absl::StrAppend(&hex, absl::Hex(d[i], absl::kZeroPad2));
  return hex;
}

class PrefilterTest : public ::testing::Test {
 protected:
  std::shared_ptr<const SignatureSet> Build(const std::string& ndb, const std::string& extra_name = "",
                                            const std::string& extra = "") {
    WriteFile(dir_.path() / "kensa-test.ndb", ndb);
    if (!extra_name.empty()) WriteFile(dir_.path() / extra_name, extra);
    PrefilterOptions o;
    o.cache_dir = cache_.str();
    o.min_signatures = 0;  // the test's sets are small
    auto set = SignatureSet::Build(dir_.str(), scan::ClamLimits{}, /*check_canaries=*/false, o);
    EXPECT_TRUE(set.ok()) << set.status();
    return set.ok() ? *set : nullptr;
  }

  // The prefilter's decision for `object`, after checking that the verdict it leads to is the
  // engine's own.
  Decision Check(const SignatureSet& set, std::string_view object) {
    PartPrefilter pf(*set.prefilter());
    for (size_t at = 0; at < object.size(); at += 7) pf.Feed(object.substr(at, 7));
    const Decision d = pf.Decide(object);
    const scan::ScanResult engine = set.engine().ScanBuffer(object);
    if (d == Decision::kSkipEngine) {
      EXPECT_TRUE(engine.clean()) << "skipped an object the engine flags: " << engine.name;
    }
    return d;
  }

  TempDir dir_, cache_;
};

TEST_F(PrefilterTest, CleanPlainObjectsSkipTheEngine) {
  auto set = Build(kEvilNdb);
  ASSERT_NE(set, nullptr);
  ASSERT_NE(set->prefilter(), nullptr);
  EXPECT_EQ(set->prefilter()->routed_classes(), 0);
  EXPECT_EQ(Check(*set, "Dear customer,\nyour invoice is attached.\n"), Decision::kSkipEngine);
  std::string binary(50000, '\0');
  for (size_t i = 0; i < binary.size(); ++i) binary[i] = static_cast<char>((i * 7919) >> 3);
  EXPECT_NE(Check(*set, binary), Decision::kLiteral);
}

TEST_F(PrefilterTest, LiteralHitsGoToTheEngineWhichFindsThem) {
  auto set = Build(kEvilNdb);
  ASSERT_NE(set, nullptr);
  const std::string infected = "header\nevil payload..XYmarker\ntrailer\n";
  EXPECT_EQ(Check(*set, infected), Decision::kLiteral);
  EXPECT_FALSE(set->engine().ScanBuffer(infected).clean());
}

TEST_F(PrefilterTest, NormalisedTextMatchesAreNotMissed) {
  auto set = Build(kEvilNdb);
  ASSERT_NE(set, nullptr);
  // Upper case, a line break and bytes above 0x7f inside the phrase: libclamav's normalised
  // text still reads "the quick brown fox".
  const std::string shouted = "Note:\nTHE QUICK\r\n   BRO\xc3\xa9WN FOX jumps\n";
  const Decision d = Check(*set, shouted);
  EXPECT_NE(d, Decision::kSkipEngine);
}

TEST_F(PrefilterTest, HashSignaturesAreNotMissed) {
  const std::string blob = "an attachment whose hash is known to be bad\n";
  auto set = Build(kEvilNdb, "kensa-test.hdb", absl::StrCat(Md5Hex(blob), ":", blob.size(), ":Kensa.Test.Hash\n"));
  ASSERT_NE(set, nullptr);
  EXPECT_EQ(Check(*set, blob), Decision::kHash);
  EXPECT_FALSE(set->engine().ScanBuffer(blob).clean());
  EXPECT_EQ(Check(*set, blob + "x"), Decision::kSkipEngine);
}

// A whole message is a layer of the mail class: its probe walks the message as libclamav's
// MIME parser reads it, and every part that parser extracts is checked like any layer.
constexpr char kMailHead[] =
    "From: a@example.org\r\nTo: b@example.test\r\nMIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=XX\r\n\r\n";

TEST_F(PrefilterTest, WholeMessagesAreReadAsLibclamavReadsThem) {
  auto set = Build(kEvilNdb + std::string("Kensa.Test.MailOnly:4:*:6d61696c206f6e6c79\n"));
  ASSERT_NE(set, nullptr);
  const std::string clean = std::string(kMailHead) +
                            "--XX\r\nContent-Type: text/plain\r\n\r\nhello there\r\n--XX--\r\n";
  EXPECT_EQ(Check(*set, clean), Decision::kSkipEngine);
  // Only a base64 decoding of the attachment shows the literal: the probe's walk does.
  const std::string attached = std::string(kMailHead) +
                               "--XX\r\nContent-Type: application/octet-stream\r\n"
                               "Content-Transfer-Encoding: base64\r\n\r\n"
                               "ZXZpbCBwYXlsb2FkIFhYbWFya2Vy\r\n--XX--\r\n";  // evil payload XXmarker
  EXPECT_EQ(Check(*set, attached), Decision::kLiteral);
  EXPECT_FALSE(set->engine().ScanBuffer(attached).clean());
  // A mail signature (target 4) in a header, in no part.
  const std::string header = "From: a@example.org\r\nSubject: mail only\r\n\r\nhello\r\n";
  EXPECT_EQ(Check(*set, header), Decision::kLiteral);
}

TEST_F(PrefilterTest, AMessageIsNotReadAsNormalisedText) {
  // libclamav normalises text layers, not a message: a text-only (target 7) phrase in a header,
  // which only normalisation would lower-case, cannot match there.
  auto set = Build(kEvilNdb);
  ASSERT_NE(set, nullptr);
  const std::string header =
      "From: a@example.org\r\nTo: b@example.test\r\nSubject: NORMALISED PHRASE\r\n\r\nhello\r\n";
  EXPECT_EQ(Check(*set, header), Decision::kSkipEngine);
  // In the body it is a text layer of its own, and found there.
  const std::string body = "From: a@example.org\r\nSubject: hi\r\n\r\nNORMALISED PHRASE\r\n";
  EXPECT_NE(Check(*set, body), Decision::kSkipEngine);
  EXPECT_FALSE(set->engine().ScanBuffer(body).clean());
}

TEST_F(PrefilterTest, AMessageFurtherDownATextIsReadAsMailToo) {
  auto set = Build(kEvilNdb);
  ASSERT_NE(set, nullptr);
  // libclamav types such a text as a message (MHTML) and reads it with its MIME parser: the
  // base64 body that only that reading decodes must not be missed.
  const std::string text = std::string(300, 'a') +
                           "\nFrom: x@example.org\nMIME-Version: 1.0\nContent-Type: "
                           "application/octet-stream\nContent-Transfer-Encoding: base64\n\n"
                           "ZXZpbCBwYXlsb2FkIFhYbWFya2Vy\n";
  EXPECT_EQ(Check(*set, text), Decision::kLiteral);
  EXPECT_FALSE(set->engine().ScanBuffer(text).clean());
}

TEST_F(PrefilterTest, PhishingDatabasesRouteTheMailClass) {
  auto set = Build(kEvilNdb, "kensa-test.pdb", "R:.+\\.example\\.com([/?].*)?:17-\n");
  ASSERT_NE(set, nullptr);
  EXPECT_NE(set->prefilter()->routed_classes() & scan::kPlainMail, 0);
  EXPECT_EQ(set->prefilter()->routed_classes() & scan::kPlainText, 0);
  const std::string mail = "From: a@example.org\r\nSubject: hi\r\n\r\nhello\r\n";
  EXPECT_EQ(Check(*set, mail), Decision::kRouted);
}

// A logical signature is looked for by the subsignatures its expression cannot do without:
// with "0&1", an object holding only sub 0's short literal cannot match and stays on the fast
// path; with "0|1", either literal sends it to the engine.
TEST_F(PrefilterTest, OnlyTheSubsignaturesAnExpressionNeedsAreLookedFor) {
  // sub 0 "zq7" (short), sub 1 "a long required phrase" (both target 0).
  const std::string both = "Kensa.Test.Both;Target:0;0&1;7a7137;61206c6f6e67207265717569726564207068726173\n";
  const std::string either = "Kensa.Test.Either;Target:0;0|1;7a7137;61206c6f6e67207265717569726564207068726173\n";
  auto set = Build(kEvilNdb, "kensa-test.ldb", both);
  ASSERT_NE(set, nullptr);
  EXPECT_EQ(Check(*set, "text with zq7 in it and nothing more\n"), Decision::kSkipEngine);
  EXPECT_EQ(Check(*set, "text with a long required phrase, and zq7\n"), Decision::kLiteral);
  EXPECT_FALSE(set->engine().ScanBuffer("text with a long required phrase, and zq7\n").clean());
  auto set2 = Build(kEvilNdb, "kensa-test.ldb", either);
  ASSERT_NE(set2, nullptr);
  EXPECT_EQ(Check(*set2, "text with zq7 in it and nothing more\n"), Decision::kLiteral);
}

TEST_F(PrefilterTest, ObjectsLibclamavNormalisesGoToTheEngine) {
  auto set = Build(kEvilNdb);
  ASSERT_NE(set, nullptr);
  EXPECT_EQ(Check(*set, "<html><body><script>var a = 1;</script></body></html>\n"),
            Decision::kNotPlain);
}

// A zip whose one member is stored as is: the member's bytes appear in the zip.
std::string StoredZip(std::string_view name, std::string_view data) {
  auto u16 = [](uint16_t v) { return std::string{static_cast<char>(v), static_cast<char>(v >> 8)}; };
  auto u32 = [&](uint32_t v) { return u16(v & 0xffff) + u16(v >> 16); };
  unsigned long crc = 0;
  {
    // CRC-32 (zip's), bitwise: the test needs it once.
    uint32_t c = 0xffffffff;
    for (unsigned char b : data) {
      c ^= b;
      for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xedb88320 & (0u - (c & 1)));
    }
    crc = ~c;
  }
  const std::string local = std::string("PK\x03\x04", 4) + u16(10) + u16(0) + u16(0) + u16(0) +
                            u16(0) + u32(crc) + u32(data.size()) + u32(data.size()) +
                            u16(name.size()) + u16(0) + std::string(name) + std::string(data);
  const std::string central = std::string("PK\x01\x02", 4) + u16(20) + u16(10) + u16(0) + u16(0) +
                              u16(0) + u16(0) + u32(crc) + u32(data.size()) + u32(data.size()) +
                              u16(name.size()) + u16(0) + u16(0) + u16(0) + u16(0) + u32(0) +
                              u32(0) + std::string(name);
  return local + central + std::string("PK\x05\x06", 4) + u16(0) + u16(0) + u16(1) + u16(1) +
         u32(central.size()) + u32(local.size()) + u16(0);
}

TEST_F(PrefilterTest, ZipMembersAreLayersOfTheirOwn) {
  auto set = Build(kEvilNdb);
  ASSERT_NE(set, nullptr);
  EXPECT_EQ(Check(*set, StoredZip("letter.txt", "Dear customer,\nyour invoice.\n")),
            Decision::kSkipEngine);
  const std::string zip = StoredZip("note.txt", "an evil payload..XYmarker\n");
  EXPECT_EQ(Check(*set, zip), Decision::kLiteral);
  EXPECT_FALSE(set->engine().ScanBuffer(zip).clean());
  // A member with a hash signature.
  const std::string blob = "an attachment whose hash is known to be bad\n";
  auto hashed = Build(kEvilNdb, "kensa-test.hdb",
                      absl::StrCat(Md5Hex(blob), ":", blob.size(), ":Kensa.Test.Hash\n"));
  ASSERT_NE(hashed, nullptr);
  EXPECT_EQ(Check(*hashed, StoredZip("bad.bin", blob)), Decision::kHash);
}

// A one-page PDF whose content stream is `content`, hex-encoded (ASCIIHexDecode) when `encode`.
std::string OnePagePdf(std::string_view content, bool encode) {
  std::string stream(content), filter;
  if (encode) {
    stream.clear();
    for (unsigned char c : content) absl::StrAppend(&stream, absl::Hex(c, absl::kZeroPad2));
    stream += ">";
    filter = "/Filter /ASCIIHexDecode ";
  }
  return absl::StrCat(
      "%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n",
      "2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n",
      "3 0 obj\n<< /Type /Page /Parent 2 0 R /Contents 4 0 R >>\nendobj\n",
      "4 0 obj\n<< ", filter, "/Length ", stream.size(), " >>\nstream\n", stream,
      "\nendstream\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n");
}

TEST_F(PrefilterTest, PdfObjectsAreLayersOfTheirOwn) {
  // "pdf only marker" applies to PDFs alone (target 10).
  auto set = Build(absl::StrCat(kEvilNdb, "Kensa.Test.PdfOnly:10:*:706466206f6e6c79206d61726b6572\n"));
  ASSERT_NE(set, nullptr);
  EXPECT_EQ(Check(*set, OnePagePdf("BT (Quarterly report) Tj ET", true)), Decision::kSkipEngine);
  // A target 0 signature encoded in a stream: only the extracted object shows it.
  const std::string deflated = OnePagePdf("BT (an evil payload..XYmarker) Tj ET", true);
  EXPECT_EQ(deflated.find("evil payload"), std::string::npos);
  EXPECT_EQ(Check(*set, deflated), Decision::kLiteral);
  EXPECT_FALSE(set->engine().ScanBuffer(deflated).clean());
  // A PDF signature in the PDF's own bytes, and the same bytes in plain text (not a PDF).
  const std::string marked = OnePagePdf("BT (pdf only marker) Tj ET", false);
  EXPECT_EQ(Check(*set, marked), Decision::kLiteral);
  EXPECT_FALSE(set->engine().ScanBuffer(marked).clean());
  EXPECT_EQ(Check(*set, "a letter that mentions a pdf only marker\n"), Decision::kSkipEngine);
}

TEST_F(PrefilterTest, RandomBytesTypedUtf16AreReadAsText) {
  auto set = Build(kEvilNdb);
  ASSERT_NE(set, nullptr);
  std::string noise(40000, '\0');
  uint32_t x = 2026;
  for (char& c : noise) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>(x >> 24);
  }
  EXPECT_EQ(Check(*set, noise), Decision::kSkipEngine);
  // Upper case: only libclamav's normalised text holds the target 7 phrase.
  const std::string hidden = noise.substr(0, 20000) + "NORMALISED PHRASE" + noise.substr(20000);
  EXPECT_NE(Check(*set, hidden), Decision::kSkipEngine);
}

scan::Sha256 Sha256Of(std::string_view data) {
  scan::Sha256 d{};
  unsigned len = 0;
  EVP_Digest(data.data(), data.size(), d.data(), &len, EVP_sha256(), nullptr);
  return d;
}

std::string Base64Lines(std::string_view data) {
  std::string out;
  for (size_t at = 0; at < data.size(); at += 57) {
    const std::string_view line = data.substr(at, 57);
    std::string enc(4 * ((line.size() + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(enc.data()),
                                  reinterpret_cast<const unsigned char*>(line.data()),
                                  static_cast<int>(line.size()));
    enc.resize(static_cast<size_t>(n));
    out += enc + "\r\n";
  }
  return out;
}

TEST_F(PrefilterTest, AWholeMessageReadingReusesThePartsAlreadyCleared) {
  auto set = Build(kEvilNdb);
  ASSERT_NE(set, nullptr);
  const std::string zip = StoredZip("letter.txt", "Dear customer,\nyour invoice.\n");
  PartPrefilter part(*set->prefilter());
  part.Feed(zip);
  ASSERT_EQ(part.Decide(zip), Decision::kSkipEngine);
  const std::string message = std::string(kMailHead) +
                              "--XX\r\nContent-Type: application/zip\r\n"
                              "Content-Transfer-Encoding: base64\r\n\r\n" +
                              Base64Lines(zip) + "--XX--\r\n";
  auto whole_decision = [&](PartPrefilter::ClearedObject cleared, size_t* reused) {
    PartPrefilter whole(*set->prefilter());
    whole.Feed(message);
    whole.Reuse(std::move(cleared));
    const Decision d = whole.Decide(message);
    *reused = whole.reused_layers();
    return d;
  };
  size_t reused = 0;
  EXPECT_EQ(whole_decision(part.Cleared(Sha256Of(zip), zip.size()), &reused), Decision::kSkipEngine);
  EXPECT_EQ(reused, 1u);
  // Other bytes of the same size are not the cleared object: walked as before.
  std::string other = zip;
  other[other.size() / 2] ^= 1;
  EXPECT_EQ(whole_decision(part.Cleared(Sha256Of(other), zip.size()), &reused), Decision::kSkipEngine);
  EXPECT_EQ(reused, 0u);
  // A subtree that would take libclamav past its recursion limit inside the message is walked,
  // so the limit is met where the engine meets it.
  PartPrefilter::ClearedObject deep = part.Cleared(Sha256Of(zip), zip.size());
  deep.deepest = scan::ClamLimits{}.max_recursion;
  EXPECT_EQ(whole_decision(deep, &reused), Decision::kSkipEngine);
  EXPECT_EQ(reused, 0u);
  // With a literal in the message's own bytes nothing is cleared, reuse or not.
  const std::string marked = message + "evil payload..XYmarker\r\n";
  PartPrefilter whole(*set->prefilter());
  whole.Feed(marked);
  whole.Reuse(part.Cleared(Sha256Of(zip), zip.size()));
  EXPECT_NE(whole.Decide(marked), Decision::kSkipEngine);
}

TEST_F(PrefilterTest, TextWithHtmlFurtherDownGoesToTheEngine) {
  // libclamav types this as text, finds the <script> tag while matching and then matches its
  // HTML-normalised form too, where the entity spells the signature out: the raw bytes and the
  // normalised text never contain its literal, so only the trigger keeps it from the fast path.
  auto set = Build(kEvilNdb);
  ASSERT_NE(set, nullptr);
  std::string text;
  while (text.size() < 3000) text += "plain words of a letter, nothing more to it.\n";
  text += "<script>var a = 1;</script><p>&#101;vil payload..XYmarker</p>\n";
  EXPECT_EQ(Check(*set, text), Decision::kNotPlain);
}

TEST_F(PrefilterTest, SignatureWithoutLiteralRoutesItsClassesToTheEngine) {
  // A PCRE-only logical signature: nothing the prefilter can look for, so every class it
  // applies to (target 0: all of them) must go to the engine, which finds the match.
  auto set = Build(kEvilNdb, "kensa-test.ldb",
                   "Kensa.Test.PcreOnly;Engine:81-255,Target:0;1;6576696c;0/ev[i]l\\s+twin/\n");
  ASSERT_NE(set, nullptr);
  EXPECT_EQ(set->prefilter()->routed_classes(), scan::kAllPlainClasses);
  EXPECT_EQ(set->info().prefilter_without_literal, 1u);
  EXPECT_EQ(Check(*set, "Dear customer,\nyour invoice is attached.\n"), Decision::kRouted);
  const std::string twin = "the evil   twin is here\n";
  EXPECT_NE(Check(*set, twin), Decision::kSkipEngine);
  EXPECT_FALSE(set->engine().ScanBuffer(twin).clean());
}

TEST_F(PrefilterTest, ImageOnlyLiteralDoesNotStopTextFastPath) {
  auto set = Build(kEvilNdb);
  ASSERT_NE(set, nullptr);
  // The image-only literal occurs in text: it speaks only for images, so text stays fast.
  EXPECT_EQ(Check(*set, "a gif trXiler in prose\n"), Decision::kSkipEngine);
}

TEST_F(PrefilterTest, TheCanaryVirusNeverTakesTheFastPath) {
  // kensad's build: canaries checked, the prefilter's own check of EICAR included.
  PrefilterOptions o;
  o.cache_dir = cache_.str();
  o.min_signatures = 0;
  auto set = SignatureSet::Build(BundledSignatureDir(), scan::ClamLimits{}, true, o);
  ASSERT_TRUE(set.ok()) << set.status();
  ASSERT_NE((*set)->prefilter(), nullptr) << (*set)->info().prefilter_error;
  PartPrefilter pf(*(*set)->prefilter());
  pf.Feed(EicarTestFile());
  EXPECT_EQ(pf.Decide(EicarTestFile()), Decision::kLiteral);
}

TEST_F(PrefilterTest, SmallSetsAreScannedWithoutThePrefilter) {
  auto set = SignatureSet::Build(BundledSignatureDir(), scan::ClamLimits{});
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ((*set)->prefilter(), nullptr);  // 4 signatures, under prefilter_min_signatures
}

TEST_F(PrefilterTest, CompiledDatabasesComeBackFromTheCache) {
  auto first = Build(kEvilNdb);
  ASSERT_NE(first, nullptr);
  EXPECT_FALSE(first->info().prefilter.from_cache);
  auto again = Build(kEvilNdb);
  ASSERT_NE(again, nullptr);
  EXPECT_TRUE(again->info().prefilter.from_cache);
  EXPECT_EQ(again->prefilter()->stats().raw_patterns, first->prefilter()->stats().raw_patterns);
  EXPECT_EQ(Check(*again, "evil payload..XYmarker"), Decision::kLiteral);
}

TEST_F(PrefilterTest, DerivedInputsComeBackFromTheCacheAndDecideAlike) {
  const std::string blob = "an attachment whose hash is known to be bad\n";
  const std::string hdb = absl::StrCat(Md5Hex(blob), ":", blob.size(), ":Kensa.Test.Hash\n");
  // A file-type file, so the probe's own files travel through the cache too: "KENSA-TYPE" at
  // the start types an object as an executable, which is no plain class.
  const std::string ftm = "0:0:4b454e53412d54595045:Kensa type:CL_TYPE_ANY:CL_TYPE_MSEXE\n";
  WriteFile(dir_.path() / "kensa-test.ftm", ftm);
  auto first = Build(kEvilNdb, "kensa-test.hdb", hdb);
  ASSERT_NE(first, nullptr);
  EXPECT_FALSE(first->info().prefilter_inputs_from_cache);
  auto again = Build(kEvilNdb, "kensa-test.hdb", hdb);
  ASSERT_NE(again, nullptr);
  EXPECT_TRUE(again->info().prefilter_inputs_from_cache);
  const scan::PrefilterStats& a = first->prefilter()->stats();
  const scan::PrefilterStats& b = again->prefilter()->stats();
  EXPECT_EQ(std::tie(a.raw_patterns, a.normalized_patterns, a.hash_signatures, a.routed_classes),
            std::tie(b.raw_patterns, b.normalized_patterns, b.hash_signatures, b.routed_classes));
  for (const std::string& object :
       {std::string("evil payload..XYmarker"), blob, blob + "x", std::string("plain words"),
        std::string("a normalised phrase"), std::string("KENSA-TYPE, then some text")}) {
    EXPECT_EQ(Check(*again, object), Check(*first, object)) << object;
  }
  EXPECT_EQ(Check(*again, blob), Decision::kHash);
  EXPECT_NE(Check(*first, "KENSA-TYPE, then some text"), Decision::kSkipEngine);

  // A cache cut short is derived again (and written anew).
  int cut = 0;
  for (const auto& e : std::filesystem::directory_iterator(cache_.path())) {
    if (e.path().filename().string().rfind("inputs-", 0) != 0) continue;
    std::filesystem::resize_file(e.path(), std::filesystem::file_size(e.path()) / 2);
    ++cut;
  }
  ASSERT_EQ(cut, 1);
  auto rebuilt = Build(kEvilNdb, "kensa-test.hdb", hdb);
  ASSERT_NE(rebuilt, nullptr);
  EXPECT_FALSE(rebuilt->info().prefilter_inputs_from_cache);
  EXPECT_EQ(Check(*rebuilt, blob), Decision::kHash);
  EXPECT_TRUE(Build(kEvilNdb, "kensa-test.hdb", hdb)->info().prefilter_inputs_from_cache);
}

}  // namespace
}  // namespace kensa::sigs
