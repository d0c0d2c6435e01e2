// SPDX-License-Identifier: GPL-2.0-or-later
// The product's promise for a cleaned message: every other part stays byte for byte and the
// result is still valid MIME. The MIME parser is not used here: parts are described by hand,
// with offsets found in the test message text (boundary lines, blank lines), and the cleaned
// message is read back by Python's email package, an independent parser.
#include "scan/rewrite.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "spool/queue_file.h"

namespace kensa::scan {
namespace {

using spool::ApplyEdits;
using spool::ContentEdit;
using testing::HasSubstr;
using testing::Not;

const NoticeContext kCtx{"8E2PMf2Tl09BqI", "mx1.example.jp", "27123"};

// ---- Describing parts of a test message by hand ---------------------------------------------

// Reads the header block that starts at `begin` (fields, folded lines, the blank line) into a
// part whose body runs to `body_end`.
MimePart PartAt(std::string_view raw, uint64_t begin, uint64_t body_end, PartRole role,
                int32_t parent, std::string filename = "") {
  MimePart p;
  p.role = role;
  p.parent = parent;
  p.header_begin = begin;
  p.body_end = body_end;
  p.filename = std::move(filename);
  const size_t first_nl = raw.find('\n', begin);
  p.crlf = first_nl != std::string_view::npos && first_nl > 0 && raw[first_nl - 1] == '\r';
  uint64_t at = begin;
  while (true) {
    const size_t nl = raw.find('\n', at);
    const uint64_t line_end = nl == std::string_view::npos ? raw.size() : nl + 1;
    std::string_view line = raw.substr(at, line_end - at);
    if (line == "\r\n" || line == "\n" || at >= body_end) {
      p.header_end = at;
      p.body_begin = std::min<uint64_t>(line_end, body_end);
      break;
    }
    if ((line[0] == ' ' || line[0] == '\t') && !p.headers.empty()) {
      p.headers.back().end = line_end;
      p.headers.back().value += std::string(absl::StripTrailingAsciiWhitespace(std::string(line)));
    } else {
      MimeHeader h;
      const size_t colon = line.find(':');
      h.name = std::string(line.substr(0, colon));
      h.value = std::string(absl::StripAsciiWhitespace(std::string(line.substr(colon + 1))));
      h.begin = at;
      h.end = line_end;
      p.headers.push_back(h);
    }
    at = line_end;
  }
  for (const MimeHeader& h : p.headers) {
    if (absl::EqualsIgnoreCase(h.name, "Content-Type")) {
      p.media_type = absl::AsciiStrToLower(absl::StripAsciiWhitespace(h.value.substr(0, h.value.find(';'))));
    }
  }
  return p;
}

// Offset of the delimiter line "--boundary" number n (0 = the first), at the start of a line.
size_t Delimiter(std::string_view raw, std::string_view boundary, int n) {
  const std::string d = "--" + std::string(boundary);
  size_t at = 0;
  for (int seen = -1;; ++at) {
    at = raw.find(d, at);
    if (at == std::string_view::npos) return at;
    if (at == 0 || raw[at - 1] == '\n') {
      if (++seen == n) return at;
    }
  }
}

// Where the line ending that belongs to the delimiter at `delim` starts.
uint64_t BeforeDelimiter(std::string_view raw, size_t delim) {
  return delim >= 2 && raw[delim - 2] == '\r' ? delim - 2 : delim - 1;
}

uint64_t AfterLine(std::string_view raw, size_t at) { return raw.find('\n', at) + 1; }

// Child number n (0 = the first) of the multipart whose boundary is `boundary`.
MimePart Child(std::string_view raw, std::string_view boundary, int n, std::string filename = "",
               int32_t parent = 0) {
  const size_t delim = Delimiter(raw, boundary, n);
  const size_t next = Delimiter(raw, boundary, n + 1);
  return PartAt(raw, AfterLine(raw, delim), BeforeDelimiter(raw, next), PartRole::kMultipartChild,
                parent, std::move(filename));
}

PartFinding Infected(MimePart part, std::string name) {
  return {std::move(part), {ScanResult::Kind::kInfected, std::move(name)}};
}

PartFinding Unscannable(MimePart part, std::string reason) {
  return {std::move(part), {ScanResult::Kind::kUnscannable, std::move(reason)}};
}

std::string Lf(const std::string& crlf) { return absl::StrReplaceAll(crlf, {{"\r\n", "\n"}}); }

// ---- Checking a cleaned message -------------------------------------------------------------

// What Python's email package sees in the original and the cleaned message.
struct PythonView {
  bool available = false;
  std::vector<std::string> original_types, cleaned_types;  // msg.walk() order
  std::map<size_t, std::string> notices;                   // walk index -> decoded UTF-8 text
  int original_defects = 0, cleaned_defects = 0;
  std::string cleaned_preamble, cleaned_epilogue;
  std::string error;
};

std::string Unhex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

// Debian's own interpreter when there is one (the appliance's; a version manager's shim on a
// developer machine costs seconds per start), else whatever python3 the PATH has.
const std::string& Python() {
  static const std::string* python = [] {
    for (const char* candidate : {"/usr/bin/python3", "python3"}) {
      std::string cmd = std::string(candidate) + " -c 'import email' >/dev/null 2>&1";
      if (system(cmd.c_str()) == 0) return new std::string(candidate);
    }
    return new std::string();
  }();
  return *python;
}

PythonView ReadWithPython(const std::string& original, const std::string& cleaned) {
  PythonView v;
  if (Python().empty()) return v;
  v.available = true;
  const char* t = getenv("TMPDIR");
  const std::string base = std::string(t != nullptr && *t != '\0' ? t : "/tmp") +
                           "/rewrite_test." + std::to_string(getpid());
  std::ofstream(base + ".orig", std::ios::binary) << original;
  std::ofstream(base + ".clean", std::ios::binary) << cleaned;
  std::ofstream(base + ".py") << R"PY(
import email, sys
from email import policy
def walk(path):
    m = email.message_from_bytes(open(path, 'rb').read(), policy=policy.compat32)
    parts = list(m.walk())
    notices = {}
    for i, p in enumerate(parts):
        if not p.is_multipart() and p.get_content_type() != 'message/rfc822':
            data = p.get_payload(decode=True)
            if p.get_filename() == 'kensa-virus-notice.txt':
                assert p.get_content_charset() == 'utf-8', p.get_content_charset()
                notices[i] = data.decode('utf-8')
    return m, parts, notices, sum(len(p.defects) for p in parts)
om, o, _, od = walk(sys.argv[1])
cm, c, notices, cd = walk(sys.argv[2])
for p in o: print('orig ' + p.get_content_type())
for p in c: print('clean ' + p.get_content_type())
for i, text in notices.items(): print('notice %d %s' % (i, text.encode('utf-8').hex()))
print('defects %d %d' % (od, cd))
print('preamble ' + (cm.preamble or '').encode('utf-8', 'surrogateescape').hex())
print('epilogue ' + (cm.epilogue or '').encode('utf-8', 'surrogateescape').hex())
)PY";
  const std::string cmd = Python() + " " + base + ".py " + base + ".orig " + base + ".clean 2>&1";
  std::string out;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    if (pclose(p) != 0) v.error = out;
  }
  for (const char* suffix : {".orig", ".clean", ".py"}) unlink((base + suffix).c_str());
  for (absl::string_view line : absl::StrSplit(out, '\n', absl::SkipEmpty())) {
    std::vector<std::string> w = absl::StrSplit(line, absl::MaxSplits(' ', 2));
    if (w[0] == "orig") v.original_types.emplace_back(w[1]);
    if (w[0] == "clean") v.cleaned_types.emplace_back(w[1]);
    if (w[0] == "notice" && w.size() == 3) v.notices[std::stoul(w[1])] = Unhex(w[2]);
    if (w[0] == "defects" && w.size() == 3) {
      v.original_defects = std::stoi(w[1]);
      v.cleaned_defects = std::stoi(w[2]);
    }
    if (w[0] == "preamble") v.cleaned_preamble = Unhex(w.size() > 1 ? w[1] : "");
    if (w[0] == "epilogue") v.cleaned_epilogue = Unhex(w.size() > 1 ? w[1] : "");
  }
  return v;
}

size_t LongestLine(const std::string& s) {
  size_t longest = 0;
  for (absl::string_view line : absl::StrSplit(s, '\n')) {
    longest = std::max(longest, absl::StripSuffix(line, "\r").size());
  }
  return longest;
}

uint64_t RangeBegin(const MimePart& p) { return p.header_begin; }
uint64_t RangeEnd(const MimePart& p) { return p.body_end; }

// Cleans `raw` and checks what holds for every cleaned message: the edits stay inside the
// findings' ranges, the result is exactly the original between the edits (so every byte
// outside the replaced ranges is identical), and no line is longer than RFC 5322 allows.
std::string CleanAndCheck(const std::string& raw, const std::vector<PartFinding>& findings,
                          std::vector<ContentEdit>* edits_out = nullptr) {
  std::vector<ContentEdit> edits = CleaningEdits(findings, kCtx);
  // The findings' ranges, overlapping ones merged: no edit may reach outside them.
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const PartFinding& f : findings) ranges.emplace_back(RangeBegin(f.part), RangeEnd(f.part));
  std::sort(ranges.begin(), ranges.end());
  std::vector<std::pair<uint64_t, uint64_t>> merged;
  for (auto r : ranges) {
    if (!merged.empty() && r.first < merged.back().second) {
      merged.back().second = std::max(merged.back().second, r.second);
    } else {
      merged.push_back(r);
    }
  }
  for (const ContentEdit& e : edits) {
    bool inside = false;
    for (auto [begin, end] : merged) inside |= e.begin >= begin && e.end <= end;
    EXPECT_TRUE(inside) << "edit [" << e.begin << ", " << e.end << ") outside every finding";
  }
  absl::StatusOr<std::string> cleaned = ApplyEdits(raw, edits);
  EXPECT_TRUE(cleaned.ok()) << cleaned.status();
  if (!cleaned.ok()) return "";
  // The decomposition, checked segment by segment rather than trusted to ApplyEdits.
  size_t at_raw = 0, at_clean = 0;
  for (const ContentEdit& e : edits) {
    const size_t keep = e.begin - at_raw;
    EXPECT_EQ(cleaned->substr(at_clean, keep), raw.substr(at_raw, keep));
    at_clean += keep;
    EXPECT_EQ(cleaned->substr(at_clean, e.replacement.size()), e.replacement);
    at_clean += e.replacement.size();
    at_raw = e.end;
  }
  EXPECT_EQ(cleaned->substr(at_clean), raw.substr(at_raw));
  EXPECT_LE(LongestLine(*cleaned), 998u);
  if (edits_out != nullptr) *edits_out = edits;
  return *cleaned;
}

// Python reads the same structure (walk) with a UTF-8 text/plain notice at each of
// `replaced` naming `needles`, and finds no more defects than in the original.
void ExpectValidMime(const std::string& raw, const std::string& cleaned,
                     const std::vector<size_t>& replaced, const std::vector<std::string>& needles) {
  PythonView v = ReadWithPython(raw, cleaned);
  if (!v.available) GTEST_SKIP() << "python3 with its email package is not installed";
  ASSERT_TRUE(v.error.empty()) << v.error;
  ASSERT_EQ(v.cleaned_types.size(), v.original_types.size()) << cleaned;
  for (size_t i = 0; i < v.cleaned_types.size(); ++i) {
    const bool is_replaced = std::find(replaced.begin(), replaced.end(), i) != replaced.end();
    if (is_replaced) {
      EXPECT_EQ(v.cleaned_types[i], "text/plain") << "part " << i;
      ASSERT_TRUE(v.notices.count(i)) << "part " << i << " is not the notice\n" << cleaned;
      for (const std::string& n : needles) EXPECT_THAT(v.notices[i], HasSubstr(n)) << "part " << i;
    } else {
      EXPECT_EQ(v.cleaned_types[i], v.original_types[i]) << "part " << i;
      EXPECT_FALSE(v.notices.count(i)) << "part " << i;
    }
  }
  EXPECT_LE(v.cleaned_defects, v.original_defects);
}

// ---- Messages -------------------------------------------------------------------------------

const std::string kMixed =
    "From: alice@example.org\r\n"
    "To: bob@example.net\r\n"
    "Subject: invoice\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"XyZ\"\r\n"
    "\r\n"
    "This is a multi-part message in MIME format.\r\n"
    "--XyZ\r\n"
    "Content-Type: text/plain; charset=us-ascii\r\n"
    "\r\n"
    "Please see the attached invoice.\r\n"
    "--XyZ\r\n"
    "Content-Type: application/zip;\r\n"
    "\tname=\"invoice.zip\"\r\n"
    "Content-Description: the invoice\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "Content-Disposition: attachment; filename=\"invoice.zip\"\r\n"
    "\r\n"
    "UEsDBBQAAAAIAGRlc2t0b3AuaW5pUEsDBBQAAAAIAGRlc2t0b3AuaW5p\r\n"
    "UEsDBBQAAAAIAA==\r\n"
    "--XyZ\r\n"
    "Content-Type: application/pdf; name=\"terms.pdf\"\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "Content-Disposition: attachment; filename=\"terms.pdf\"\r\n"
    "\r\n"
    "JVBERi0xLjQK\r\n"
    "--XyZ--\r\n"
    "Epilogue text.\r\n";

TEST(CleaningEdits, MiddlePartOfThreeReplacedOthersByteForByte) {
  const MimePart infected = Child(kMixed, "XyZ", 1, "invoice.zip");
  const std::string cleaned = CleanAndCheck(kMixed, {Infected(infected, "Win.Test.EICAR_HDB-1")});
  // Everything before the part's first byte and after its last is the original.
  EXPECT_EQ(cleaned.substr(0, infected.header_begin), kMixed.substr(0, infected.header_begin));
  const std::string tail = kMixed.substr(infected.body_end);
  ASSERT_GE(cleaned.size(), tail.size());
  EXPECT_EQ(cleaned.substr(cleaned.size() - tail.size()), tail);
  // Within the part: the non-MIME field stays, every Content-* field of the file is gone.
  EXPECT_THAT(cleaned, HasSubstr("--XyZ\r\nContent-Description: the invoice\r\n"
                                 "Content-Type: text/plain; charset=\"UTF-8\"\r\n"
                                 "Content-Transfer-Encoding: base64\r\n"
                                 "Content-Disposition: inline; filename=\"kensa-virus-notice.txt\"\r\n"
                                 "\r\n"));
  EXPECT_THAT(cleaned, Not(HasSubstr("invoice.zip")));
  EXPECT_THAT(cleaned, Not(HasSubstr("UEsDB")));
  ExpectValidMime(kMixed, cleaned, {2}, {"Win.Test.EICAR_HDB-1", "invoice.zip", kCtx.queue_id,
                                         kCtx.hostname, kCtx.signature_version,
                                         "ウイルスが検出されたため", "contained a virus"});
}

TEST(CleaningEdits, LfOnlyMessageGetsLfEdits) {
  const std::string raw = Lf(kMixed);
  const MimePart infected = Child(raw, "XyZ", 1, "invoice.zip");
  ASSERT_FALSE(infected.crlf);
  std::vector<ContentEdit> edits;
  const std::string cleaned = CleanAndCheck(raw, {Infected(infected, "Eicar-Signature")}, &edits);
  EXPECT_EQ(cleaned.find('\r'), std::string::npos);
  for (const ContentEdit& e : edits) EXPECT_EQ(e.replacement.find('\r'), std::string::npos);
  ExpectValidMime(raw, cleaned, {2}, {"Eicar-Signature"});
}

TEST(CleaningEdits, FirstAndLastPartsReplacedTogether) {
  const std::vector<PartFinding> findings = {
      Infected(Child(kMixed, "XyZ", 2, "terms.pdf"), "Pdf.Exploit.A"),
      Unscannable(Child(kMixed, "XyZ", 0), "Heuristics.Limits.Exceeded.MaxScanSize"),
  };
  const std::string cleaned = CleanAndCheck(kMixed, findings);
  EXPECT_THAT(cleaned, HasSubstr("UEsDBBQAAAAIAGRlc2t0b3AuaW5pUEsDBBQAAAAIAGRlc2t0b3AuaW5p\r\n"));
  ExpectValidMime(kMixed, cleaned, {1, 3}, {});
  PythonView v = ReadWithPython(kMixed, cleaned);
  if (!v.available) return;
  EXPECT_THAT(v.notices[3], HasSubstr("Pdf.Exploit.A"));
  EXPECT_THAT(v.notices[1], HasSubstr("could not be scanned (too large or too deeply nested"));
  EXPECT_THAT(v.notices[1], HasSubstr("Heuristics.Limits.Exceeded.MaxScanSize"));
  EXPECT_THAT(v.notices[1], HasSubstr("ウイルス検査ができなかったため（検査できる大きさ"));
}

const std::string kNested =
    "From: alice@example.org\r\n"
    "Subject: nested\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
    "\r\n"
    "--outer\r\n"
    "Content-Type: multipart/alternative; boundary=\"inner\"\r\n"
    "\r\n"
    "--inner\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "\r\n"
    "plain text\r\n"
    "--inner\r\n"
    "Content-Type: text/html; charset=utf-8\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "<html><script>bad()</script></html>\r\n"
    "--inner--\r\n"
    "\r\n"
    "--outer\r\n"
    "Content-Type: application/octet-stream; name=\"a.bin\"\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "AAAA\r\n"
    "--outer--\r\n";

TEST(CleaningEdits, LeafOfAlternativeInsideMixed) {
  const MimePart html = Child(kNested, "inner", 1, "", /*parent=*/1);
  const std::string cleaned = CleanAndCheck(kNested, {Infected(html, "Html.Exploit.X")});
  EXPECT_THAT(cleaned, HasSubstr("plain text\r\n--inner\r\nContent-Type: text/plain"));
  EXPECT_THAT(cleaned, HasSubstr("\r\n--inner--\r\n\r\n--outer\r\nContent-Type: application/octet-stream"));
  ExpectValidMime(kNested, cleaned, {3}, {"Html.Exploit.X", "(no name)", "（名前なし）"});
}

const std::string kForwarded =
    "From: alice@example.org\r\n"
    "Subject: fw\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"m1\"\r\n"
    "\r\n"
    "--m1\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "Forwarded message below.\r\n"
    "--m1\r\n"
    "Content-Type: message/rfc822\r\n"
    "\r\n"
    "From: carol@example.com\r\n"
    "Subject: setup\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"m2\"\r\n"
    "\r\n"
    "--m2\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "hi\r\n"
    "--m2\r\n"
    "Content-Type: application/x-msdownload; name=\"setup.exe\"\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "Content-Disposition: attachment; filename=\"setup.exe\"\r\n"
    "\r\n"
    "TVqQAAMAAAAEAAAA\r\n"
    "--m2--\r\n"
    "\r\n"
    "--m1--\r\n";

TEST(CleaningEdits, LeafInsideAttachedMessage) {
  const MimePart exe = Child(kForwarded, "m2", 1, "setup.exe", /*parent=*/4);
  const std::string cleaned = CleanAndCheck(kForwarded, {Infected(exe, "Win.Trojan.Agent-1")});
  EXPECT_THAT(cleaned, HasSubstr("From: carol@example.com\r\nSubject: setup\r\n"));
  ExpectValidMime(kForwarded, cleaned, {5}, {"Win.Trojan.Agent-1", "setup.exe"});
}

const std::string kForwardedSinglePart =
    "From: alice@example.org\r\n"
    "Subject: fw\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"m1\"\r\n"
    "\r\n"
    "--m1\r\n"
    "Content-Type: message/rfc822\r\n"
    "\r\n"
    "From: carol@example.com\r\n"
    "Subject: the file\r\n"
    "Content-Type: application/octet-stream; name=\"x.exe\"\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "TVqQAAMAAAAEAAAA\r\n"
    "--m1--\r\n";

TEST(CleaningEdits, BodyOfAttachedSinglePartMessageKeepsItsHeaders) {
  const size_t delim = Delimiter(kForwardedSinglePart, "m1", 0);
  const size_t inner = kForwardedSinglePart.find("From: carol");
  const MimePart body =
      PartAt(kForwardedSinglePart, inner,
             BeforeDelimiter(kForwardedSinglePart, Delimiter(kForwardedSinglePart, "m1", 1)),
             PartRole::kMessageBody, /*parent=*/1, "x.exe");
  ASSERT_GT(inner, delim);
  const std::string cleaned = CleanAndCheck(kForwardedSinglePart, {Infected(body, "Win.Test.1")});
  // Inner From/Subject stay; MIME-Version is only added at the top level.
  EXPECT_THAT(cleaned, HasSubstr("\r\n\r\nFrom: carol@example.com\r\nSubject: the file\r\n"
                                 "Content-Type: text/plain; charset=\"UTF-8\"\r\n"));
  EXPECT_EQ(cleaned.find("MIME-Version"), cleaned.rfind("MIME-Version"));
  ExpectValidMime(kForwardedSinglePart, cleaned, {2}, {"Win.Test.1", "x.exe"});
}

TEST(CleaningEdits, TopLevelBase64BodyKeepsMessageHeaders) {
  const std::string raw =
      "Received: from x by y; Mon, 1 Jan 2024 00:00:00 +0000\r\n"
      "From: a@example.org\r\n"
      "To: b@example.net\r\n"
      "Subject: eicar\r\n"
      "MIME-Version: 1.0\r\n"
      "Content-Type: application/octet-stream; name=\"eicar.com\"\r\n"
      "Content-Transfer-Encoding: base64\r\n"
      "Content-Disposition: attachment; filename=\"eicar.com\"\r\n"
      "\r\n"
      "WDVPIVAlQEFQWzRcUFpYNTQoUF4pN0NDKTd9JEVJQ0FSLVNUQU5EQVJELUFOVElWSVJVUy1URVNU\r\n"
      "LUZJTEUhJEgrSCo=\r\n";
  const MimePart body = PartAt(raw, 0, raw.size(), PartRole::kMessageBody, -1, "eicar.com");
  const std::string cleaned = CleanAndCheck(raw, {Infected(body, "Eicar-Signature")});
  EXPECT_TRUE(absl::StartsWith(cleaned, raw.substr(0, raw.find("Content-Type"))));
  EXPECT_EQ(cleaned.find("MIME-Version"), cleaned.rfind("MIME-Version"));
  EXPECT_TRUE(absl::EndsWith(cleaned, "\r\n"));
  ExpectValidMime(raw, cleaned, {0}, {"Eicar-Signature", "eicar.com"});
}

TEST(CleaningEdits, TopLevel7bitBodyWithoutMimeVersionGetsOne) {
  const std::string raw =
      "From: a@example.org\r\n"
      "Subject: eicar\r\n"
      "\r\n"
      "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*\r\n";
  const MimePart body = PartAt(raw, 0, raw.size(), PartRole::kMessageBody, -1);
  ASSERT_EQ(body.header_end, raw.find("\r\n\r\n") + 2);
  const std::string cleaned = CleanAndCheck(raw, {Infected(body, "Eicar-Signature")});
  EXPECT_TRUE(absl::StartsWith(cleaned, "From: a@example.org\r\nSubject: eicar\r\nMIME-Version: 1.0\r\n"
                                        "Content-Type: text/plain; charset=\"UTF-8\"\r\n"));
  EXPECT_THAT(cleaned, Not(HasSubstr("EICAR")));
  ExpectValidMime(raw, cleaned, {0}, {"Eicar-Signature"});
}

TEST(CleaningEdits, TwoReadingsOfOneRangeMakeOneNoticeNamingBoth) {
  MimePart first = Child(kMixed, "XyZ", 1, "invoice.zip");
  MimePart second = first;
  second.alternate_view = true;
  second.id = 7;
  std::vector<ContentEdit> one, both;
  CleanAndCheck(kMixed, {Infected(first, "Virus.A")}, &one);
  const std::string cleaned = CleanAndCheck(
      kMixed, {Infected(second, "Virus.B"), Infected(first, "Virus.A"), Unscannable(first, "x")},
      &both);
  EXPECT_EQ(both.size(), one.size());
  ExpectValidMime(kMixed, cleaned, {2}, {"Virus.A, Virus.B"});
  EXPECT_THAT(VirusHeaders({Infected(second, "Virus.B"), Infected(first, "Virus.A")}, kCtx),
              HasSubstr("Infected (Virus.B, Virus.A); 1 part replaced"));
}

TEST(CleaningEdits, PartInsideAReplacedPartCollapsesIntoIt) {
  const MimePart outer = Child(kMixed, "XyZ", 1, "invoice.zip");
  // Another reading found a part inside the body (as if the zip body were a message).
  MimePart inner = outer;
  inner.header_begin = inner.header_end = inner.body_begin = outer.body_begin + 4;
  inner.body_end = outer.body_end - 3;
  inner.headers.clear();
  inner.alternate_view = true;
  std::vector<ContentEdit> alone, nested;
  CleanAndCheck(kMixed, {Infected(outer, "Outer.Virus")}, &alone);
  const std::string cleaned =
      CleanAndCheck(kMixed, {Infected(inner, "Inner.Virus"), Infected(outer, "Outer.Virus")}, &nested);
  ASSERT_EQ(nested.size(), alone.size());
  for (size_t i = 0; i < nested.size(); ++i) {
    EXPECT_EQ(nested[i].begin, alone[i].begin);
    EXPECT_EQ(nested[i].end, alone[i].end);
  }
  ExpectValidMime(kMixed, cleaned, {2}, {"Outer.Virus", "Inner.Virus", "invoice.zip"});
}

TEST(CleaningEdits, PartlyOverlappingReadingsAreCoveredWhole) {
  // Two readings that disagree on where a part ends: both ranges go, in one replacement.
  const MimePart a = Child(kMixed, "XyZ", 1, "invoice.zip");
  MimePart b = Child(kMixed, "XyZ", 2, "terms.pdf");
  b.header_begin = b.header_end = b.body_begin = a.body_begin + 10;
  b.headers.clear();
  b.alternate_view = true;
  std::vector<ContentEdit> edits;
  const std::string cleaned = CleanAndCheck(kMixed, {Infected(a, "A"), Infected(b, "B")}, &edits);
  ASSERT_FALSE(edits.empty());
  EXPECT_EQ(edits.back().end, b.body_end);
  EXPECT_THAT(cleaned, Not(HasSubstr("JVBERi0xLjQK")));
  EXPECT_THAT(cleaned, Not(HasSubstr("UEsDB")));
  EXPECT_TRUE(absl::EndsWith(cleaned, "\r\n--XyZ--\r\nEpilogue text.\r\n"));
}

TEST(CleaningEdits, AReadingThatStartsInTheHeaderBlockTakesTheHeadersToo) {
  const MimePart a = Child(kMixed, "XyZ", 1, "invoice.zip");
  MimePart b = a;
  b.header_begin = b.header_end = b.body_begin = a.header_begin + 20;  // inside a's fields
  b.headers.clear();
  b.alternate_view = true;
  std::vector<ContentEdit> edits;
  const std::string cleaned = CleanAndCheck(kMixed, {Infected(a, "A"), Infected(b, "B")}, &edits);
  ASSERT_EQ(edits.size(), 1u);
  EXPECT_EQ(edits[0].begin, a.header_begin);
  EXPECT_EQ(edits[0].end, a.body_end);
  ExpectValidMime(kMixed, cleaned, {2}, {"A, B", "invoice.zip"});
}

TEST(CleaningEdits, EveryDuplicateMimeFieldIsRemoved) {
  const std::string raw =
      "Content-Type: multipart/mixed; boundary=b\r\n"
      "\r\n"
      "--b\r\n"
      "Content-Type: text/plain\r\n"
      "Content-Transfer-Encoding: 7bit\r\n"
      "Content-Type: application/x-msdownload; name=\"a.exe\"\r\n"
      "content-transfer-encoding: base64\r\n"
      "CONTENT-DISPOSITION: attachment; filename=a.exe\r\n"
      "X-Other: kept\r\n"
      "Content-Disposition: inline\r\n"
      "\r\n"
      "TVqQ\r\n"
      "--b--\r\n";
  MimePart p = Child(raw, "b", 0, "a.exe");
  ASSERT_EQ(p.headers.size(), 7u);
  const std::string cleaned = CleanAndCheck(raw, {Infected(p, "Win.X")});
  const std::string part = cleaned.substr(p.header_begin);
  EXPECT_THAT(part, HasSubstr("X-Other: kept\r\n"));
  auto count = [&](std::string_view field) {
    std::string lower = absl::AsciiStrToLower(part);
    size_t n = 0;
    for (size_t at = lower.find(field); at != std::string::npos; at = lower.find(field, at + 1)) ++n;
    return n;
  };
  EXPECT_EQ(count("content-type:"), 1u);
  EXPECT_EQ(count("content-transfer-encoding:"), 1u);
  EXPECT_EQ(count("content-disposition:"), 1u);
  ExpectValidMime(raw, cleaned, {1}, {"Win.X", "a.exe"});
}

TEST(CleaningEdits, HostileFileNamesCannotBreakTheStructure) {
  const std::string hostile = "evil\"name--XyZ\r\n--XyZ--\r\nContent-Type: text/html\r\n\x01請求書\xe2\x80\xae" "fdp.exe";
  const MimePart p = Child(kMixed, "XyZ", 1, hostile);
  const std::string cleaned = CleanAndCheck(kMixed, {Infected(p, "Win.Y\r\nX-Injected: 1")});
  EXPECT_THAT(cleaned, Not(HasSubstr("evil")));  // only inside the base64 notice
  EXPECT_THAT(cleaned, Not(HasSubstr("X-Injected")));
  ExpectValidMime(kMixed, cleaned, {2},
                  {"evil\"name--XyZ--XyZ--Content-Type: text/html請求書fdp.exe", "Win.YX-Injected: 1"});
  PythonView v = ReadWithPython(kMixed, cleaned);
  if (v.available) {
    EXPECT_THAT(v.notices[2], Not(HasSubstr("\x01")));
    EXPECT_THAT(v.notices[2], Not(HasSubstr("\xe2\x80\xae")));  // RIGHT-TO-LEFT OVERRIDE
  }
}

TEST(CleaningEdits, PreambleAndEpilogueBecomeEmptyLines) {
  const size_t first = Delimiter(kMixed, "XyZ", 0);
  const size_t body = kMixed.find("This is a multi-part");
  MimePart preamble;
  preamble.role = PartRole::kPreamble;
  preamble.header_begin = preamble.header_end = preamble.body_begin = body;
  preamble.body_end = BeforeDelimiter(kMixed, first);
  MimePart epilogue;
  epilogue.role = PartRole::kEpilogue;
  epilogue.header_begin = epilogue.header_end = epilogue.body_begin = kMixed.find("Epilogue");
  epilogue.body_end = kMixed.size();
  const std::string cleaned = CleanAndCheck(
      kMixed, {Infected(epilogue, "Uue.Virus"), Infected(preamble, "Uue.Virus")});
  EXPECT_THAT(cleaned, HasSubstr("boundary=\"XyZ\"\r\n\r\n\r\n\r\n--XyZ\r\n"));
  EXPECT_TRUE(absl::EndsWith(cleaned, "--XyZ--\r\n\r\n"));
  EXPECT_THAT(cleaned, Not(HasSubstr("multi-part message")));
  ExpectValidMime(kMixed, cleaned, {}, {});
  PythonView v = ReadWithPython(kMixed, cleaned);
  if (v.available) {
    EXPECT_EQ(absl::StripAsciiWhitespace(v.cleaned_preamble), "");
    EXPECT_EQ(absl::StripAsciiWhitespace(v.cleaned_epilogue), "");
  }
}

TEST(CleaningEdits, CleanFindingsAndNoFindingsEditNothing) {
  EXPECT_TRUE(CleaningEdits({}, kCtx).empty());
  PartFinding clean{Child(kMixed, "XyZ", 1), {}};
  EXPECT_TRUE(CleaningEdits({clean}, kCtx).empty());
  EXPECT_EQ(VirusHeaders({clean}, kCtx),
            "X-Virus-Scanned: kensa mx1.example.jp; signatures 27123\r\nX-Virus-Status: Clean\r\n");
}

// ---- The notice and the trace headers -------------------------------------------------------

TEST(NoticeText, JapaneseFirstThenEnglishWithEveryDetail) {
  const std::string text =
      NoticeText(Infected(Child(kMixed, "XyZ", 1, "invoice.zip"), "Win.Test.EICAR_HDB-1"), kCtx, "\r\n");
  const size_t ja = text.find("このメッセージの添付ファイルからウイルスが検出されたため、kensa が削除しました。");
  const size_t en = text.find(
      "kensa removed an attachment from this message because it contained a virus.\r\n"
      "  File: invoice.zip\r\n"
      "  Virus: Win.Test.EICAR_HDB-1\r\n"
      "  Queue ID: 8E2PMf2Tl09BqI\r\n"
      "  Host: mx1.example.jp\r\n"
      "  Signatures: 27123\r\n");
  ASSERT_NE(ja, std::string::npos) << text;
  ASSERT_NE(en, std::string::npos) << text;
  EXPECT_LT(ja, en);
  EXPECT_THAT(text, HasSubstr("  ファイル名: invoice.zip\r\n  ウイルス名: Win.Test.EICAR_HDB-1\r\n"));
  EXPECT_THAT(text, HasSubstr("\r\n\r\nkensa removed"));  // a blank line between the languages
  EXPECT_EQ(Lf(text), NoticeText(Infected(Child(kMixed, "XyZ", 1, "invoice.zip"),
                                          "Win.Test.EICAR_HDB-1"), kCtx, "\n"));
}

TEST(NoticeText, UnscannableNamesTheReason) {
  const std::string text =
      NoticeText(Unscannable(Child(kMixed, "XyZ", 1, "secret.zip"), "Heuristics.Encrypted.Zip"), kCtx, "\n");
  EXPECT_THAT(text, HasSubstr("because it could not be scanned (encrypted archive) and policy "
                              "treats such attachments as infected."));
  EXPECT_THAT(text, HasSubstr("  Reason: Heuristics.Encrypted.Zip\n"));
  EXPECT_THAT(text, HasSubstr("（暗号化された圧縮ファイル）"));
  EXPECT_THAT(text, HasSubstr("  理由: Heuristics.Encrypted.Zip\n"));
  EXPECT_THAT(text, Not(HasSubstr("Virus:")));
}

TEST(NoticeText, FileNameIsCutAt200CharactersAndMadeValidUtf8) {
  std::string long_name;
  for (int i = 0; i < 300; ++i) long_name += "あ";
  std::string text = NoticeText(Infected(Child(kMixed, "XyZ", 1, long_name), "V"), kCtx, "\n");
  std::string expected;
  for (int i = 0; i < 199; ++i) expected += "あ";
  EXPECT_THAT(text, HasSubstr("  File: " + expected + "\xE2\x80\xA6\n"));
  text = NoticeText(Infected(Child(kMixed, "XyZ", 1, "a\xff\xc3(b\tc\x7f" "d"), "V"), kCtx, "\n");
  EXPECT_THAT(text, HasSubstr("  File: a\xEF\xBF\xBD\xEF\xBF\xBD(bcd\n"));
}

TEST(VirusHeaders, InfectedAndUnscannableWithCount) {
  const std::vector<PartFinding> findings = {
      Infected(Child(kMixed, "XyZ", 1), "Win.Test.EICAR_HDB-1"),
      Unscannable(Child(kMixed, "XyZ", 2), "Heuristics.Encrypted.Zip"),
      Infected(Child(kMixed, "XyZ", 0), "Win.Test.EICAR_HDB-1"),
  };
  EXPECT_EQ(VirusHeaders(findings, kCtx),
            "X-Virus-Scanned: kensa mx1.example.jp; signatures 27123\r\n"
            "X-Virus-Status: Infected (Win.Test.EICAR_HDB-1), Unscannable\r\n"
            " (Heuristics.Encrypted.Zip); 3 parts replaced\r\n");
  const std::string one = VirusHeaders({findings[1]}, kCtx);
  EXPECT_EQ(one.substr(one.find("X-Virus-Status")),
            "X-Virus-Status: Unscannable (Heuristics.Encrypted.Zip); 1 part replaced\r\n");
}

TEST(VirusHeaders, ScanErrorShowsThePartNeverALocalPath) {
  const std::string why = "scan error: temporary file in /var/lib/kensa/tmp: No space left";
  const std::vector<PartFinding> named = {
      Unscannable(Child(kMixed, "XyZ", 1, "report.pdf"), why)};
  const std::string h = VirusHeaders(named, kCtx);
  EXPECT_EQ(h.find("/var/lib"), std::string::npos) << h;
  EXPECT_THAT(absl::StrReplaceAll(h, {{"\r\n ", " "}}),
              HasSubstr("Unscannable (scan error in \"report.pdf\"); 1 part replaced"));
  const std::string notice = NoticeText(named[0], kCtx, "\n");
  EXPECT_EQ(notice.find("/var/lib"), std::string::npos) << notice;
  EXPECT_THAT(notice, HasSubstr("scan error in \"report.pdf\""));
  const MimePart unnamed = Child(kMixed, "XyZ", 1);
  const std::string h2 = VirusHeaders({Unscannable(unnamed, why)}, kCtx);
  EXPECT_EQ(h2.find("/var/lib"), std::string::npos) << h2;
  EXPECT_THAT(absl::StrReplaceAll(h2, {{"\r\n ", " "}}),
              HasSubstr(absl::StrCat("scan error in part ", unnamed.id)));
}

TEST(VirusHeaders, ManyNamesFoldAndHostileNamesAreSanitised) {
  std::vector<PartFinding> findings;
  for (int i = 0; i < 300; ++i) {
    MimePart p = Child(kMixed, "XyZ", 1);
    for (uint64_t* offset : {&p.header_begin, &p.header_end, &p.body_begin, &p.body_end}) {
      *offset += static_cast<uint64_t>(i) * 1000000;  // distinct ranges
    }
    findings.push_back(Infected(p, "Win.Trojan.Name-" + std::to_string(i)));
  }
  findings.push_back(Infected(Child(kMixed, "XyZ", 0), "Bad\r\nBcc: victim@example.org\x80" + std::string(2000, 'x')));
  NoticeContext ctx = kCtx;
  ctx.hostname = "mx1\r\nX-Evil: 1";
  const std::string h = VirusHeaders(findings, ctx);
  EXPECT_TRUE(absl::StartsWith(h, "X-Virus-Scanned: kensa mx1X-Evil: 1; signatures 27123\r\n"));
  const std::string unfolded = absl::StrReplaceAll(h, {{"\r\n ", " "}});
  EXPECT_THAT(unfolded, HasSubstr("BadBcc: victim@example.org?xxx"));
  EXPECT_THAT(unfolded, HasSubstr("; 301 parts replaced\r\n"));
  std::vector<std::string> lines = absl::StrSplit(h, "\r\n");
  ASSERT_EQ(lines.back(), "");
  lines.pop_back();
  EXPECT_GT(lines.size(), 10u);
  for (size_t i = 0; i < lines.size(); ++i) {
    EXPECT_LE(lines[i].size(), 998u);
    EXPECT_EQ(lines[i].find_first_of("\r\n"), std::string::npos);
    // Only two fields: every other line is a continuation.
    if (i >= 2) {
      EXPECT_TRUE(lines[i].starts_with(" ")) << lines[i];
    }
    for (char c : lines[i]) EXPECT_TRUE(c >= 0x20 && c < 0x7f) << static_cast<int>(c);
  }
}

}  // namespace
}  // namespace kensa::scan
