// SPDX-License-Identifier: GPL-2.0-or-later
// MimeParser against other implementations on real third-party messages: CPython's email
// package (run at test time through tests/mime/expected_leaves.py), stalwart mail-parser's
// expected parses and mime4j's expected decoded parts (../shared/corpora). The rule checked
// is the scanner's: every part another client decodes must be among the leaves we report,
// byte for byte. Where a corpus or python3 is absent the test is skipped, saying why.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "scan/mime_parser.h"
#include "scan/mime_test_sink.h"

namespace kensa::scan {
namespace {

namespace fs = std::filesystem;

fs::path RepoRoot() { return fs::path(KENSA_SOURCE_DIR); }

fs::path Corpora() {
  if (const char* env = std::getenv("KENSA_CORPORA")) return env;
  return RepoRoot() / ".." / "shared" / "corpora";
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

bool HavePython() { return std::system("python3 -c 'import email, json' >/dev/null 2>&1") == 0; }

std::string FromHex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

// Lines printed by expected_leaves.py for each of `files` (one Python start: it is slow).
std::optional<std::map<std::string, std::vector<std::string>>> RunScript(
    const std::string& mode, const std::vector<fs::path>& files) {
  std::string cmd = "python3 '" + (RepoRoot() / "tests" / "mime" / "expected_leaves.py").string() +
                    "' " + mode;
  for (const fs::path& f : files) cmd += " '" + f.string() + "'";
  cmd += " 2>/dev/null";
  FILE* f = popen(cmd.c_str(), "r");
  if (!f) return std::nullopt;
  std::string out;
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), f)) > 0) out.append(buf, n);
  if (pclose(f) != 0) return std::nullopt;
  std::map<std::string, std::vector<std::string>> lines;
  std::vector<std::string>* current = nullptr;
  std::istringstream s(out);
  for (std::string line; std::getline(s, line);) {
    if (line.rfind("#file ", 0) == 0) {
      current = &lines[line.substr(6)];
    } else if (current) {
      current->push_back(line);
    }
  }
  return lines;
}

std::vector<fs::path> FilesIn(const fs::path& dir, bool recursive,
                              const std::function<bool(const fs::path&)>& want) {
  std::vector<fs::path> out;
  if (recursive) {
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
      if (want(e.path())) out.push_back(e.path());
    }
  } else {
    for (const auto& e : fs::directory_iterator(dir)) {
      if (want(e.path())) out.push_back(e.path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

RecordingSink ParseWithSplits(const std::string& raw) {
  RecordingSink whole;
  MimeParser p(MimeLimits{}, &whole);
  p.Feed(raw);
  p.Finish();
  EXPECT_TRUE(whole.problems.empty());
  RecordingSink pieces;
  MimeParser q(MimeLimits{}, &pieces);
  FeedRandomly(q, raw, static_cast<uint32_t>(raw.size()), 61);
  EXPECT_EQ(pieces.Digest(false), whole.Digest(false));
  return whole;
}

std::string NoTrailingBlanks(std::string_view s) {
  std::string out;
  size_t blanks = 0;  // spaces and tabs not yet known to be followed by something else
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == ' ' || c == '\t') {
      ++blanks;
      continue;
    }
    if (c != '\n') out.append(s.substr(i - blanks, blanks));
    blanks = 0;
    out += c;
  }
  return out;
}

std::string LfOnly(std::string s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (!(s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n')) out.push_back(s[i]);
  }
  return out;
}

bool InsideEncodedMessage(const RecordingSink& ours) {
  for (const RecordedLeaf& l : ours.leaves) {
    if (l.end.media_type.rfind("message/", 0) == 0 && l.end.encoding != TransferEncoding::kIdentity) {
      return true;
    }
  }
  return false;
}

// How each part another implementation decodes is found among our leaves. Only kMissing
// fails a test; the others are differences of decoding or reading that the scanner covers.
struct Coverage {
  size_t exact = 0;
  size_t line_endings = 0;   // same bytes once CRLF is LF (their QP decoder writes CRLF)
  size_t prefix = 0;         // a leaf of ours starts with it (they ended the part earlier)
  size_t contained = 0;      // inside a leaf of ours (they read a header or delimiter line
                             // where we, like Python, read body text)
  size_t encoded_message = 0;  // inside a base64 message/rfc822, reported as one leaf
  std::vector<size_t> missing;
};

Coverage Cover(const RecordingSink& ours, const std::vector<std::string>& want) {
  Coverage c;
  std::multiset<std::string> have;
  for (const RecordedLeaf& l : ours.leaves) have.insert(l.data);
  for (size_t i = 0; i < want.size(); ++i) {
    // A part that holds only whitespace has nothing to scan (Python, for one, makes such a
    // part of a newline between a nested close delimiter and the next one).
    if (want[i].find_first_not_of(" \t\r\n") == std::string::npos) continue;
    if (auto it = have.find(want[i]); it != have.end()) {
      ++c.exact;
      have.erase(it);
      continue;
    }
    bool found = false;
    for (const RecordedLeaf& l : ours.leaves) {
      // Our quoted-printable decoder drops whitespace at line ends (RFC 2045 6.7 rule 3);
      // Python's keeps it.
      if (NoTrailingBlanks(LfOnly(l.data)) == NoTrailingBlanks(LfOnly(want[i]))) {
        ++c.line_endings;
        found = true;
        break;
      }
    }
    for (const RecordedLeaf& l : ours.leaves) {
      if (found) break;
      if (l.data.size() > want[i].size() && l.data.compare(0, want[i].size(), want[i]) == 0) {
        ++c.prefix;
        found = true;
      }
    }
    for (const RecordedLeaf& l : ours.leaves) {
      if (found) break;
      if (l.data.find(want[i]) != std::string::npos) {
        ++c.contained;
        found = true;
      }
    }
    if (!found && InsideEncodedMessage(ours)) {
      ++c.encoded_message;
      found = true;
    }
    if (!found) c.missing.push_back(i);
  }
  return c;
}

void Add(Coverage& total, const Coverage& c) {
  total.exact += c.exact;
  total.line_endings += c.line_endings;
  total.prefix += c.prefix;
  total.contained += c.contained;
  total.encoded_message += c.encoded_message;
}

void Print(const char* corpus, const Coverage& c) {
  std::printf("%s: %zu parts identical, %zu identical but for CRLF/LF, %zu a prefix of our leaf, "
              "%zu inside one of our leaves, %zu inside an encoded message/rfc822 leaf\n",
              corpus, c.exact, c.line_endings, c.prefix, c.contained, c.encoded_message);
}

size_t PrimaryLeafCount(const RecordingSink& s) {
  size_t n = 0;
  for (const RecordedLeaf& l : s.leaves) {
    n += !l.end.alternate_view && (l.end.role == PartRole::kMessageBody ||
                                   l.end.role == PartRole::kMultipartChild);
  }
  return n;
}

TEST(MimeCorpusTest, EveryLeafPythonEmailSeesIsReported) {
  fs::path dir = "/usr/lib/python3.11/test/test_email/data";
  if (!fs::exists(dir)) GTEST_SKIP() << dir << " absent (Debian package libpython3.11-testsuite)";
  if (!HavePython()) GTEST_SKIP() << "python3 with the email package is not installed";
  std::vector<fs::path> files = FilesIn(dir, false, [](const fs::path& p) {
    return p.filename().string().rfind("msg_", 0) == 0;
  });
  auto expected = RunScript("python", files);
  ASSERT_TRUE(expected.has_value());
  Coverage total;
  size_t count_differs = 0;
  for (const fs::path& file : files) {
    std::vector<std::string> want;
    for (const std::string& l : (*expected)[file.string()]) want.push_back(FromHex(l));
    RecordingSink ours = ParseWithSplits(ReadFile(file));
    Coverage c = Cover(ours, want);
    Add(total, c);
    for (size_t i : c.missing) {
      ADD_FAILURE() << file << ": Python's leaf " << i << " (" << want[i].size()
                    << " bytes) is not among our leaves";
    }
    // Python drops empty parts and makes a leaf of a multipart without delimiters, we
    // report empty parts and such a body as a preamble: counts differ, contents do not.
    count_differs += PrimaryLeafCount(ours) != want.size();
  }
  EXPECT_GT(files.size(), 40u);
  EXPECT_GT(total.exact, 70u);
  Print("python email", total);
  std::printf("%zu of %zu messages with a different primary leaf count\n", count_differs,
              files.size());
}

TEST(MimeCorpusTest, StalwartDecodedPartsAreReported) {
  fs::path dir = Corpora() / "stalwart-mail-parser" / "resources" / "eml";
  if (!fs::exists(dir)) GTEST_SKIP() << dir << " absent";
  if (!HavePython()) GTEST_SKIP() << "python3 is not installed (reads the expected JSON)";
  std::vector<fs::path> messages = FilesIn(dir, true, [](const fs::path& p) {
    fs::path json = p;
    return p.extension() == ".eml" && fs::exists(json.replace_extension(".json"));
  });
  std::vector<fs::path> jsons;
  for (fs::path m : messages) jsons.push_back(m.replace_extension(".json"));
  auto expected = RunScript("stalwart", jsons);
  ASSERT_TRUE(expected.has_value());
  Coverage attachments, texts;
  size_t not_ours = 0;
  for (size_t m = 0; m < messages.size(); ++m) {
    RecordingSink ours = ParseWithSplits(ReadFile(messages[m]));
    std::vector<std::string> want_binary, want_text;
    for (const std::string& l : (*expected)[jsons[m].string()]) {
      size_t sp = l.find(' ');
      std::string kind = l.substr(0, sp);
      if (kind == "binary") {
        want_binary.push_back(FromHex(l.substr(sp + 1)));
      } else if (kind == "text") {
        want_text.push_back(FromHex(l.substr(sp + 1)));
      } else {
        ++not_ours;  // BinHex unpacked, uuencode left raw: not a MIME parser's reading
      }
    }
    Coverage c = Cover(ours, want_binary);
    Add(attachments, c);
    for (size_t i : c.missing) {
      ADD_FAILURE() << messages[m] << ": attachment " << i << " (" << want_binary[i].size()
                    << " bytes) is not among our leaves";
    }
    // Texts are converted to UTF-8 (and sometimes trimmed) by mail-parser: counted only.
    Add(texts, Cover(ours, want_text));
  }
  EXPECT_GT(attachments.exact, 50u);
  Print("stalwart attachments", attachments);
  Print("stalwart texts (UTF-8 converted by them)", texts);
  std::printf("stalwart: %zu BinHex/uuencode parts not compared\n", not_ours);
}

TEST(MimeCorpusTest, Mime4jDecodedPartsAreReported) {
  fs::path dir = Corpora() / "mime4j" / "core" / "src" / "test" / "resources";
  if (!fs::exists(dir)) GTEST_SKIP() << dir << " absent";
  std::regex body_name("<(?:text|binary)-body name=\"([^\"]+)\"");
  Coverage total;
  for (const fs::path& xml_path : FilesIn(dir, true, [](const fs::path& p) {
         std::string n = p.filename().string();
         return n.size() > 12 && n.substr(n.size() - 12) == "_decoded.xml";
       })) {
    std::string name = xml_path.filename().string();
    fs::path msg = xml_path.parent_path() / (name.substr(0, name.size() - 12) + ".msg");
    // Expected output of a mime4j option that drops the first header-like body line.
    if (!fs::exists(msg) || name.rfind("malformedHeaderStartsBody", 0) == 0) continue;
    std::string xml = ReadFile(xml_path);
    std::vector<std::string> want;
    for (std::sregex_iterator it(xml.begin(), xml.end(), body_name), end; it != end; ++it) {
      want.push_back(ReadFile(xml_path.parent_path() / (*it)[1].str()));
    }
    Coverage c = Cover(ParseWithSplits(ReadFile(msg)), want);
    Add(total, c);
    for (size_t i : c.missing) {
      ADD_FAILURE() << msg << ": decoded part " << i << " (" << want[i].size()
                    << " bytes) is not among our leaves";
    }
  }
  EXPECT_GT(total.exact, 100u);
  Print("mime4j", total);
}

}  // namespace
}  // namespace kensa::scan
