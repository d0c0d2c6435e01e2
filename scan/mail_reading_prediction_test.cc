// SPDX-License-Identifier: GPL-2.0-or-later
// The prediction of libclamav's reading of a message against libclamav's actual reading: for
// every message predicted plain (real corpora with CRLF line endings, and generated plain
// messages), every part libclamav's MIME parser extracts must be one kensa scans — a decoded
// part or a predicted line form — and the message must be typed mail.
#include "scan/mail_reading_prediction.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/escaping.h"
#include "scan/clam_engine.h"
#include "scan/clam_test_support.h"
#include "scan/mime_parser.h"
#include "scan/transfer_encoding.h"

namespace kensa::scan {
namespace {

namespace fs = std::filesystem;

struct Parsed {
  std::vector<MimePart> leaves, containers;
  std::vector<std::string> decoded;  // per leaf
  bool limited = false;
};

class CollectingSink : public MimeSink {
 public:
  explicit CollectingSink(Parsed* out) : out_(out) {}
  void OnContainerBegin(const MimePart& part) override { out_->containers.push_back(part); }
  void OnLeafBegin(const MimePart& part) override { open_[part.id]; }
  void OnLeafData(uint32_t id, std::string_view d) override { open_[id].append(d); }
  void OnLeafEnd(const MimePart& part) override {
    out_->leaves.push_back(part);
    out_->decoded.push_back(std::move(open_[part.id]));
    open_.erase(part.id);
  }
  void OnLimitExceeded(std::string_view) override { out_->limited = true; }

 private:
  Parsed* out_;
  std::map<uint32_t, std::string> open_;
};

Parsed Parse(std::string_view raw) {
  Parsed p;
  CollectingSink sink(&p);
  MimeParser parser(MimeLimits{}, &sink);
  parser.Feed(raw);
  parser.Finish();
  return p;
}

struct Layer {
  std::string type;
  uint32_t depth;
  std::string bytes;
};

class Recorder : public ClamEngine::LayerVisitor {
 public:
  Action OnLayer(std::string_view type, uint32_t depth, std::string_view bytes) override {
    layers.push_back({std::string(type), depth, std::string(bytes)});
    // What lies below a part is the part's own walk: the same bytes give the same walk.
    return depth == 0 ? Action::kDescend : Action::kSkip;
  }
  std::vector<Layer> layers;
};

class MailReadingPredictionTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_TRUE(InitLibclamav().ok());
    dir_ = new testing::TempDir();
    ClamLimits limits;
    limits.temp_dir = dir_->str();
    absl::StatusOr<std::shared_ptr<const ClamEngine>> probe = ClamEngine::LoadProbe("", limits);
    ASSERT_TRUE(probe.ok()) << probe.status();
    probe_ = new std::shared_ptr<const ClamEngine>(*probe);
  }
  static void TearDownTestSuite() {
    delete probe_;
    delete dir_;
  }

  // Checks the prediction against libclamav when it says plain; returns whether it did.
  static bool CheckAgainstLibclamav(const std::string& raw, const std::string& name) {
    Parsed parsed = Parse(raw);
    if (parsed.limited) return false;
    MailReadingPrediction p = PredictMailReading(raw, parsed.leaves, parsed.containers);
    if (std::getenv("KENSA_PRINT_WHY_NOT") && !p.plain) std::printf("why not: %s\n", p.why_not.c_str());
    if (!p.plain) return false;
    std::set<std::string> scanned;
    for (const std::string& d : parsed.decoded) scanned.insert(d);
    for (const auto& f : p.line_forms) scanned.insert(f.bytes);
    Recorder recorder;
    ClamEngine::ProbeResult r = (*probe_)->Probe(raw, -1, &recorder);
    EXPECT_TRUE(r.complete) << name;
    EXPECT_FALSE(recorder.layers.empty()) << name;
    if (recorder.layers.empty()) return true;
    const std::string& top = recorder.layers[0].type;
    EXPECT_TRUE(top == "CL_TYPE_MAIL" || top == "CL_TYPE_MHTML") << name << ": " << top;
    for (const Layer& l : recorder.layers) {
      if (l.depth != 1) continue;
      if (!scanned.count(l.bytes) && std::getenv("KENSA_DUMP_DIR")) {
        const fs::path dump = fs::path(std::getenv("KENSA_DUMP_DIR")) / fs::path(name).filename();
        std::ofstream(dump, std::ios::binary) << raw;
        std::ofstream forms(dump.string() + ".forms", std::ios::binary);
        for (const auto& f : p.line_forms) forms << "== form of leaf " << f.leaf << "\n" << f.bytes;
        for (const MimePart& leaf : parsed.leaves) {
          forms << "== leaf " << leaf.media_type << " " << leaf.body_begin << "-" << leaf.body_end
                << " enc " << static_cast<int>(leaf.encoding) << "\n";
        }
      }
      EXPECT_TRUE(scanned.count(l.bytes)) << name << ": libclamav's reading has a " << l.type
                                          << " part of " << l.bytes.size()
                                          << " bytes kensa does not scan: "
                                          << absl::CEscape(l.bytes.substr(0, 200));
    }
    return true;
  }

  static testing::TempDir* dir_;
  static std::shared_ptr<const ClamEngine>* probe_;
};

testing::TempDir* MailReadingPredictionTest::dir_ = nullptr;
std::shared_ptr<const ClamEngine>* MailReadingPredictionTest::probe_ = nullptr;

std::string Crlf(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) out += '\r';
    out += s[i];
  }
  return out;
}

TEST(LineFormTest, BlankLinesStoredAsLibclamavStoresThem) {
  const std::string raw = "a\r\n  \r\n\t\r\n\r\n \r\nb\r\n\r\n\r\nc\r\n";
  // White space becomes one space, and is dropped after another (empty lines between).
  EXPECT_EQ(LineFormOf(raw, 0, raw.size()), "a\n \n\nb\n\n\nc\n");
  // Outside a text message, runs of empty lines are one; after an empty line, none is kept.
  EXPECT_EQ(LineFormOf(raw, 0, raw.size(), {.collapse_empty_lines = true}), "a\n \n\nb\n\nc\n");
  const std::string lead = "\r\n\r\nx\r\n";
  EXPECT_EQ(LineFormOf(lead, 0, lead.size(),
                       {.collapse_empty_lines = true, .after_empty_line = true}),
            "x\n");
}

TEST(LineFormTest, QuotedPrintableDecodedLineByLine) {
  const std::string raw = "a=3Db =\r\nc=0D=0A\r\n  \r\nend\r\n";
  EXPECT_EQ(LineFormOf(raw, 0, raw.size(), {.quoted_printable = true}), "a=b c\r\n\n \nend\n");
}

TEST(LineFormTest, LinesWrittenBackWithLf) {
  const std::string raw = "H: x\r\n\r\nhello  \r\nworld\tx \r\n\r\nlast";
  EXPECT_EQ(LineFormOf(raw, 8, raw.size()), "hello  \nworld\tx \n\nlast\n");
  // Followed by a delimiter: the delimiter's CRLF ends one more (empty) line.
  const std::string multi = "line1\r\nline2\r\n\r\n--XX--\r\n";
  EXPECT_EQ(LineFormOf(multi, 0, 14), "line1\nline2\n\n");
  // At the end of the message the final CRLF ends the last line.
  const std::string tail = "epilogue text\r\n";
  EXPECT_EQ(LineFormOf(tail, 0, tail.size()), "epilogue text\n");
}

TEST(PlainTest, ReasonsNotPlain) {
  auto why = [](const std::string& raw) {
    Parsed p = Parse(raw);
    MailReadingPrediction r = PredictMailReading(raw, p.leaves, p.containers);
    return r.plain ? std::string("plain") : r.why_not;
  };
  const std::string head = "From: a@b\r\nSubject: s\r\n";
  EXPECT_EQ(why(head + "\r\nplain text\r\n"), "plain");
  EXPECT_EQ(why("X-Other: a\r\n\r\nbody\r\n"), "first header field");
  EXPECT_EQ(why(head + "\r\nbare\nLF\r\n"), "bare LF");
  EXPECT_EQ(why(head + "\r\nno final line ending"), "no final line ending");
  EXPECT_EQ(why(head + "\r\n8bit \xc3\xa9 \xe6\x97\xa5\xf0\x9f\x98\x80\r\n"), "plain");
  EXPECT_EQ(why(head + "\r\nlatin-1 \xe9\r\n"), "not UTF-8 text");
  EXPECT_EQ(why(head + "\r\noverlong \xc0\xaf\r\n"), "not UTF-8 text");
  EXPECT_EQ(why(head + "\r\nsurrogate \xed\xa0\x80\r\n"), "not UTF-8 text");
  EXPECT_EQ(why(head + "\r\nC1 \xc2\x85\r\n"), "not UTF-8 text");
  EXPECT_EQ(why(head + "\r\ncut \xe6\x97\r\n"), "not UTF-8 text");
  EXPECT_EQ(why(head + "\r\nzip PK\x03\x04\r\n"), "control byte");
  EXPECT_EQ(why(head + "\r\nNUL " + std::string(1, '\0') + " \r\n"), "control byte");
  EXPECT_EQ(why(head + "\r\n" + std::string(999, 'a') + "\r\n"), "long line");
  EXPECT_EQ(why(head + "Content-Transfer-Encoding: quoted-printable\r\n\r\na=3Db=\r\nc\r\n"),
            "plain");
  EXPECT_EQ(why(head + "Content-Transfer-Encoding: quoted-printable\r\n\r\na=3Gb\r\n"),
            "quoted-printable not canonical");
  EXPECT_EQ(why(head + "Content-Transfer-Encoding: x-uue\r\n\r\nab\r\n"), "transfer encoding");
  EXPECT_EQ(why(head + "\r\nbegin 644 x.exe\r\nM\r\n`\r\nend\r\n"), "special body line");
  EXPECT_EQ(why(head + "\r\nhi\r\nReceived: from x\r\n"), "special body line");
  EXPECT_EQ(why(head + "\r\nhi\r\nFrom someone\r\n"), "special body line");
  EXPECT_EQ(why(head + "\r\n--not a delimiter\r\n"), "special body line");
  EXPECT_EQ(why(head + "\r\n(This file must be converted with BinHex 4.0)\r\n"), "BinHex");
  EXPECT_EQ(why(head + "Content-Transfer-Encoding: base64\r\n\r\naGVsbG8=\r\naGVsbG8=\r\n"),
            "base64 not canonical");
  EXPECT_EQ(why(head + "Content-Transfer-Encoding: base64\r\n\r\naGVsbG8\r\n"),
            "base64 not canonical");
  EXPECT_EQ(why(head + "Content-Transfer-Encoding: base64\r\n\r\naGVs bG8=\r\n"),
            "base64 not canonical");
  const std::string mp = head + "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n";
  const std::string part = "--XX\r\nContent-Type: text/plain\r\n\r\n";
  EXPECT_EQ(why(mp + part + "a\r\n--XX--\r\n"), "plain");
  EXPECT_EQ(why(mp + part + "a\r\n"), "no close delimiter");
  EXPECT_EQ(why(mp + "--XX\r\n\r\na\r\n--XX--\r\n"), "part without headers");
  EXPECT_EQ(why(mp + part + "Contents\r\n--XX--\r\n"), "header-like first body line");
  EXPECT_EQ(why(mp + part + "- item\r\n--XX--\r\n"), "special body line");
  EXPECT_EQ(why(mp + part + "a\r\n;;\r\n--XX--\r\n"), "special body line");
  EXPECT_EQ(why(mp + "--XX\r\nContent-Type: message/rfc822\r\n\r\nFrom: c@d\r\n\r\nx\r\n--XX--\r\n"),
            "container message/rfc822");
  EXPECT_EQ(why(head + "Content-Type: text/plain\r\nContent-Type: text/html\r\n\r\nx\r\n"),
            "two readings");
  EXPECT_EQ(why(head + "Content-Type: multipart/mixed; boundary=a; boundary=b\r\n\r\n--a\r\n\r\n"
                       "x\r\n--a--\r\n"),
            "boundary parameter");
}

TEST_F(MailReadingPredictionTest, GeneratedPlainMessages) {
  std::mt19937 rng(7);
  auto random_bytes = [&](size_t n) {
    std::string s(n, '\0');
    for (char& c : s) c = static_cast<char>(rng());
    return s;
  };
  auto base64 = [&](std::string_view data, size_t line) {
    std::string b = EncodeBase64(data, line);
    if (rng() % 4 == 0) b += "\r\n";  // a blank line after the data
    return b;
  };
  static const size_t kLineLengths[] = {76, 72, 64, 4, 60, 76};
  // Quoted-printable with soft breaks, spaces left bare or encoded, hex in either case, and
  // now and then an '=' no decoder agrees on.
  auto qp = [&](std::string_view data) {
    static const char* kHex[] = {"0123456789ABCDEF", "0123456789abcdef"};
    std::string out;
    size_t col = 0;
    for (size_t i = 0; i < data.size(); ++i) {
      const unsigned char c = static_cast<unsigned char>(data[i]);
      if (c == '\r' && i + 1 < data.size() && data[i + 1] == '\n' && rng() % 4) {
        out += "\r\n";
        col = 0;
        ++i;
        continue;
      }
      std::string token;
      if (((c >= 33 && c <= 126 && c != '=') || (c == ' ' && rng() % 2)) && rng() % 8) {
        token = std::string(1, static_cast<char>(c));
      } else {
        const char* hex = kHex[rng() % 8 == 0];
        token = {'=', hex[c >> 4], hex[c & 15]};
      }
      if (rng() % 200 == 0) token = "=G";  // not canonical
      if (col + token.size() > 75) {
        out += "=\r\n";
        col = 0;
      }
      out += token;
      col += token.size();
    }
    return out + "\r\n";
  };
  // Lines of every shape libclamav's line store treats apart (white space, runs of empty
  // lines, semicolons, dashes, header-like and mbox-like starts), most of which the prediction
  // refuses; the rest must match libclamav.
  auto text = [&](size_t lines) {
    static const char* kWords[] = {"alpha", "beta", " ", "  ", "\t", "gamma.", "delta,", ".",
                                   "x", ";", "-", "(", ":", "=", "Note: ", "From ", "begin ",
                                   "Content", "base64", "=3D", "--", "\t \t",
                                   "\xc3\xa9t\xc3\xa9", "\xe6\x97\xa5\xe6\x9c\xac", "\xf0\x9f\x98\x80"};
    std::string s;
    for (size_t i = 0; i < lines; ++i) {
      size_t words = rng() % 12;
      if (rng() % 50 == 0) words = 150;  // long lines, some over 998 bytes
      for (size_t w = 0; w < words; ++w) {
        // Mostly plain words, so that most lines stay plain.
        s += kWords[rng() % 4 == 0 ? rng() % std::size(kWords) : rng() % 9];
      }
      s += "\r\n";
    }
    return s;
  };
  int plain = 0;
  for (int i = 0; i < 1000; ++i) {
    std::string raw = i % 2 ? "From: a@example.org\r\n" : "Received: from x by y\r\n";
    raw += "MIME-Version: 1.0\r\nSubject: test " + std::to_string(i) + "\r\n";
    const int shape = i % 5;
    static const char* kEncodings[] = {"", "Content-Transfer-Encoding: 7bit\r\n",
                                       "Content-Transfer-Encoding: 8bit\r\n",
                                       "Content-Transfer-Encoding: binary\r\n"};
    auto encoding = [&] { return std::string(kEncodings[rng() % std::size(kEncodings)]); };
    if (shape == 0) {  // one text part, with or without a final empty line
      static const char* kTypes[] = {"", "Content-Type: text/plain\r\n",
                                     "Content-Type: text/plain; charset=utf-8\r\n",
                                     "Content-Type: text/html\r\n",
                                     "Content-Type: application/octet-stream\r\n"};
      if (rng() % 3 == 0) {
        raw += std::string(kTypes[rng() % std::size(kTypes)]) +
               "Content-Transfer-Encoding: quoted-printable\r\n\r\n" + qp(text(rng() % 30));
      } else {
        raw += kTypes[rng() % std::size(kTypes)] + encoding() + "\r\n" + text(rng() % 40);
      }
      if (rng() % 2) raw += "\r\n";
      if (raw.substr(raw.size() - 4) == "\r\n\r\n" && rng() % 2) raw += "last line\r\n";
    } else if (shape == 1) {  // one base64 part
      raw += "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
             base64(random_bytes(rng() % 3000), 76);
    } else {
      static const char* kBoundaryStarts[] = {"b", "----=_Part_", "=_a'()+_,-./:=?", "Apple-Mail="};
      const std::string b = kBoundaryStarts[rng() % std::size(kBoundaryStarts)] + std::to_string(rng());
      raw += rng() % 2 ? "Content-Type: multipart/mixed; boundary=\"" + b + "\"\r\n\r\n"
                       : "Content-Type: multipart/mixed;\r\n\tboundary=\"" + b + "\"\r\n\r\n";
      if (shape == 3) raw += "This is a multi-part message in MIME format.\r\n\r\n";
      const int parts = 1 + static_cast<int>(rng() % 4);
      for (int k = 0; k < parts; ++k) {
        raw += "--" + b + "\r\n";
        switch (rng() % 5) {
          case 0:
            raw += "Content-Type: text/plain; charset=us-ascii\r\n" + encoding() +
                   (rng() % 4 ? "" : "Content-Disposition: attachment; filename=\"a.txt\"\r\n") +
                   "\r\n" + text(rng() % 20);
            break;
          case 1:
            raw += "Content-Type: text/html\r\n" + encoding() + "\r\n<html><body>hi</body></html>\r\n" +
                   text(rng() % 5);
            break;
          case 2:
            raw += "Content-Type: application/pdf; name=\"a.pdf\"\r\nContent-Transfer-Encoding: "
                   "base64\r\nContent-Disposition: attachment; filename=\"a.pdf\"\r\n\r\n" +
                   base64(random_bytes(rng() % 5000), kLineLengths[rng() % std::size(kLineLengths)]);
            break;
          case 4:
            raw += std::string(rng() % 2 ? "Content-Type: text/plain; charset=utf-8\r\n"
                                         : "Content-Type: text/html\r\n") +
                   "Content-Transfer-Encoding: quoted-printable\r\n\r\n" +
                   qp(text(rng() % 20) + (rng() % 2 ? random_bytes(rng() % 40) : ""));
            break;
          case 3: {
            const std::string inner = "i" + std::to_string(k) + b;
            raw += "Content-Type: multipart/alternative; boundary=" + inner + "\r\n\r\n--" + inner +
                   "\r\nContent-Type: text/plain\r\n\r\n" + text(3) + "--" + inner +
                   "\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
                   base64(Crlf("line one\nline two\n"), 76) + "--" + inner + "--\r\n";
            break;
          }
        }
      }
      raw += "--" + b + "--\r\n";
      if (shape == 4) raw += "an epilogue\r\n" + text(2);
    }
    if (CheckAgainstLibclamav(raw, "generated " + std::to_string(i))) ++plain;
  }
  EXPECT_GT(plain, 300);
}

TEST_F(MailReadingPredictionTest, RealCorpora) {
  fs::path corpora = fs::path(KENSA_SOURCE_DIR) / ".." / "shared" / "corpora";
  if (const char* env = std::getenv("KENSA_CORPORA")) corpora = env;
  if (!fs::is_directory(corpora)) GTEST_SKIP() << "no corpora at " << corpora;
  int messages = 0, plain = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(corpora, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec || !it->is_regular_file() || it->file_size() > (1 << 20)) continue;
    std::ifstream in(it->path(), std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    const std::string raw = Crlf(s.str());
    // Only what could be a message: the prediction refuses anything else by its first line.
    if (raw.find("\r\n\r\n") == std::string::npos) continue;
    ++messages;
    if (CheckAgainstLibclamav(raw, it->path().string())) ++plain;
    // As an MTA relays it to kensa: its trace field on top.
    if (CheckAgainstLibclamav("Received: from mx.example.net by kensa.example.test\r\n" + raw,
                              it->path().string() + " (relayed)")) {
      ++plain;
    }
  }
  std::printf("%d files, %d predicted plain and checked against libclamav\n", messages, plain);
  EXPECT_GT(plain, 100);
}

}  // namespace
}  // namespace kensa::scan
