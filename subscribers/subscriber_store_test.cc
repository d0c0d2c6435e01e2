// SPDX-License-Identifier: GPL-2.0-or-later
// Tests of the subscriber store: normalisation, the value encoding, lookup precedence, the
// CSV import's all-or-nothing rule, export/import round trips, and readers that see writes
// of other threads and of a second opening (as kensad sees kensa-subscribers).
#include "subscribers/subscriber_store.h"

#include <lmdb.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <sstream>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "subscribers/subscriber_csv.h"
#include "core/test_dir.h"

namespace kensa::subscribers {
namespace {

using ::testing::HasSubstr;

constexpr uint64_t kTestMap = 64ull << 20;

SubscriberEntry E(bool in, bool out, SubscriberAction a = SubscriberAction::kDefault) {
  return SubscriberEntry{in, out, a};
}

std::unique_ptr<SubscriberStore> OpenRw(const std::string& dir, char sep = '+') {
  absl::StatusOr<std::unique_ptr<SubscriberStore>> s =
      SubscriberStore::Open(dir, OpenMode::kReadWrite, kTestMap, sep);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? std::move(*s) : nullptr;
}

std::string Matched(const SubscriberStore& s, std::string_view address) {
  std::optional<LookupResult> r = s.Lookup(address);
  return r ? r->matched_key : "none";
}

TEST(NormalizeAddress, TrimsBracketsLowercasesAndDropsTheRootDot) {
  EXPECT_EQ(*NormalizeAddress("  <User.Name@Example.TEST.>\r\n"), "user.name@example.test");
  EXPECT_EQ(*NormalizeAddress("@Example.Test"), "@example.test");
  EXPECT_EQ(*NormalizeAddress("\"a@b\"@x.test"), "\"a@b\"@x.test");
  EXPECT_EQ(*NormalizeAddress("\"A\\\"@\"@X.test"), "\"a\\\"@\"@x.test");
}

TEST(NormalizeAddress, RejectsWhatCannotBeAKey) {
  for (const char* bad :
       {"", "<>", "   ", "user", "user@", "user@.", "a@b@c", "a b@c.test", "a@c\x01.test",
        "\"open@x.test", "a@\"x\".test", "a@.x.test", "a@x..test", "@", "a@x.test..",
        "@x.test..", "<<a@x.test>>", "a<b@x.test", "a@x.test>"}) {
    EXPECT_FALSE(NormalizeAddress(bad).ok()) << bad;
  }
  EXPECT_FALSE(NormalizeAddress(std::string(600, 'a') + "@x.test").ok());
  EXPECT_THAT(std::string(NormalizeAddress("a@b@c").status().message()), HasSubstr("one '@'"));
}

// Found by subscriber_csv_fuzz: "a@x.test.." once normalised to "a@x.test.", which normalised
// again to "a@x.test", so an export did not import back to the same key.
TEST(NormalizeAddress, IsIdempotent) {
  for (const char* a : {"A@X.Test.", "<b+tag@Y.test>", "\"q\\\"x\"@z.TEST", "@D.test.",
                        "\"<a>\"@x.test"}) {
    absl::StatusOr<std::string> once = NormalizeAddress(a);
    ASSERT_TRUE(once.ok()) << a;
    EXPECT_EQ(*NormalizeAddress(*once), *once) << a;
  }
}

TEST(StripPlusTag, OnlyATagInAnUnquotedLocalPart) {
  std::string out;
  EXPECT_TRUE(StripPlusTag("user+tag+more@x.test", '+', &out));
  EXPECT_EQ(out, "user@x.test");
  EXPECT_TRUE(StripPlusTag("user-tag@x.test", '-', &out));
  EXPECT_EQ(out, "user@x.test");
  EXPECT_FALSE(StripPlusTag("user@x+y.test", '+', &out));
  EXPECT_FALSE(StripPlusTag("+tag@x.test", '+', &out));
  EXPECT_FALSE(StripPlusTag("\"a+b\"@x.test", '+', &out));
  EXPECT_FALSE(StripPlusTag("@x.test", '+', &out));
  EXPECT_FALSE(StripPlusTag("user+tag@x.test", '\0', &out));
}

TEST(EntryEncoding, RoundTripsAndRejectsWhatItDoesNotKnow) {
  for (bool in : {false, true}) {
    for (bool out : {false, true}) {
      for (auto a : {SubscriberAction::kDefault, SubscriberAction::kRemove,
                     SubscriberAction::kReject, SubscriberAction::kQuarantine}) {
        SubscriberEntry e = E(in, out, a);
        std::string v = EncodeEntry(e);
        EXPECT_EQ(v.size(), kEncodedEntryBytes);
        absl::StatusOr<SubscriberEntry> d = DecodeEntry(v);
        ASSERT_TRUE(d.ok()) << d.status();
        EXPECT_EQ(*d, e);
        EXPECT_EQ(ParseSubscriberAction(SubscriberActionName(a)), a);
      }
    }
  }
  EXPECT_FALSE(DecodeEntry("").ok());
  EXPECT_FALSE(DecodeEntry(std::string("\x02\x01\x00", 3)).ok());  // version 2
  EXPECT_FALSE(DecodeEntry(std::string("\x01\x01", 2)).ok());      // short
  EXPECT_FALSE(DecodeEntry(std::string("\x01\x01\x00\x00", 4)).ok());
  EXPECT_FALSE(DecodeEntry(std::string("\x01\x04\x00", 3)).ok());  // unknown flag
  EXPECT_FALSE(DecodeEntry(std::string("\x01\x01\x04", 3)).ok());  // unknown action
  EXPECT_EQ(ParseOnOff("YES"), true);
  EXPECT_EQ(ParseOnOff("0"), false);
  EXPECT_EQ(ParseOnOff("maybe"), std::nullopt);
  EXPECT_EQ(ParseSubscriberAction("Quarantine"), SubscriberAction::kQuarantine);
  EXPECT_EQ(ParseSubscriberAction("drop"), std::nullopt);
}

TEST(SubscriberStore, ExactThenPlusThenDomainDefault) {
  TestDir dir;
  auto s = OpenRw(dir.path());
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->Lookup("user@example.test"), std::nullopt);
  ASSERT_TRUE(s->Put("@Example.Test", E(true, false)).ok());
  ASSERT_TRUE(s->Put("User@Example.Test", E(false, true, SubscriberAction::kReject)).ok());
  ASSERT_TRUE(s->Put("user+list@example.test", E(true, true, SubscriberAction::kQuarantine)).ok());

  std::optional<LookupResult> r = s->Lookup("<USER@example.TEST.>");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->matched_key, "user@example.test");
  EXPECT_EQ(r->entry, E(false, true, SubscriberAction::kReject));
  r = s->Lookup("user+list@example.test");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->matched_key, "user+list@example.test");
  EXPECT_EQ(r->entry.action, SubscriberAction::kQuarantine);
  EXPECT_EQ(Matched(*s, "User+Other@example.test"), "user@example.test");
  EXPECT_EQ(Matched(*s, "someone@example.test"), "@example.test");
  EXPECT_EQ(Matched(*s, "someone+x@example.test"), "@example.test");
  EXPECT_EQ(s->Lookup("someone@example.test")->entry, E(true, false));
  EXPECT_EQ(Matched(*s, "user@other.test"), "none");
  EXPECT_EQ(Matched(*s, "user@sub.example.test"), "none");  // no parent-domain fallback
  EXPECT_EQ(Matched(*s, "not an address"), "none");
  EXPECT_EQ(Matched(*s, ""), "none");
}

TEST(SubscriberStore, PlusSeparatorIsAnOption) {
  TestDir dir;
  {
    auto s = OpenRw(dir.path(), '-');
    ASSERT_TRUE(s->Put("user@x.test", E(true, true)).ok());
    EXPECT_EQ(Matched(*s, "user-tag@x.test"), "user@x.test");
    EXPECT_EQ(Matched(*s, "user+tag@x.test"), "none");
  }
  auto off = OpenRw(dir.path(), '\0');
  EXPECT_EQ(Matched(*off, "user-tag@x.test"), "none");
}

TEST(SubscriberStore, PutUpdatesRemoveGetCountForEach) {
  TestDir dir;
  auto s = OpenRw(dir.path());
  ASSERT_TRUE(s->Put("b@x.test", E(true, false)).ok());
  ASSERT_TRUE(s->Put("a@x.test", E(true, false)).ok());
  ASSERT_TRUE(s->Put("A@X.test", E(false, true)).ok());  // the same key
  EXPECT_EQ(*s->Count(), 2u);
  EXPECT_EQ(*s->Get("a@x.test"), E(false, true));
  EXPECT_EQ(s->Get("c@x.test").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(s->Remove("c@x.test").code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(s->Put("no-at", E(true, true)).ok());
  std::vector<std::string> keys;
  ASSERT_TRUE(s->ForEach([&](std::string_view k, const SubscriberEntry&) {
                 keys.emplace_back(k);
                 return true;
               }).ok());
  EXPECT_THAT(keys, ::testing::ElementsAre("a@x.test", "b@x.test"));
  ASSERT_TRUE(s->Remove("<A@x.test>").ok());
  EXPECT_EQ(*s->Count(), 1u);
  EXPECT_EQ(s->Lookup("a@x.test"), std::nullopt);
}

TEST(SubscriberStore, ReadOnlyOpenNeedsAStoreAndRefusesWrites) {
  TestDir dir;
  const std::string sub = dir.path() + "/missing";
  EXPECT_EQ(SubscriberStore::Open(sub, OpenMode::kReadOnly, kTestMap).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_FALSE(std::filesystem::exists(sub));
  OpenRw(sub)->Put("a@x.test", E(true, true)).IgnoreError();
  auto ro = SubscriberStore::Open(sub, OpenMode::kReadOnly, kTestMap);
  ASSERT_TRUE(ro.ok()) << ro.status();
  EXPECT_EQ(Matched(**ro, "a@x.test"), "a@x.test");
  EXPECT_EQ((*ro)->Put("b@x.test", E(true, true)).code(), absl::StatusCode::kFailedPrecondition);
}

TEST(SubscriberStore, ASecondOpeningSeesCommittedWritesOnItsNextLookup) {
  TestDir dir;
  auto writer = OpenRw(dir.path());
  auto reader = SubscriberStore::Open(dir.path(), OpenMode::kReadOnly, kTestMap);
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ(Matched(**reader, "a@x.test"), "none");
  ASSERT_TRUE(writer->Put("a@x.test", E(true, false)).ok());
  EXPECT_EQ(Matched(**reader, "a@x.test"), "a@x.test");
  std::istringstream csv("address,inbound,outbound\n@x.test,on,on\n");
  ASSERT_TRUE(writer->ImportCsv(csv, nullptr).ok());
  EXPECT_EQ(Matched(**reader, "b@x.test"), "@x.test");
  ASSERT_TRUE(writer->Remove("a@x.test").ok());
  EXPECT_EQ(Matched(**reader, "a@x.test"), "@x.test");
}

TEST(SubscriberStore, ConcurrentLookupsWhileAnotherThreadWrites) {
  TestDir dir;
  auto s = OpenRw(dir.path());
  ASSERT_TRUE(s->Put("@x.test", E(true, false)).ok());
  constexpr int kWrites = 300;
  std::atomic<int> written{0};
  std::atomic<bool> stale_seen{false};
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&, t] {
      int n = 0;
      while (written.load() < kWrites) {
        // Every address the writer put before this lookup began must be found exactly.
        const int done = written.load();
        if (done > 0) {
          const std::string a = "u" + std::to_string((n++ * 7 + t) % done) + "@x.test";
          if (Matched(*s, a) != a) stale_seen = true;
        }
        if (Matched(*s, "nobody@x.test") != "@x.test") stale_seen = true;
      }
    });
  }
  for (int i = 0; i < kWrites; ++i) {
    ASSERT_TRUE(s->Put("u" + std::to_string(i) + "@x.test", E(true, true)).ok());
    written = i + 1;
  }
  for (std::thread& t : readers) t.join();
  EXPECT_FALSE(stale_seen);
  EXPECT_EQ(*s->Count(), kWrites + 1u);
}

TEST(SubscriberStore, ClosingAfterOtherThreadsLookedUpAndThreadsExitingAfterClose) {
  TestDir dir;
  auto s = OpenRw(dir.path());
  ASSERT_TRUE(s->Put("a@x.test", E(true, true)).ok());
  std::thread early([&] { EXPECT_EQ(Matched(*s, "a@x.test"), "a@x.test"); });
  early.join();  // exits first: aborts its own transaction
  std::atomic<bool> closed{false};
  std::atomic<bool> looked{false};
  std::thread late([&] {
    EXPECT_EQ(Matched(*s, "a@x.test"), "a@x.test");
    looked = true;
    while (!closed) std::this_thread::yield();
  });
  while (!looked) std::this_thread::yield();
  s.reset();  // aborts the late thread's transaction
  closed = true;
  late.join();
  // A new store in the same thread and directory starts afresh.
  auto again = OpenRw(dir.path());
  EXPECT_EQ(Matched(*again, "a@x.test"), "a@x.test");
}

// A value this code cannot read (another version, a broken disk) is logged and treated as no
// entry by lookups, and is an error for the administrative readers.
TEST(SubscriberStore, AValueItCannotReadIsNotAMatchAndNotACrash) {
  TestDir dir;
  OpenRw(dir.path())->Put("@x.test", E(true, true)).IgnoreError();
  {
    // Written behind the store's back, while no store is open in this process.
    MDB_env* env = nullptr;
    ASSERT_EQ(mdb_env_create(&env), 0);
    ASSERT_EQ(mdb_env_open(env, dir.path().c_str(), 0, 0600), 0);
    MDB_txn* txn = nullptr;
    MDB_dbi dbi;
    ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
    ASSERT_EQ(mdb_dbi_open(txn, nullptr, 0, &dbi), 0);
    std::string k = "bad@x.test", v = "\x09\x01";
    MDB_val kv{k.size(), k.data()}, vv{v.size(), v.data()};
    ASSERT_EQ(mdb_put(txn, dbi, &kv, &vv, 0), 0);
    ASSERT_EQ(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
  }
  auto s = OpenRw(dir.path());
  EXPECT_EQ(s->Lookup("bad@x.test"), std::nullopt);
  EXPECT_EQ(Matched(*s, "good@x.test"), "@x.test");
  EXPECT_EQ(s->Get("bad@x.test").status().code(), absl::StatusCode::kDataLoss);
  std::ostringstream out;
  absl::Status r = s->ExportCsv(out);
  EXPECT_EQ(r.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(r.message()), HasSubstr("bad@x.test"));
}

TEST(ImportCsv, ImportsAndCounts) {
  TestDir dir;
  auto s = OpenRw(dir.path());
  ASSERT_TRUE(s->Put("keep@x.test", E(true, true)).ok());
  ASSERT_TRUE(s->Put("b@x.test", E(false, false)).ok());
  std::istringstream csv(
      "\xEF\xBB\xBF# provisioning run\r\n"
      "Address,Inbound,Outbound,Action\r\n"
      "\r\n"
      "a@x.test,on,off,reject\r\n"
      "  B@X.test , yes , TRUE ,\r\n"
      "\"\"\"q,uoted\"\"@x.test\",0,1,Quarantine\n"
      "@y.test,1,0,default\n");
  ImportStats st;
  absl::Status r = s->ImportCsv(csv, &st);
  ASSERT_TRUE(r.ok()) << r;
  EXPECT_EQ(st.rows, 4u);
  EXPECT_EQ(st.added, 3u);
  EXPECT_EQ(st.updated, 1u);
  EXPECT_EQ(st.entries, 5u);
  EXPECT_EQ(*s->Get("a@x.test"), E(true, false, SubscriberAction::kReject));
  EXPECT_EQ(*s->Get("b@x.test"), E(true, true));
  EXPECT_EQ(*s->Get("\"q,uoted\"@x.test"), E(false, true, SubscriberAction::kQuarantine));
  EXPECT_EQ(Matched(*s, "z@y.test"), "@y.test");

  std::istringstream replace("address,inbound,outbound\nonly@x.test,on,on\n");
  ASSERT_TRUE(s->ImportCsv(replace, &st, ImportMode::kReplace).ok());
  EXPECT_EQ(st.removed, 5u);
  EXPECT_EQ(st.entries, 1u);
  EXPECT_EQ(Matched(*s, "keep@x.test"), "none");
}

TEST(ImportCsv, ReplaceKeepsTheStoresOwnDomains) {
  TestDir dir;
  auto s = OpenRw(dir.path());
  // Consecutive entries to drop and to keep, so a delete that skipped its neighbour shows.
  for (const char* k : {"a@old.test", "b@old.test", "c@old.test", "d@local.test", "@local.test",
                        "e@old.test", "f@old.test"}) {
    ASSERT_TRUE(s->Put(k, E(true, false)).ok());
  }
  std::istringstream csv(
      "address,inbound,outbound,action\n"
      "a@old.test,off,on,reject\n"
      "new@isp.test,on,on,\n"
      "d@local.test,off,off,\n"  // the store's own: ignored
      "x@local.test,on,on,\n");  // also the store's own domain: ignored
  auto local = [](std::string_view key) {
    return key.size() >= 11 && key.substr(key.size() - 11) == "@local.test";
  };
  ImportStats st;
  absl::Status r = s->ImportCsv(csv, &st, ImportMode::kReplace, local);
  ASSERT_TRUE(r.ok()) << r;
  EXPECT_EQ(st.removed, 5u);
  EXPECT_EQ(st.added, 2u);
  EXPECT_EQ(st.entries, 4u);
  EXPECT_EQ(*s->Get("a@old.test"), E(false, true, SubscriberAction::kReject));
  EXPECT_TRUE(s->Get("new@isp.test").ok());
  EXPECT_EQ(*s->Get("d@local.test"), E(true, false));
  EXPECT_TRUE(s->Get("@local.test").ok());
  for (const char* gone : {"b@old.test", "c@old.test", "e@old.test", "f@old.test", "x@local.test"}) {
    EXPECT_FALSE(s->Get(gone).ok()) << gone;
  }
}

TEST(ImportCsv, ABadLineNamesItsNumberAndNothingIsCommitted) {
  TestDir dir;
  auto s = OpenRw(dir.path());
  ASSERT_TRUE(s->Put("old@x.test", E(true, true)).ok());
  struct Case {
    const char* csv;
    const char* error;
  };
  for (const Case& c : std::vector<Case>{
           {"address,inbound,outbound\na@x.test,on,on\nb@x.test,on,maybe\n", "line 3: "},
           {"address,inbound,outbound\na@x.test,on,on\n\n# c\nbad,on,on\n", "line 5: bad address"},
           {"address,inbound,outbound,action\na@x.test,on,on,drop\n", "line 2: action \"drop\""},
           {"address,inbound,outbound\na@x.test,on\n", "line 2: 2 fields"},
           {"address,inbound,outbound\n\"a@x.test,on,on\n", "line 2: unterminated"},
           {"address,inbound,outbound\n\"a\"@x.test,on,on\n", "line 2: text after a quoted"},
           {"address,inbound,outbound\nA@x.test,on,on\nc@x.test,on,on\na@X.test,on,off\n",
            "line 4: a@x.test is already on line 2"},
           {"a@x.test,on,on\n", "line 1: expected the header"},
           {"address,outbound,inbound\n", "line 1: expected the header"},
           {"", "no header line"},
       }) {
    std::istringstream in(c.csv);
    absl::Status r = s->ImportCsv(in, nullptr, ImportMode::kReplace);
    EXPECT_THAT(std::string(r.message()), HasSubstr(c.error)) << c.csv;
    EXPECT_EQ(*s->Count(), 1u) << c.csv;
    EXPECT_EQ(Matched(*s, "a@x.test"), "none");
    EXPECT_EQ(Matched(*s, "old@x.test"), "old@x.test");
  }
}

TEST(ImportCsv, AFullMapFailsNamingMdbMapFullAndCommitsNothing) {
  TestDir dir;
  auto small = SubscriberStore::Open(dir.path(), OpenMode::kReadWrite, 256 << 10);
  ASSERT_TRUE(small.ok()) << small.status();
  std::ostringstream csv;
  csv << "address,inbound,outbound\n";
  for (int i = 0; i < 20000; ++i) csv << "user" << i << "@example.test,on,off\n";
  std::istringstream in(csv.str());
  absl::Status r = (*small)->ImportCsv(in, nullptr);
  EXPECT_EQ(r.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(r.message()), HasSubstr("MDB_MAP_FULL"));
  EXPECT_THAT(std::string(r.message()), HasSubstr("subscriber_db_map_bytes"));
  EXPECT_EQ(*(*small)->Count(), 0u);
}

TEST(ExportCsv, ExportThenImportIsByteForByte) {
  TestDir a_dir, b_dir;
  auto a = OpenRw(a_dir.path());
  ASSERT_TRUE(a->Put("@example.test", E(true, false)).ok());
  ASSERT_TRUE(a->Put("zed@example.test", E(false, false, SubscriberAction::kRemove)).ok());
  ASSERT_TRUE(a->Put("ann+news@example.test", E(true, true, SubscriberAction::kQuarantine)).ok());
  ASSERT_TRUE(a->Put("\"o,\"\"dd\"@example.test", E(false, true, SubscriberAction::kReject)).ok());
  ASSERT_TRUE(a->Put("1@example.test", E(true, true)).ok());
  ASSERT_TRUE(a->Put("#hash@example.test", E(true, false)).ok());  // not a comment line
  std::ostringstream first;
  ASSERT_TRUE(a->ExportCsv(first).ok());
  EXPECT_EQ(first.str().substr(0, first.str().find('\n')), kCsvHeader);
  EXPECT_THAT(first.str(), HasSubstr("\n@example.test,on,off,default\n"));

  auto b = OpenRw(b_dir.path());
  std::istringstream in(first.str());
  ASSERT_TRUE(b->ImportCsv(in, nullptr).ok());
  std::ostringstream second;
  ASSERT_TRUE(b->ExportCsv(second).ok());
  EXPECT_EQ(first.str(), second.str());
  std::istringstream again(second.str());
  ASSERT_TRUE(a->ImportCsv(again, nullptr, ImportMode::kReplace).ok());
  std::ostringstream third;
  ASSERT_TRUE(a->ExportCsv(third).ok());
  EXPECT_EQ(first.str(), third.str());
}

}  // namespace
}  // namespace kensa::subscribers
