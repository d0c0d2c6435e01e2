// SPDX-License-Identifier: GPL-2.0-or-later
// CopyReader against the reference it replaces on the delivery path: trace header + variant
// headers + ApplyEdits(content), byte for byte, for random contents, edits and piece sizes.
#include "spool/copy_reader.h"

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "spool/queue_file.h"

namespace kensa::spool {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "copy_reader_test.XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Writes a scanned queue file whose content is `content` split into CONTENT records at
// `splits` (ascending offsets) and returns what ReadQueueFile says of it.
std::shared_ptr<const QueueFileInfo> WriteQueueFile(const std::string& path,
                                                    const std::string& content,
                                                    const std::vector<size_t>& splits,
                                                    const ScanOutcome& scan,
                                                    std::string trace = "Received: by kensa\r\n") {
  QueueEnvelope env;
  env.queue_id = "0CopyReaderTest";
  env.sender = "a@example.org";
  env.recipients.assign(scan.recipient_variant.empty() ? 1 : scan.recipient_variant.size(),
                        {"b@example.net", "", ""});
  env.trace_header = std::move(trace);
  QueueFileWriter w(env);
  std::string bytes = w.TakeHeader();
  size_t at = 0;
  for (size_t s : splits) {
    bytes += w.ContentRecord(std::string_view(content).substr(at, s - at));
    at = s;
  }
  bytes += w.ContentRecord(std::string_view(content).substr(at));
  if (!scan.variants.empty()) bytes += w.ScanRecord(scan);
  bytes += w.EndRecord();
  bytes += AttemptRecord(1, 1);  // status records after END are not content
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), bytes.size());
  absl::StatusOr<QueueFileInfo> info = ReadQueueFile(path);
  EXPECT_TRUE(info.ok()) << info.status();
  return std::make_shared<const QueueFileInfo>(*info);
}

std::string Expected(const QueueFileInfo& info, const std::string& content, size_t variant) {
  if (info.scan.variants.empty()) return info.envelope.trace_header + content;
  const ContentVariant& v = info.scan.variants[variant];
  absl::StatusOr<std::string> edited = ApplyEdits(content, v.edits);
  EXPECT_TRUE(edited.ok()) << edited.status();
  return info.envelope.trace_header + v.headers + *edited;
}

// Reads the whole copy in pieces drawn from `piece_size`, checking each piece's bound.
std::string ReadAll(CopyReader& r, const std::function<size_t()>& piece_size) {
  std::string out;
  for (int guard = 0; guard < 10'000'000; ++guard) {
    const size_t max = piece_size();
    absl::StatusOr<std::string> piece = r.Next(max);
    EXPECT_TRUE(piece.ok()) << piece.status();
    if (!piece.ok() || piece->empty()) break;
    EXPECT_LE(piece->size(), max);
    out += *piece;
  }
  EXPECT_TRUE(r.done());
  return out;
}

TEST(CopyReader, MatchesApplyEditsOnRandomContentsEditsAndPieceSizes) {
  TempDir tmp;
  std::mt19937_64 rng(20240517);
  auto below = [&](uint64_t n) { return n == 0 ? 0 : rng() % n; };
  for (int round = 0; round < 300; ++round) {
    const size_t size = round % 10 == 0 ? below(4) : below(round % 3 == 0 ? 200000 : 3000);
    std::string content(size, '\0');
    for (char& c : content) c = static_cast<char>(rng());
    std::vector<size_t> splits;
    for (size_t n = below(6), i = 0; i < n && size > 0; ++i) splits.push_back(below(size + 1));
    std::sort(splits.begin(), splits.end());
    ScanOutcome scan;
    const size_t variants = 1 + below(3);
    for (size_t v = 0; v < variants; ++v) {
      ContentVariant cv;
      cv.headers = v == 0 ? "" : "X-Virus-Status: cleaned\r\n";
      // Sorted, non-overlapping ranges; some empty, some touching, some at either end.
      std::vector<uint64_t> points;
      for (size_t n = 2 * below(6), i = 0; i < n; ++i) points.push_back(below(size + 1));
      if (below(3) == 0) points.insert(points.end(), {0, below(size + 1)});
      if (below(3) == 0) points.insert(points.end(), {below(size + 1), size});
      std::sort(points.begin(), points.end());
      for (size_t i = 0; i + 1 < points.size(); i += 2) {
        ContentEdit e{points[i], points[i + 1], std::string(below(3) == 0 ? 0 : below(400), 'N')};
        cv.edits.push_back(e);
      }
      scan.variants.push_back(std::move(cv));
    }
    scan.recipient_variant.push_back(static_cast<uint32_t>(variants - 1));
    const std::string path = tmp.path() + "/q";
    std::shared_ptr<const QueueFileInfo> info = WriteQueueFile(path, content, splits, scan);
    for (size_t v = 0; v < variants; ++v) {
      absl::StatusOr<std::unique_ptr<CopyReader>> r = CopyReader::Open(path, info, v);
      ASSERT_TRUE(r.ok()) << r.status();
      const std::string want = Expected(*info, content, v);
      EXPECT_EQ((*r)->size(), want.size());
      EXPECT_EQ(CopyReader::CopySize(*info, v), want.size());
      const size_t max_piece = 1 + below(round % 2 == 0 ? 16 : 70000);
      std::string got = ReadAll(**r, [&] { return 1 + below(max_piece); });
      ASSERT_EQ(got.size(), want.size()) << "round " << round << " variant " << v;
      ASSERT_TRUE(got == want) << "round " << round << " variant " << v;
    }
  }
}

TEST(CopyReader, UnscannedIsTraceThenContentAcrossRecords) {
  TempDir tmp;
  std::string content;
  for (int i = 0; i < 50000; ++i) content += static_cast<char>('a' + i % 26);
  const std::string path = tmp.path() + "/q";
  std::shared_ptr<const QueueFileInfo> info =
      WriteQueueFile(path, content, {1, 2, 10000, 10001, 49999}, ScanOutcome{});
  ASSERT_EQ(info->content_chunks.size(), 6u);
  absl::StatusOr<std::unique_ptr<CopyReader>> r = CopyReader::Open(path, info, 0);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(ReadAll(**r, [] { return size_t{4096}; }), "Received: by kensa\r\n" + content);
}

TEST(CopyReader, EditsAtTheVeryStartAndEndAndEmptyOnes) {
  TempDir tmp;
  ScanOutcome scan;
  scan.variants.push_back(
      {"H: 1\r\n", {{0, 0, "^"}, {0, 2, ""}, {2, 2, ""}, {5, 6, "$$"}, {6, 6, "!"}}});
  scan.recipient_variant = {0};
  const std::string path = tmp.path() + "/q";
  std::shared_ptr<const QueueFileInfo> info = WriteQueueFile(path, "abcdef", {3}, scan, "");
  absl::StatusOr<std::unique_ptr<CopyReader>> r = CopyReader::Open(path, info, 0);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(ReadAll(**r, [] { return size_t{1}; }), "H: 1\r\n^cde$$!");
  (*r)->Rewind();
  EXPECT_FALSE((*r)->done());
  EXPECT_EQ(ReadAll(**r, [] { return size_t{1000}; }), "H: 1\r\n^cde$$!");
}

TEST(CopyReader, EmptyContentWithOnlyAnInsertion) {
  TempDir tmp;
  ScanOutcome scan;
  scan.variants.push_back({"", {{0, 0, "inserted"}}});
  scan.recipient_variant = {0};
  const std::string path = tmp.path() + "/q";
  std::shared_ptr<const QueueFileInfo> info = WriteQueueFile(path, "", {}, scan, "");
  absl::StatusOr<std::unique_ptr<CopyReader>> r = CopyReader::Open(path, info, 0);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(ReadAll(**r, [] { return size_t{3}; }), "inserted");
  absl::StatusOr<std::string> after = (*r)->Next(10);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(*after, "");
}

TEST(CopyReader, MissingFileIsNotFoundAndBadVariantIsDataLoss) {
  TempDir tmp;
  ScanOutcome scan;
  scan.variants.push_back({"", {}});
  scan.recipient_variant = {0};
  const std::string path = tmp.path() + "/q";
  std::shared_ptr<const QueueFileInfo> info = WriteQueueFile(path, "abc", {}, scan);
  EXPECT_TRUE(absl::IsDataLoss(CopyReader::Open(path, info, 1).status()));
  auto bad = std::make_shared<QueueFileInfo>(*info);
  bad->scan.variants[0].edits = {{2, 9, "x"}};
  EXPECT_TRUE(absl::IsDataLoss(CopyReader::Open(path, bad, 0).status()));
  EXPECT_TRUE(absl::IsNotFound(CopyReader::Open(tmp.path() + "/gone", info, 0).status()));
}

TEST(CopyReader, FileTruncatedUnderTheReaderIsDataLoss) {
  TempDir tmp;
  const std::string path = tmp.path() + "/q";
  std::shared_ptr<const QueueFileInfo> info =
      WriteQueueFile(path, std::string(100000, 'x'), {50000}, ScanOutcome{});
  absl::StatusOr<std::unique_ptr<CopyReader>> r = CopyReader::Open(path, info, 0);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE((*r)->Next(1000).ok());
  ASSERT_EQ(truncate(path.c_str(), 30000), 0);
  absl::Status s;
  for (int i = 0; i < 200 && s.ok(); ++i) {
    absl::StatusOr<std::string> piece = (*r)->Next(1000);
    s = piece.status();
    if (s.ok() && piece->empty()) break;
  }
  EXPECT_TRUE(absl::IsDataLoss(s)) << s;
}

}  // namespace
}  // namespace kensa::spool
