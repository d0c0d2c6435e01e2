// SPDX-License-Identifier: GPL-2.0-or-later
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "spool/queue_file.h"
#include "spool/queue_id.h"
#include "spool/record_format.h"
#include "spool/spool_shard.h"

namespace kensa::spool {
namespace {

namespace fs = std::filesystem;

QueueEnvelope FullEnvelope() {
  QueueEnvelope e;
  e.queue_id = "0AbCdEfGhIjKlM";
  e.arrival_unix_micros = 1712345678901234;
  e.sender = "alice@example.org";
  e.ret = "HDRS";
  e.envid = "QQ314159";
  e.body = "8BITMIME";
  e.smtputf8 = true;
  e.recipients = {{"bob@example.net", "SUCCESS,FAILURE", "rfc822;bob@example.net"},
                  {"carol@example.com", "", ""},
                  {"dave@example.com", "NEVER", ""}};
  e.client_address = "192.0.2.7";
  e.helo = "mx.example.org";
  e.protocol = "ESMTPS";
  e.trace_header = "Received: from mx.example.org\r\n\tby kensa; now\r\n";
  e.is_bounce = true;
  e.auth_user = "alice@example.org";
  return e;
}

std::string Build(const QueueEnvelope& env, const std::vector<std::string>& pieces,
                  bool end = true) {
  QueueFileWriter w(env);
  std::string out = w.TakeHeader();
  for (const std::string& p : pieces) out += w.ContentRecord(p);
  if (end) out += w.EndRecord();
  return out;
}

std::string Content(std::string_view file, const QueueFileInfo& info) {
  std::string out;
  for (auto [off, len] : info.content_chunks) out += file.substr(off, len);
  return out;
}

void ExpectSameEnvelope(const QueueEnvelope& a, const QueueEnvelope& b) {
  EXPECT_EQ(a.queue_id, b.queue_id);
  EXPECT_EQ(a.arrival_unix_micros, b.arrival_unix_micros);
  EXPECT_EQ(a.sender, b.sender);
  EXPECT_EQ(a.ret, b.ret);
  EXPECT_EQ(a.envid, b.envid);
  EXPECT_EQ(a.body, b.body);
  EXPECT_EQ(a.smtputf8, b.smtputf8);
  ASSERT_EQ(a.recipients.size(), b.recipients.size());
  for (size_t i = 0; i < a.recipients.size(); ++i) {
    EXPECT_EQ(a.recipients[i].address, b.recipients[i].address);
    EXPECT_EQ(a.recipients[i].notify, b.recipients[i].notify);
    EXPECT_EQ(a.recipients[i].orcpt, b.recipients[i].orcpt);
  }
  EXPECT_EQ(a.client_address, b.client_address);
  EXPECT_EQ(a.helo, b.helo);
  EXPECT_EQ(a.protocol, b.protocol);
  EXPECT_EQ(a.trace_header, b.trace_header);
  EXPECT_EQ(a.is_bounce, b.is_bounce);
  EXPECT_EQ(a.auth_user, b.auth_user);
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "spool_test.XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

void WriteFile(const std::string& path, std::string_view bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

TEST(QueueFile, RoundTripsEveryEnvelopeField) {
  QueueEnvelope env = FullEnvelope();
  std::string file = Build(env, {"Subject: hi\r\n\r\nbody\r\n"});
  absl::StatusOr<QueueFileInfo> info = ParseQueueFile(file);
  ASSERT_TRUE(info.ok()) << info.status();
  ExpectSameEnvelope(info->envelope, env);
  EXPECT_EQ(Content(file, *info), "Subject: hi\r\n\r\nbody\r\n");
  EXPECT_EQ(info->content_bytes, 21u);
  EXPECT_EQ(info->recipient_done, std::vector<bool>(3, false));
  EXPECT_EQ(info->attempts, 0);
  EXPECT_EQ(info->last_attempt_unix_micros, 0);
}

TEST(QueueFile, RoundTripsDefaultsAndBinaryFields) {
  QueueEnvelope env;  // null sender, no recipients, false flags, negative-free zero arrival
  env.queue_id = "x";
  env.trace_header = std::string("a\0b\xff", 4);
  env.arrival_unix_micros = -5;  // before the epoch still survives the u64 encoding
  std::string file = Build(env, {});
  absl::StatusOr<QueueFileInfo> info = ParseQueueFile(file);
  ASSERT_TRUE(info.ok()) << info.status();
  ExpectSameEnvelope(info->envelope, env);
  EXPECT_EQ(info->content_bytes, 0u);
  EXPECT_TRUE(info->content_chunks.empty());
}

TEST(QueueFile, ContentSplitAcrossManyRecords) {
  std::string message;
  std::vector<std::string> pieces;
  for (int i = 0; i < 500; ++i) {
    std::string p(static_cast<size_t>(i % 37), static_cast<char>('a' + i % 26));
    message += p;
    pieces.push_back(p);
  }
  QueueFileWriter w(FullEnvelope());
  std::string file = w.TakeHeader();
  for (const std::string& p : pieces) file += w.ContentRecord(p);
  file += w.EndRecord();
  EXPECT_EQ(w.content_bytes(), message.size());
  absl::StatusOr<QueueFileInfo> info = ParseQueueFile(file);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->content_bytes, message.size());
  EXPECT_GT(info->content_chunks.size(), 400u);
  EXPECT_EQ(Content(file, *info), message);
}

TEST(QueueFile, WithoutEndIsDataLoss) {
  std::string file = Build(FullEnvelope(), {"abc", "def"}, /*end=*/false);
  EXPECT_TRUE(absl::IsDataLoss(ParseQueueFile(file).status()));
  EXPECT_TRUE(absl::IsDataLoss(ParseQueueFile("").status()));
}

TEST(QueueFile, ForeignFileAndUnknownRecordsAreDataLoss) {
  EXPECT_TRUE(absl::IsDataLoss(ParseQueueFile("From alice Mon Jan 1\n").status()));
  std::string file = Build(FullEnvelope(), {"abc"});
  std::string bad = file;
  size_t end_at = file.size() - 13;  // END record: 5 header bytes + 8 payload bytes
  ASSERT_EQ(file[end_at], 'E');
  bad.insert(end_at, std::string("\x7f\x01\x00\x00\x00z", 6));
  EXPECT_TRUE(absl::IsDataLoss(ParseQueueFile(bad).status()));
}

TEST(QueueFile, NewerVersionIsNotDataLoss) {
  // Recovery deletes DataLoss files; a newer format must survive a downgrade.
  std::string file = Build(FullEnvelope(), {"abc"});
  size_t version_at = 5 + std::string_view("kensa-queue-file").size();
  file[version_at] = 99;
  absl::Status s = ParseQueueFile(file).status();
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
}

TEST(QueueFile, HugeLengthIsDataLossNotAllocation) {
  std::string file = Build(FullEnvelope(), {});
  file.resize(file.size() - 13);
  file += std::string("S\xff\xff\xff\xff", 5);
  EXPECT_TRUE(absl::IsDataLoss(ParseQueueFile(file).status()));
}

TEST(QueueFile, EndMustMatchContentLength) {
  std::string file = Build(FullEnvelope(), {"abcdef"});
  file[file.size() - 8] = 5;  // END claims 5 content bytes
  EXPECT_TRUE(absl::IsDataLoss(ParseQueueFile(file).status()));
}

TEST(QueueFile, TruncatedAtEveryOffset) {
  QueueEnvelope env = FullEnvelope();
  std::string file = Build(env, {"Subject: x\r\n\r\n", "hello\r\n"});
  file += RecipientDoneRecord(1) + AttemptRecord(42, 3);
  const size_t end_complete = file.size() - RecipientDoneRecord(1).size() -
                              AttemptRecord(42, 3).size();
  for (size_t n = 0; n <= file.size(); ++n) {
    absl::StatusOr<QueueFileInfo> info = ParseQueueFile(std::string_view(file).substr(0, n));
    if (n < end_complete) {
      EXPECT_TRUE(absl::IsDataLoss(info.status())) << "offset " << n << ": " << info.status();
    } else {
      ASSERT_TRUE(info.ok()) << "offset " << n << ": " << info.status();
      ExpectSameEnvelope(info->envelope, env);
      EXPECT_EQ(Content(file, *info), "Subject: x\r\n\r\nhello\r\n");
    }
  }
}

TEST(QueueFile, StatusRecordsAfterEnd) {
  std::string file = Build(FullEnvelope(), {"m"});
  file += RecipientDoneRecord(0);
  file += AttemptRecord(1000, 1);
  file += RecipientDoneRecord(2);
  file += AttemptRecord(5000, 2);
  file += RecipientDoneRecord(17);  // out of range: ignored
  absl::StatusOr<QueueFileInfo> info = ParseQueueFile(file);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->recipient_done, (std::vector<bool>{true, false, true}));
  EXPECT_EQ(info->attempts, 2);
  EXPECT_EQ(info->last_attempt_unix_micros, 5000);
}

TEST(QueueFile, TheLastHoldRecordDecides) {
  const std::string file = Build(FullEnvelope(), {"m"});
  EXPECT_FALSE(ParseQueueFile(file)->held);
  EXPECT_TRUE(ParseQueueFile(file + HoldRecord(true))->held);
  EXPECT_FALSE(ParseQueueFile(file + HoldRecord(true) + AttemptRecord(1, 1) + HoldRecord(false))->held);
  EXPECT_TRUE(ParseQueueFile(file + HoldRecord(false) + HoldRecord(true))->held);
}

TEST(QueueFile, TornStatusRecordIgnored) {
  std::string file = Build(FullEnvelope(), {"m"});
  file += AttemptRecord(1000, 1);
  std::string torn = RecipientDoneRecord(1) + AttemptRecord(2000, 2);
  for (size_t cut = 1; cut < AttemptRecord(0, 0).size(); ++cut) {
    std::string f = file + torn.substr(0, torn.size() - cut);
    absl::StatusOr<QueueFileInfo> info = ParseQueueFile(f);
    ASSERT_TRUE(info.ok()) << info.status();
    EXPECT_EQ(info->recipient_done, (std::vector<bool>{false, true, false}));
    EXPECT_EQ(info->attempts, 1);
    EXPECT_EQ(info->last_attempt_unix_micros, 1000);
  }
}

TEST(QueueFile, ReadFromDiskLocatesAndReadsContent) {
  TempDir tmp;
  std::string path = tmp.path() + "/q";
  std::string big(300 * 1024, 'x');  // larger than the reader's window
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
  std::vector<std::string> pieces;
  for (size_t i = 0; i < big.size(); i += 10000) pieces.push_back(big.substr(i, 10000));
  std::string file = Build(FullEnvelope(), pieces) + AttemptRecord(7, 1);
  WriteFile(path, file);
  absl::StatusOr<QueueFileInfo> info = ReadQueueFile(path);
  ASSERT_TRUE(info.ok()) << info.status();
  ExpectSameEnvelope(info->envelope, FullEnvelope());
  EXPECT_EQ(info->attempts, 1);
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  absl::StatusOr<std::string> content = ReadContent(fd, *info);
  close(fd);
  ASSERT_TRUE(content.ok()) << content.status();
  EXPECT_EQ(*content, big);
}

TEST(QueueFile, ReadMissingIsNotFound) {
  TempDir tmp;
  absl::Status s = ReadQueueFile(tmp.path() + "/nope").status();
  EXPECT_TRUE(absl::IsNotFound(s));
  EXPECT_THAT(std::string(s.message()), testing::HasSubstr("/nope"));
}

TEST(QueueFile, UnlinkReportsNotFound) {
  TempDir tmp;
  int dfd = open(tmp.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  WriteFile(tmp.path() + "/abc", "x");
  EXPECT_TRUE(Unlink(dfd, "abc").ok());
  EXPECT_FALSE(fs::exists(tmp.path() + "/abc"));
  EXPECT_TRUE(absl::IsNotFound(Unlink(dfd, "abc")));
  EXPECT_FALSE(Unlink(dfd, "../abc").ok());
  close(dfd);
}

// A message of three parts and the outcome a scan of it could record: recipients 0 and 2 get
// the cleaned copy, recipient 1 (not subscribed) the original with only a status header.
const std::string kMessage = "Subject: x\r\n\r\npart-one|INFECTED|part-three\r\n";

ScanOutcome SplitOutcome() {
  ScanOutcome o;
  ContentVariant cleaned;
  cleaned.headers = "X-Virus-Scanned: kensa mx1; signatures 27000\r\nX-Virus-Status: Infected (Eicar)\r\n";
  cleaned.edits = {{0, 0, "X-Inserted: at zero\r\n"},
                   {23, 31, std::string("notice\0\xff", 8)},
                   {31, 32, ""}};
  ContentVariant original;
  original.headers = "X-Virus-Status: Not scanned\r\n";
  o.variants = {cleaned, original};
  o.recipient_variant = {0, 1, 0};
  return o;
}

std::string BuildScanned(const QueueEnvelope& env, std::string_view content,
                         const ScanOutcome& outcome) {
  QueueFileWriter w(env);
  std::string out = w.TakeHeader();
  out += w.ContentRecord(content.substr(0, 10));
  out += w.ContentRecord(content.substr(10));
  out += w.ScanRecord(outcome);
  out += w.EndRecord();
  return out;
}

TEST(ScanRecord, RoundTripsWithStatusRecordsAfterEnd) {
  ASSERT_EQ(kMessage.substr(23, 9), "INFECTED|");
  std::string file = BuildScanned(FullEnvelope(), kMessage, SplitOutcome());
  file += RecipientDoneRecord(1) + AttemptRecord(77, 1);
  absl::StatusOr<QueueFileInfo> info = ParseQueueFile(file);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->scan, SplitOutcome());
  EXPECT_EQ(Content(file, *info), kMessage);
  EXPECT_EQ(info->recipient_done, (std::vector<bool>{false, true, false}));
  EXPECT_EQ(info->attempts, 1);
  absl::StatusOr<std::string> cleaned = ApplyEdits(kMessage, info->scan.variants[0].edits);
  ASSERT_TRUE(cleaned.ok()) << cleaned.status();
  EXPECT_EQ(*cleaned, "X-Inserted: at zero\r\nSubject: x\r\n\r\npart-one|" +
                          std::string("notice\0\xff", 8) + "part-three\r\n");
}

TEST(ScanRecord, AbsentMeansUnscanned) {
  absl::StatusOr<QueueFileInfo> info = ParseQueueFile(Build(FullEnvelope(), {kMessage}));
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_TRUE(info->scan.variants.empty());
  EXPECT_TRUE(info->scan.recipient_variant.empty());
}

TEST(ScanRecord, EmptyOutcomeForNoRecipients) {
  QueueEnvelope env = FullEnvelope();
  env.recipients.clear();
  absl::StatusOr<QueueFileInfo> info = ParseQueueFile(BuildScanned(env, kMessage, {}));
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->scan, ScanOutcome{});
}

TEST(ScanRecord, ReadFromDiskLargerThanTheReadWindow) {
  ScanOutcome o = SplitOutcome();
  // Notices of a few KB each, many parts: the record outgrows the file reader's 64 KiB window.
  o.variants[0].edits.clear();
  std::string big;
  for (int i = 0; i < 200000; ++i) big.push_back(static_cast<char>('A' + i % 26));
  std::string content(100, 'x');
  for (uint64_t i = 0; i < 50; ++i) o.variants[0].edits.push_back({i * 2, i * 2 + 1, big.substr(i * 4000, 4000)});
  TempDir tmp;
  std::string path = tmp.path() + "/q";
  WriteFile(path, BuildScanned(FullEnvelope(), content, o));
  absl::StatusOr<QueueFileInfo> info = ReadQueueFile(path);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->scan, o);
}

// Builds a file whose scan record is `outcome` as given (the writer does not validate).
absl::Status ParseWithOutcome(const ScanOutcome& outcome) {
  return ParseQueueFile(BuildScanned(FullEnvelope(), kMessage, outcome)).status();
}

TEST(ScanRecord, VariantIndexOutOfRangeIsDataLoss) {
  ScanOutcome o = SplitOutcome();
  o.recipient_variant = {0, 2, 0};
  absl::Status s = ParseWithOutcome(o);
  EXPECT_TRUE(absl::IsDataLoss(s)) << s;
  o.variants.clear();
  o.recipient_variant = {0, 0, 0};
  EXPECT_TRUE(absl::IsDataLoss(ParseWithOutcome(o)));
}

TEST(ScanRecord, RecipientCountMustMatchEnvelope) {
  ScanOutcome o = SplitOutcome();
  o.recipient_variant = {0, 1};
  EXPECT_TRUE(absl::IsDataLoss(ParseWithOutcome(o)));
  o.recipient_variant = {0, 1, 0, 0};
  EXPECT_TRUE(absl::IsDataLoss(ParseWithOutcome(o)));
}

TEST(ScanRecord, BadEditsAreDataLoss) {
  const uint64_t n = kMessage.size();
  const std::vector<std::vector<ContentEdit>> bad = {
      {{5, 9, "a"}, {2, 3, "b"}},  // out of order
      {{5, 9, "a"}, {8, 12, "b"}},  // overlapping
      {{5, 9, "a"}, {5, 9, "b"}},   // same range twice
      {{9, 5, "a"}},                // begin after end
      {{n - 1, n + 1, "a"}},        // past the content
      {{n + 1, n + 1, "a"}},        // insertion past the content
  };
  for (const std::vector<ContentEdit>& edits : bad) {
    ScanOutcome o = SplitOutcome();
    o.variants[1].edits = edits;
    absl::Status s = ParseWithOutcome(o);
    EXPECT_TRUE(absl::IsDataLoss(s)) << edits[0].begin << ": " << s;
  }
  // The same edits at the very end of the content are fine: the bound is END's length.
  ScanOutcome o = SplitOutcome();
  o.variants[1].edits = {{n - 1, n, "a"}, {n, n, "b"}};
  EXPECT_TRUE(ParseWithOutcome(o).ok());
}

TEST(ScanRecord, MalformedPayloadIsDataLoss) {
  std::string file = BuildScanned(FullEnvelope(), kMessage, SplitOutcome());
  const std::string record = QueueFileWriter(FullEnvelope()).ScanRecord(SplitOutcome());
  const size_t at = file.find(record);
  ASSERT_NE(at, std::string::npos);
  ASSERT_EQ(file[at], 'Z');
  const std::string before = file.substr(0, at), after = file.substr(at + record.size());
  const std::string payload = record.substr(5);
  auto with_payload = [&](std::string_view p) {
    std::string rec(1, 'Z');
    for (int i = 0; i < 4; ++i) rec.push_back(static_cast<char>((p.size() >> (8 * i)) & 0xff));
    rec.append(p);
    return ParseQueueFile(before + rec + after).status();
  };
  ASSERT_TRUE(with_payload(payload).ok());
  // Every shorter payload (counts promising more than there is) and a trailing byte.
  for (size_t n = 0; n < payload.size(); ++n) {
    absl::Status s = with_payload(payload.substr(0, n));
    EXPECT_TRUE(absl::IsDataLoss(s)) << "payload cut at " << n << ": " << s;
  }
  EXPECT_TRUE(absl::IsDataLoss(with_payload(payload + "x")));
  // A huge variant count in a tiny payload: an error, not an allocation.
  EXPECT_TRUE(absl::IsDataLoss(with_payload(std::string("\xff\xff\xff\xff", 4))));
}

TEST(ScanRecord, LargerThanItsBoundIsDataLoss) {
  ScanOutcome o = SplitOutcome();
  o.variants[1].edits = {{0, 1, std::string(record::kMaxScanPayload - 1000, 'n')}};
  std::string file = BuildScanned(FullEnvelope(), kMessage, o);
  ASSERT_TRUE(ParseQueueFile(file).ok());  // just under the bound (and over the header bound)
  o.variants[1].edits[0].replacement.append(1000, 'n');
  file = BuildScanned(FullEnvelope(), kMessage, o);
  absl::Status s = ParseQueueFile(file).status();
  EXPECT_TRUE(absl::IsDataLoss(s)) << s;
  EXPECT_THAT(std::string(s.message()), testing::HasSubstr("oversized scan record"));
}

TEST(ScanRecord, MustBeLastBeforeEndAndAtMostOnce) {
  QueueFileWriter w(FullEnvelope());
  std::string head = w.TakeHeader() + w.ContentRecord(kMessage);
  std::string scan = w.ScanRecord(SplitOutcome());
  // Content after the scan record (the edits' offsets would be about other bytes).
  QueueFileWriter w2(FullEnvelope());
  std::string late = w2.TakeHeader();
  late += w2.ContentRecord(kMessage.substr(0, 10));
  late += w2.ScanRecord(SplitOutcome());
  late += w2.ContentRecord(kMessage.substr(10));
  late += w2.EndRecord();
  absl::Status s = ParseQueueFile(late).status();
  EXPECT_TRUE(absl::IsDataLoss(s)) << s;
  EXPECT_THAT(std::string(s.message()), testing::HasSubstr("after the scan record"));
  EXPECT_TRUE(absl::IsDataLoss(ParseQueueFile(head + scan + scan + w.EndRecord()).status()));
  // After END a 'Z' record is an unknown status record: skipped, not a second outcome.
  absl::StatusOr<QueueFileInfo> info = ParseQueueFile(head + w.EndRecord() + scan);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_TRUE(info->scan.variants.empty());
}

TEST(ScanRecord, TruncatedAtEveryOffsetBeforeEndIsDataLoss) {
  std::string file = BuildScanned(FullEnvelope(), kMessage, SplitOutcome());
  for (size_t n = 0; n < file.size(); ++n) {
    absl::Status s = ParseQueueFile(std::string_view(file).substr(0, n)).status();
    EXPECT_TRUE(absl::IsDataLoss(s)) << "offset " << n << ": " << s;
  }
  EXPECT_TRUE(ParseQueueFile(file).ok());
}

TEST(ApplyEdits, NoEditsIsIdentity) {
  absl::StatusOr<std::string> out = ApplyEdits(kMessage, {});
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out, kMessage);
  EXPECT_EQ(*ApplyEdits("", {}), "");
}

TEST(ApplyEdits, AdjacentEditsAtBothEnds) {
  EXPECT_EQ(*ApplyEdits("abcdef", {{0, 2, "X"}, {2, 4, "YY"}, {4, 6, ""}}), "XYY");
  EXPECT_EQ(*ApplyEdits("abcdef", {{0, 1, "<"}, {5, 6, ">"}}), "<bcde>");
  EXPECT_EQ(*ApplyEdits("abcdef", {{0, 6, "whole"}}), "whole");
}

TEST(ApplyEdits, InsertionsWhereBeginEqualsEnd) {
  EXPECT_EQ(*ApplyEdits("abc", {{0, 0, "^"}, {3, 3, "$"}}), "^abc$");
  EXPECT_EQ(*ApplyEdits("abc", {{1, 1, "1"}, {1, 1, "2"}, {1, 2, "B"}}), "a12Bc");
  EXPECT_EQ(*ApplyEdits("", {{0, 0, "new"}}), "new");
}

TEST(ApplyEdits, OutOfOrderOrRangeIsAnError) {
  EXPECT_FALSE(ApplyEdits("abcdef", {{3, 4, "x"}, {1, 2, "y"}}).ok());
  EXPECT_FALSE(ApplyEdits("abcdef", {{1, 4, "x"}, {3, 5, "y"}}).ok());
  EXPECT_FALSE(ApplyEdits("abcdef", {{4, 3, "x"}}).ok());
  EXPECT_FALSE(ApplyEdits("abcdef", {{5, 7, "x"}}).ok());
  EXPECT_FALSE(ApplyEdits("abcdef", {{7, 7, "x"}}).ok());
  EXPECT_FALSE(ApplyEdits("", {{0, 1, ""}}).ok());
}

TEST(QueueId, UniqueAcrossThreadsAndCharset) {
  constexpr int kThreads = 8, kPerThread = 10000;
  std::vector<std::vector<std::string>> ids(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t, &ids] {
      for (int i = 0; i < kPerThread; ++i) ids[t].push_back(NewQueueId(t % 3));
    });
  }
  for (std::thread& t : threads) t.join();
  std::set<std::string> all;
  for (const auto& v : ids) {
    for (const std::string& id : v) {
      EXPECT_TRUE(IsQueueIdShaped(id)) << id;
      all.insert(id);
    }
    // Within one thread, ids are time-ordered and byte order is that order.
    EXPECT_TRUE(std::is_sorted(v.begin(), v.end()));
  }
  EXPECT_EQ(all.size(), static_cast<size_t>(kThreads * kPerThread));
}

TEST(QueueId, Shape) {
  std::string id = NewQueueId(5);
  EXPECT_TRUE(std::all_of(id.begin(), id.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)); }));
  EXPECT_TRUE(IsQueueIdShaped(id));
  EXPECT_FALSE(IsQueueIdShaped("lost+found"));
  EXPECT_FALSE(IsQueueIdShaped(""));
  EXPECT_FALSE(IsQueueIdShaped(id + "~"));
  // Time leads the id: a later id sorts after an earlier one whatever the shard.
  std::string earlier = NewQueueId(61);
  std::string later = NewQueueId(0);
  EXPECT_LT(earlier, later);
}

TEST(SpoolShard, OpenCreatesDirectories) {
  TempDir tmp;
  std::string spool = tmp.path() + "/spool";
  absl::StatusOr<SpoolShard> shard = SpoolShard::Open(spool, 3);
  ASSERT_TRUE(shard.ok()) << shard.status();
  EXPECT_EQ(shard->index(), 3);
  EXPECT_EQ(shard->dir(), spool + "/shard-3");
  EXPECT_TRUE(fs::is_directory(shard->dir()));
  EXPECT_GE(shard->dir_fd(), 0);
  EXPECT_EQ(shard->PathFor("abc"), spool + "/shard-3/abc");
  SpoolShard moved = std::move(*shard);
  EXPECT_EQ(shard->dir_fd(), -1);
  EXPECT_GE(moved.dir_fd(), 0);
  // Reopening an existing shard is fine.
  EXPECT_TRUE(SpoolShard::Open(spool, 3).ok());
}

TEST(SpoolShard, RecoverDiscardsIncompleteKeepsComplete) {
  TempDir tmp;
  absl::StatusOr<SpoolShard> shard = SpoolShard::Open(tmp.path(), 0);
  ASSERT_TRUE(shard.ok()) << shard.status();
  QueueEnvelope older = FullEnvelope(), newer = FullEnvelope(), torn = FullEnvelope();
  older.queue_id = NewQueueId(0);
  newer.queue_id = NewQueueId(0);
  torn.queue_id = NewQueueId(0);
  older.arrival_unix_micros = 100;
  newer.arrival_unix_micros = 200;
  // Written newest first so that order comes from the arrival, not the directory.
  WriteFile(shard->PathFor(newer.queue_id), Build(newer, {"n"}) + AttemptRecord(300, 1));
  WriteFile(shard->PathFor(older.queue_id), Build(older, {"o"}));
  WriteFile(shard->PathFor(torn.queue_id), Build(torn, {"t"}, /*end=*/false));
  std::string empty_id = NewQueueId(0);
  WriteFile(shard->PathFor(empty_id), "");
  WriteFile(shard->PathFor("lost+found"), "junk");
  WriteFile(shard->PathFor(".hidden0123456"), "junk");
  WriteFile(shard->PathFor("notes.txt~"), "junk");

  std::vector<std::string> discarded;
  absl::StatusOr<std::vector<SpoolShard::Recovered>> found = shard->Recover(&discarded);
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_EQ(found->size(), 2u);
  EXPECT_EQ((*found)[0].info.envelope.queue_id, older.queue_id);
  EXPECT_EQ((*found)[0].path, shard->PathFor(older.queue_id));
  EXPECT_EQ((*found)[1].info.envelope.queue_id, newer.queue_id);
  EXPECT_EQ((*found)[1].info.attempts, 1);
  EXPECT_THAT(discarded, testing::UnorderedElementsAre(shard->PathFor(torn.queue_id),
                                                       shard->PathFor(empty_id)));
  EXPECT_FALSE(fs::exists(shard->PathFor(torn.queue_id)));
  EXPECT_FALSE(fs::exists(shard->PathFor(empty_id)));
  EXPECT_TRUE(fs::exists(shard->PathFor(older.queue_id)));
  EXPECT_TRUE(fs::exists(shard->PathFor("lost+found")));
  EXPECT_TRUE(fs::exists(shard->PathFor(".hidden0123456")));
  EXPECT_TRUE(fs::exists(shard->PathFor("notes.txt~")));

  // A second recovery sees the same complete files and discards nothing more.
  discarded.clear();
  found = shard->Recover(&discarded);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->size(), 2u);
  EXPECT_TRUE(discarded.empty());
}

TEST(SpoolShard, ListShards) {
  TempDir tmp;
  std::string spool = tmp.path() + "/spool";
  absl::StatusOr<std::vector<int>> none = ListShards(spool);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->empty());
  for (int i : {10, 2, 0}) ASSERT_TRUE(SpoolShard::Open(spool, i).ok());
  fs::create_directory(spool + "/shard-x");
  fs::create_directory(spool + "/shard-01");
  fs::create_directory(spool + "/shard-");
  fs::create_directory(spool + "/other");
  WriteFile(spool + "/shard-7", "a file, not a shard");
  absl::StatusOr<std::vector<int>> shards = ListShards(spool);
  ASSERT_TRUE(shards.ok()) << shards.status();
  EXPECT_EQ(*shards, (std::vector<int>{0, 2, 10}));
}

TEST(SpoolShard, FreeBytes) {
  TempDir tmp;
  absl::StatusOr<uint64_t> free_bytes = FreeBytes(tmp.path());
  ASSERT_TRUE(free_bytes.ok()) << free_bytes.status();
  EXPECT_GT(*free_bytes, 0u);
  absl::Status missing = FreeBytes(tmp.path() + "/missing").status();
  EXPECT_FALSE(missing.ok());
  EXPECT_THAT(std::string(missing.message()), testing::HasSubstr("/missing"));
}

}  // namespace
}  // namespace kensa::spool
