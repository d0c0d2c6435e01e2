// SPDX-License-Identifier: GPL-2.0-or-later
// Typing without the probe (scan/plain_typing.h, scan/file_type_table.h) against libclamav's
// own typing: every object the prefilter types by itself — random data of every size, text,
// and objects made to carry each of libclamav's file-type entries at its offset, a tar header,
// a Mydoom log, HTML hidden in the UTF-16 reading — must be typed the same by the probe, with
// no layer below it and no alert; and the objects made to be typed otherwise must be left to
// the probe.
#include "scan/plain_typing.h"

#include <random>
#include <string>
#include <vector>

#include "core/text_fields.h"
#include "gtest/gtest.h"
#include "scan/clam_test_support.h"
#include "scan/file_type_table.h"
#include "scan/prefilter.h"
#include "sigs/builtin_file_types.h"

namespace kensa::sigs {
namespace {

using scan::ClamEngine;
using scan::PartPrefilter;

class LayerCounter : public ClamEngine::LayerVisitor {
 public:
  Action OnLayer(std::string_view, uint32_t, std::string_view) override {
    ++layers;
    return Action::kDescend;
  }
  size_t layers = 0;
};

// An instance of a file-type pattern: the first alternative, the least of every gap (filled
// with `fill`), nothing for "*"; nibbles and "??" as `fill` allows.
std::string Instance(std::string_view hex, char fill) {
  std::string out;
  auto nibble = [](char c) {
    return std::isdigit(static_cast<unsigned char>(c)) ? c - '0' : (c | 0x20) - 'a' + 10;
  };
  for (size_t i = 0; i < hex.size();) {
    const char c = hex[i];
    if (c == '*') {
      ++i;
    } else if (c == '{' || c == '[') {
      const size_t end = hex.find(c == '{' ? '}' : ']', i);
      const std::string_view inside = hex.substr(i + 1, end - i - 1);
      size_t n = 0;
      for (char d : inside) {
        if (d == '-') break;
        n = n * 10 + static_cast<size_t>(d - '0');
      }
      out.append(n, fill);
      i = end + 1;
    } else if (c == '(') {
      const size_t bar = hex.find_first_of("|)", i);
      out += Instance(hex.substr(i + 1, bar - i - 1), fill);
      i = hex.find(')', i) + 1;
    } else if (hex[i] == '?' && hex[i + 1] == '?') {
      out.push_back(fill);
      i += 2;
    } else if (hex[i] == '?') {
      out.push_back(static_cast<char>((fill & 0xf0) | nibble(hex[i + 1])));
      i += 2;
    } else if (hex[i + 1] == '?') {
      out.push_back(static_cast<char>((nibble(hex[i]) << 4) | (fill & 0x0f)));
      i += 2;
    } else {
      out.push_back(static_cast<char>(nibble(hex[i]) * 16 + nibble(hex[i + 1])));
      i += 2;
    }
  }
  return out;
}

class PlainTypingTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_TRUE(scan::InitLibclamav().ok());
    dir_ = new scan::testing::TempDir();
    scan::ClamLimits limits;
    limits.temp_dir = dir_->str();
    absl::StatusOr<std::shared_ptr<const ClamEngine>> probe = ClamEngine::LoadProbe("", limits);
    ASSERT_TRUE(probe.ok()) << probe.status();
    scan::PrefilterInputs inputs;
    inputs.file_types.assign(BuiltinFileTypeEntries().begin(), BuiltinFileTypeEntries().end());
    auto db = scan::PrefilterDatabase::Build(std::move(inputs), *probe, "", "");
    ASSERT_TRUE(db.ok()) << db.status();
    ASSERT_NE((*db)->file_types(), nullptr) << (*db)->stats().file_types_error;
    db_ = db->release();
  }
  static void TearDownTestSuite() {
    delete db_;
    delete dir_;
  }

  // Types `object` without the probe and, when that worked, checks it against libclamav's own
  // typing. Returns whether it was typed without the probe.
  static bool CheckTyping(const std::string& object, const std::string& what) {
    PartPrefilter pf(*db_, PartPrefilter::kTypingOnly);
    for (size_t at = 0; at < object.size(); at += 500)
      pf.Feed(std::string_view(object).substr(at, 500));
    const PartPrefilter::Decision d = pf.Decide(object);
    if (!pf.typed_without_probe()) {
      EXPECT_NE(d, PartPrefilter::Decision::kSkipEngine) << what;
      return false;
    }
    LayerCounter counter;
    const ClamEngine::ProbeResult r = db_->probe().Probe(object, -1, &counter);
    if (object.size() <= 5) {
      // libclamav ignores an object this small altogether (cli_magic_scan: "too small").
      EXPECT_EQ(counter.layers, 0u) << what;
      return true;
    }
    EXPECT_EQ(r.top_type, pf.probe_type()) << what;
    EXPECT_EQ(counter.layers, 1u) << what << " (" << r.top_type << ")";
    EXPECT_TRUE(r.complete) << what << ": libclamav raised something (" << r.top_type << ")";
    return true;
  }

  // Whether libclamav types `object` as a plain layer: text or binary data, nothing below.
  static bool LibclamavTypesPlain(const std::string& object) {
    LayerCounter counter;
    const ClamEngine::ProbeResult r = db_->probe().Probe(object, -1, &counter);
    const bool plain = r.top_type == "CL_TYPE_TEXT_ASCII" || r.top_type == "CL_TYPE_TEXT_UTF8" ||
                       r.top_type == "CL_TYPE_TEXT_UTF16LE" ||
                       r.top_type == "CL_TYPE_TEXT_UTF16BE" || r.top_type == "CL_TYPE_BINARY_DATA";
    return plain && counter.layers == 1 && r.complete;
  }

  static std::string Random(std::mt19937& rng, size_t n) {
    std::string s(n, '\0');
    for (char& c : s) c = static_cast<char>(rng());
    return s;
  }
  static std::string Prose(std::mt19937& rng, size_t n) {
    static constexpr std::string_view kWords[] = {"the ",       "invoice ",    "of ",
                                                  "quarterly ", "report\r\n",  "meeting, ",
                                                  "schedule. ", "caf\xc3\xa9 "};
    std::string s;
    while (s.size() < n) s += kWords[rng() % std::size(kWords)];
    s.resize(n);
    return s;
  }

  static inline scan::testing::TempDir* dir_ = nullptr;
  static inline const scan::PrefilterDatabase* db_ = nullptr;
};

TEST_F(PlainTypingTest, RandomDataAndTextAreTypedAsLibclamavTypesThem) {
  std::mt19937 rng(20261207);
  size_t typed = 0, total = 0;
  for (size_t size : {1, 2, 3, 4, 31, 63, 64, 100, 159, 160, 511, 512, 513, 1023, 1024, 1025, 2048,
                      10240, 30000}) {
    for (int round = 0; round < 12; ++round) {
      typed += CheckTyping(Random(rng, size), absl::StrCat("random ", size));
      typed += CheckTyping(Prose(rng, size), absl::StrCat("prose ", size));
      // Mostly text with a few control bytes: the UTF-16 and binary boundaries.
      std::string mixed = Prose(rng, size);
      for (char& c : mixed) {
        if (rng() % 64 == 0) c = static_cast<char>(rng() % 32);
      }
      typed += CheckTyping(mixed, absl::StrCat("mixed ", size));
      total += 3;
    }
  }
  // Most of these are plain to libclamav: the typing must know it without the probe.
  EXPECT_GT(typed, total * 3 / 4) << typed << " of " << total;
}

TEST_F(PlainTypingTest, EveryFileTypeEntryAtItsOffsetIsLeftToTheProbe) {
  std::mt19937 rng(7);
  size_t left = 0, made = 0;
  for (std::string_view entry : BuiltinFileTypeEntries()) {
    const std::vector<std::string_view> f = SplitFields(entry, ':');
    if (f[0] == "4") continue;
    for (char fill : {'x', '\0'}) {
      const std::string body = Instance(f[2], fill);
      size_t at = 0;
      if (f[1] != "*" && f[1].substr(0, 3) != "EOF") {
        const size_t comma = f[1].find(',');
        ASSERT_TRUE(ParseNumber(f[1].substr(0, comma), &at)) << entry;
      } else {
        at = 700;  // anywhere: somewhere past the start
      }
      for (bool text_around : {true, false}) {
        std::string object = text_around ? Prose(rng, at) : Random(rng, at);
        object += body;
        object += text_around ? Prose(rng, 2000) : Random(rng, 2000);
        if (f[1].substr(0, 4) == "EOF-") {
          size_t back = 0;
          ASSERT_TRUE(ParseNumber(f[1].substr(4), &back));
          object = Prose(rng, 3000) + body;
          object.append(back - body.size(), 'x');
        }
        ++made;
        const bool plain = LibclamavTypesPlain(object);
        const bool typed = CheckTyping(object, std::string(entry));
        if (!plain) {
          EXPECT_FALSE(typed) << entry;
          ++left;
        }
      }
    }
  }
  // The entries do type these objects: most of them must have been left to the probe.
  EXPECT_GT(left, made / 2) << left << " of " << made;
}

TEST_F(PlainTypingTest, TarHeadersMydoomLogsAndMarksAreLeftToTheProbe) {
  std::mt19937 rng(11);
  // An old-style tar header: a name, octal fields, and the checksum of its bytes.
  std::string tar(1024, '\0');
  tar.replace(0, 8, "note.txt");
  tar.replace(100, 7, "0000644");
  tar.replace(124, 11, "00000000012");
  tar.replace(148, 8, "        ");
  int sum = 0;
  for (size_t i = 0; i < 512; ++i) sum += static_cast<unsigned char>(tar[i]);
  char field[8];
  std::snprintf(field, sizeof(field), "%06o", sum);
  tar.replace(148, 7, std::string(field, 6) + '\0');
  EXPECT_FALSE(CheckTyping(tar, "tar header"));
  EXPECT_EQ(scan::PlainTypeOf(tar, tar.size()), std::nullopt);

  // A Mydoom log: two records whose words, xored with a key, sum to the key.
  std::string log = Random(rng, 200);
  for (size_t half : {0, 8}) {
    const uint32_t key = 0x12345678u + static_cast<uint32_t>(half);
    uint32_t words[8];
    uint32_t check = 0;
    for (size_t w = 1; w < 8; ++w) {
      words[w] = static_cast<uint32_t>(rng()) | 1u;
      check += words[w] ^ key;
    }
    // Make the sum come out: adjust the last word so that ~check == key.
    check -= words[7] ^ key;
    words[7] = (~key - check) ^ key;
    words[0] = ~key;
    for (size_t w = 0; w < 8; ++w) {
      for (int b = 0; b < 4; ++b)
        log[4 * (half + w) + b] = static_cast<char>(words[w] >> (24 - 8 * b));
    }
  }
  if (!LibclamavTypesPlain(log)) {
    EXPECT_FALSE(CheckTyping(log, "mydoom log"));
  }

  for (std::string mark : {std::string("\xff\xfe<\0h\0", 6), std::string("\xfe\xff\0<\0h", 6),
                           std::string("<\0?\0x\0m\0l\0", 10)}) {
    EXPECT_FALSE(CheckTyping(mark + Prose(rng, 500), "byte-order mark"));
  }

  // Text whose UTF-16 reading spells an HTML tag: each pair of printable bytes folds into one.
  std::string hidden;
  for (char want : std::string("<script")) {
    bool found = false;
    for (int hi = 0x20; hi < 0x7f && !found; ++hi) {
      for (int lo = 0x20; lo < 0x7f && !found; ++lo) {
        if (static_cast<char>((hi << 4) + lo) == want) {
          hidden += static_cast<char>(lo);
          hidden += static_cast<char>(hi);
          found = true;
        }
      }
    }
    ASSERT_TRUE(found) << want;
  }
  const std::string folded_html = hidden + Prose(rng, 600);
  ASSERT_NE(scan::Utf16Folded(folded_html).find("<script"), std::string::npos);
  EXPECT_FALSE(CheckTyping(folded_html, "HTML in the UTF-16 reading"));
}

TEST_F(PlainTypingTest, TheTableReadsEveryBuiltinEntry) {
  std::vector<std::string> entries(BuiltinFileTypeEntries().begin(),
                                   BuiltinFileTypeEntries().end());
  auto table = scan::FileTypeTable::Build(entries);
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_GT((*table)->magic_count(), 190u);
  EXPECT_GT((*table)->pattern_count(), 50u);
  // A line it cannot read is an error, never an entry left out.
  entries.push_back("1:*:41!(42):Negation:CL_TYPE_ANY:CL_TYPE_HTML");
  EXPECT_FALSE(scan::FileTypeTable::Build(entries).ok());
  EXPECT_EQ(scan::HexPatternToRegex("4d5a{60-300}5045(00|01)??3?"),
            "\\x4d\\x5a.*\\x50\\x45(?:\\x00|\\x01).[\\x30-\\x3f]");
}

}  // namespace
}  // namespace kensa::sigs
