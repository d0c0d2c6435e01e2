// SPDX-License-Identifier: GPL-2.0-or-later
#include "net/dsn.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace kensa::net {
namespace {

const char kOriginal[] =
    "From: Sender <s@example.org>\r\n"
    "To: a@example.net\r\n"
    "Subject: hello\r\n"
    "Message-ID: <m1@example.org>\r\n"
    "\r\n"
    "Body line one.\r\n"
    "--not-our-boundary\r\n"
    "Body line two.\r\n";

DsnInput Input() {
  DsnInput in;
  in.reporting_mta = "mx.kensa.test";
  in.queue_id = "Q123";
  in.envid = "env-1";
  in.original_sender = "s@example.org";
  in.arrival_unix_micros = 1700000000000000;
  in.original_message = kOriginal;
  in.recipients.push_back({"a@example.net", "rfc822;a@example.net", "failed", "5.1.1",
                           "smtp; 550 5.1.1 no such user", "mx.example.net"});
  in.recipients.push_back({"b@example.net", "", "failed", "4.4.7",
                           "X-Kensa; retry time\r\nexceeded", ""});
  return in;
}

// Parses `message` with python3's email package; prints one line per fact. Empty when
// python3 is missing.
std::string PythonParse(const std::string& message) {
  if (system("python3 -c 'import email' >/dev/null 2>&1") != 0) return "";
  const char* t = getenv("TMPDIR");
  std::string dir = std::string(t != nullptr && *t != '\0' ? t : "/tmp");
  std::string msg_path = dir + "/dsn_test_msg." + std::to_string(getpid());
  std::string py_path = dir + "/dsn_test.py." + std::to_string(getpid());
  std::ofstream(msg_path, std::ios::binary) << message;
  std::ofstream(py_path) << R"PY(
import email, sys
from email import policy
raw = open(sys.argv[1], 'rb').read()
m = email.message_from_bytes(raw, policy=policy.compat32)
print('type=' + m.get_content_type())
print('report-type=' + str(m.get_param('report-type')))
print('boundary=' + str(m.get_boundary()))
print('to=' + str(m['To']))
print('from=' + str(m['From']))
print('defects=%d' % len(m.defects))
parts = m.get_payload()
print('parts=%d' % len(parts))
for i, p in enumerate(parts):
    print('part%d=%s' % (i, p.get_content_type()))
    print('part%d-defects=%d' % (i, len(p.defects)))
ds = parts[1].get_payload()
print('ds-blocks=%d' % len(ds))
for k, v in ds[0].items():
    print('ds0:%s=%s' % (k, v))
for j, b in enumerate(ds[1:]):
    for k, v in b.items():
        print('rcpt%d:%s=%s' % (j, k, v))
# The third part's body, exactly as it sits in the raw bytes between its header block and
# the closing delimiter.
b = m.get_boundary().encode()
chunks = raw.split(b'\r\n--' + b)
third = chunks[3]
body = third[third.index(b'\r\n\r\n') + 4:]
open(sys.argv[1] + '.part3', 'wb').write(body)
)PY";
  std::string cmd = "python3 " + py_path + " " + msg_path + " 2>&1";
  std::string out;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    pclose(p);
  }
  std::ifstream f(msg_path + ".part3", std::ios::binary);
  std::string part3((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  out += "PART3<<" + part3 + ">>";
  unlink(msg_path.c_str());
  unlink((msg_path + ".part3").c_str());
  unlink(py_path.c_str());
  return out;
}

bool Has(const std::string& out, const std::string& line) {
  return out.find(line + "\n") != std::string::npos;
}

void ExpectCrlfOnly(const std::string& s) {
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\n') {
      ASSERT_TRUE(i > 0 && s[i - 1] == '\r') << "bare LF at " << i;
    } else if (s[i] == '\r') {
      ASSERT_TRUE(i + 1 < s.size() && s[i + 1] == '\n') << "bare CR at " << i;
    }
  }
}

TEST(DsnTest, CrlfOnlyAndBoundaryNotInOriginal) {
  DsnInput in = Input();
  std::string dsn = BuildDsn(in);
  ExpectCrlfOnly(dsn);
  EXPECT_EQ(dsn.substr(dsn.size() - 2), "\r\n");
  size_t b = dsn.find("boundary=\"");
  ASSERT_NE(b, std::string::npos);
  std::string boundary = dsn.substr(b + 10, dsn.find('"', b + 10) - b - 10);
  ASSERT_FALSE(boundary.empty());
  EXPECT_EQ(std::string(kOriginal).find(boundary), std::string::npos);
  EXPECT_NE(dsn.find("\r\n--" + boundary + "--\r\n"), std::string::npos);
  EXPECT_NE(dsn.find("From: Mail Delivery System <MAILER-DAEMON@mx.kensa.test>\r\n"),
            std::string::npos);
  EXPECT_NE(dsn.find("To: <s@example.org>\r\n"), std::string::npos);
}

TEST(DsnTest, BoundaryAvoidsOneThatTheOriginalContains) {
  // Build once to learn the boundary scheme, then give an original containing the likely
  // next boundaries for every counter value nearby: whatever is chosen is absent from it.
  DsnInput in = Input();
  std::string first = BuildDsn(in);
  size_t b = first.find("boundary=\"");
  std::string boundary = first.substr(b + 10, first.find('"', b + 10) - b - 10);
  std::string original = std::string(kOriginal) + "--" + boundary + "\r\n";
  in.original_message = original;
  std::string dsn = BuildDsn(in);
  b = dsn.find("boundary=\"");
  std::string chosen = dsn.substr(b + 10, dsn.find('"', b + 10) - b - 10);
  EXPECT_EQ(original.find(chosen), std::string::npos);
}

TEST(DsnTest, ParsesAsMultipartReport) {
  DsnInput in = Input();
  std::string dsn = BuildDsn(in);
  std::string out = PythonParse(dsn);
  if (out.empty()) GTEST_SKIP() << "no python3";
  EXPECT_TRUE(Has(out, "type=multipart/report")) << out;
  EXPECT_TRUE(Has(out, "report-type=delivery-status")) << out;
  EXPECT_TRUE(Has(out, "defects=0")) << out;
  EXPECT_TRUE(Has(out, "parts=3")) << out;
  EXPECT_TRUE(Has(out, "part0=text/plain")) << out;
  EXPECT_TRUE(Has(out, "part1=message/delivery-status")) << out;
  EXPECT_TRUE(Has(out, "part2=message/rfc822")) << out;
  EXPECT_TRUE(Has(out, "to=<s@example.org>")) << out;
  EXPECT_TRUE(Has(out, "ds-blocks=3")) << out;
  EXPECT_TRUE(Has(out, "ds0:Reporting-MTA=dns; mx.kensa.test")) << out;
  EXPECT_TRUE(Has(out, "ds0:Original-Envelope-Id=env-1")) << out;
  EXPECT_TRUE(Has(out, "rcpt0:Original-Recipient=rfc822;a@example.net")) << out;
  EXPECT_TRUE(Has(out, "rcpt0:Final-Recipient=rfc822; a@example.net")) << out;
  EXPECT_TRUE(Has(out, "rcpt0:Action=failed")) << out;
  EXPECT_TRUE(Has(out, "rcpt0:Status=5.1.1")) << out;
  EXPECT_TRUE(Has(out, "rcpt0:Remote-MTA=dns; mx.example.net")) << out;
  EXPECT_TRUE(Has(out, "rcpt0:Diagnostic-Code=smtp; 550 5.1.1 no such user")) << out;
  EXPECT_TRUE(Has(out, "rcpt1:Final-Recipient=rfc822; b@example.net")) << out;
  EXPECT_TRUE(Has(out, "rcpt1:Status=4.4.7")) << out;
  // A CRLF in a remote diagnostic must not break the field (or inject one).
  EXPECT_TRUE(Has(out, "rcpt1:Diagnostic-Code=X-Kensa; retry time  exceeded")) << out;
  EXPECT_EQ(out.find("rcpt1:Original-Recipient"), std::string::npos) << out;
  EXPECT_EQ(out.find("rcpt1:Remote-MTA"), std::string::npos) << out;
  EXPECT_NE(out.find("PART3<<" + std::string(kOriginal) + ">>"), std::string::npos) << out;
}

TEST(DsnTest, ReturnHeadersOnly) {
  DsnInput in = Input();
  in.return_headers_only = true;
  std::string dsn = BuildDsn(in);
  ExpectCrlfOnly(dsn);
  EXPECT_EQ(dsn.find("Body line one"), std::string::npos);
  std::string out = PythonParse(dsn);
  if (out.empty()) GTEST_SKIP() << "no python3";
  EXPECT_TRUE(Has(out, "part2=text/rfc822-headers")) << out;
  std::string original = kOriginal;
  std::string headers = original.substr(0, original.find("\r\n\r\n") + 4);
  EXPECT_NE(out.find("PART3<<" + headers + ">>"), std::string::npos) << out;
}

TEST(DsnTest, OriginalWithoutFinalCrlfStillDelimited) {
  DsnInput in = Input();
  in.original_message = "Subject: x\r\n\r\nno newline";
  std::string dsn = BuildDsn(in);
  ExpectCrlfOnly(dsn);
  std::string out = PythonParse(dsn);
  if (out.empty()) GTEST_SKIP() << "no python3";
  EXPECT_TRUE(Has(out, "parts=3")) << out;
  EXPECT_NE(out.find("PART3<<Subject: x\r\n\r\nno newline\r\n>>"), std::string::npos) << out;
}


TEST(DsnTest, OrcptShownDecoded) {
  DsnInput in = Input();
  in.recipients[0].orcpt = "rfc822;a+2Bb@example.net";
  std::string dsn = BuildDsn(in);
  EXPECT_NE(dsn.find("\r\nOriginal-Recipient: rfc822;a+b@example.net\r\n"), std::string::npos);
  in.recipients[0].orcpt = "rfc822;not+valid";  // kept as given when it is not xtext
  dsn = BuildDsn(in);
  EXPECT_NE(dsn.find("\r\nOriginal-Recipient: rfc822;not+valid\r\n"), std::string::npos);
}

TEST(DsnTest, HugeOriginalReturnsHeadersOnly) {
  std::string big = "Subject: big\r\nFrom: s@example.org\r\n\r\n";
  big += std::string(11u << 20, 'x');
  DsnInput in = Input();
  in.original_message = big;
  std::string dsn = BuildDsn(in);
  EXPECT_LT(dsn.size(), 100000u);
  EXPECT_NE(dsn.find("Content-Type: text/rfc822-headers\r\n"), std::string::npos);
  EXPECT_NE(dsn.find("Subject: big\r\n"), std::string::npos);
  EXPECT_EQ(dsn.find("Content-Type: message/rfc822"), std::string::npos);
}

TEST(DsnTest, HeaderBlockWithoutEndIsCapped) {
  std::string huge(12u << 20, 'h');  // no line end at all
  DsnInput in = Input();
  in.original_message = huge;
  in.return_headers_only = true;
  std::string dsn = BuildDsn(in);
  EXPECT_LT(dsn.size(), 2u << 20);
  ExpectCrlfOnly(dsn);
}

// The delivery agent passes only the first kDsnMaxReturnedHeaders bytes of a message too big
// to return; a header block that ends further in is cut there either way, so the DSN is the
// same whether the caller passed the whole message or its start.
TEST(DsnTest, LongHeaderBlockIsCutAtTheSameBoundWholeOrTruncated) {
  std::string msg = "Subject: long\r\n";
  while (msg.size() < kDsnMaxReturnedHeaders + 4096) msg += "X-Filler: " + std::string(60, 'f') + "\r\n";
  msg += "\r\nbody\r\n";
  DsnInput in = Input();
  in.return_headers_only = true;
  in.original_message = msg;
  const std::string whole = BuildDsn(in);
  in.original_message = std::string_view(msg).substr(0, kDsnMaxReturnedHeaders);
  const std::string cut = BuildDsn(in);
  const std::string quoted = msg.substr(0, kDsnMaxReturnedHeaders);
  const std::string one_more = msg.substr(0, kDsnMaxReturnedHeaders + 1);
  for (const std::string* dsn : {&whole, &cut}) {
    EXPECT_NE(dsn->find(quoted), std::string::npos);
    EXPECT_EQ(dsn->find(one_more), std::string::npos);
    ExpectCrlfOnly(*dsn);
  }
}

TEST(DsnTest, DiagnosticControlsAndLengthTamed) {
  DsnInput in = Input();
  in.recipients[0].diagnostic = "smtp; 550 " + std::string(5000, 'y') + "\x01\x7f";
  std::string dsn = BuildDsn(in);
  ExpectCrlfOnly(dsn);
  size_t start = 0;
  while (start < dsn.size()) {
    size_t end = dsn.find("\r\n", start);
    if (end == std::string::npos) end = dsn.size();
    EXPECT_LE(end - start, 998u);
    start = end + 2;
  }
}

TEST(DsnTest, NoEnvidNoOriginalEnvelopeId) {
  DsnInput in = Input();
  in.envid.clear();
  std::string dsn = BuildDsn(in);
  EXPECT_EQ(dsn.find("Original-Envelope-Id"), std::string::npos);
  EXPECT_NE(dsn.find("X-Kensa-Queue-ID: Q123\r\n"), std::string::npos);
  EXPECT_NE(dsn.find("Auto-Submitted: auto-replied\r\n"), std::string::npos);
  EXPECT_NE(dsn.find("Subject: Undelivered Mail Returned to Sender\r\n"), std::string::npos);
}

}  // namespace
}  // namespace kensa::net
