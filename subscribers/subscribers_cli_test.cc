// SPDX-License-Identifier: GPL-2.0-or-later
// Tests of the kensa-subscribers commands through RunSubscribersCli: what they print, their
// exit statuses, and what they leave in the store.
#include "subscribers/subscribers_cli.h"

#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "core/test_dir.h"

namespace kensa::subscribers {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr uint64_t kTestMap = 64ull << 20;

class CliTest : public ::testing::Test {
 protected:
  // Runs one command; its output in out_, its messages in err_.
  int Run(std::vector<std::string> args) {
    out_.str("");
    err_.str("");
    return RunSubscribersCli(args, db_, out_, err_, kTestMap);
  }
  std::string File(const std::string& name, const std::string& text) {
    const std::string path = dir_.path() + "/" + name;
    std::ofstream(path) << text;
    return path;
  }
  static std::string Read(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  TestDir dir_;
  const std::string db_ = dir_.path() + "/db";
  std::ostringstream out_, err_;
};

TEST_F(CliTest, AddCreatesWithDefaultsAndUpdatesOnlyWhatIsGiven) {
  EXPECT_EQ(Run({"add", "<Ann@Example.TEST>"}), 0) << err_.str();
  EXPECT_EQ(out_.str(), "added ann@example.test: inbound=on outbound=on action=default\n");
  EXPECT_EQ(Run({"add", "ann@example.test", "--outbound", "off"}), 0);
  EXPECT_EQ(out_.str(), "updated ann@example.test: inbound=on outbound=off action=default\n");
  EXPECT_EQ(Run({"add", "ann@example.test", "--action=quarantine", "--inbound", "no"}), 0);
  EXPECT_EQ(out_.str(), "updated ann@example.test: inbound=off outbound=off action=quarantine\n");
  EXPECT_EQ(Run({"add", "bob@example.test", "--inbound", "off"}), 0);
  EXPECT_EQ(out_.str(), "added bob@example.test: inbound=off outbound=on action=default\n");
  EXPECT_EQ(Run({"list"}), 0);
  EXPECT_EQ(out_.str(), "ann@example.test,off,off,quarantine\nbob@example.test,off,on,default\n");
}

TEST_F(CliTest, ShowSaysWhatTheMailPathDecides) {
  EXPECT_EQ(Run({"show", "a@x.test"}), 1);  // no store yet: an error, not an empty answer
  EXPECT_THAT(err_.str(), HasSubstr("no subscriber store"));
  ASSERT_EQ(Run({"add", "@x.test", "--outbound", "off"}), 0);
  ASSERT_EQ(Run({"add", "ann@x.test", "--action", "reject"}), 0);
  EXPECT_EQ(Run({"show", "Ann@x.test"}), 0);
  EXPECT_EQ(out_.str(),
            "ann@x.test: ann@x.test (the address) inbound=on outbound=on action=reject\n");
  EXPECT_EQ(Run({"show", "ann+lists@x.test"}), 0);
  EXPECT_EQ(out_.str(),
            "ann+lists@x.test: ann@x.test (the address without its tag) inbound=on outbound=on "
            "action=reject\n");
  EXPECT_EQ(Run({"show", "zed@x.test"}), 0);
  EXPECT_EQ(out_.str(),
            "zed@x.test: @x.test (the domain default) inbound=on outbound=off action=default\n");
  EXPECT_EQ(Run({"show", "zed+a@y.test"}), 0);
  EXPECT_EQ(out_.str(),
            "zed+a@y.test: not subscribed (no entry for it, for zed@y.test or for @y.test)\n");
}

TEST_F(CliTest, RemoveAndItsErrors) {
  ASSERT_EQ(Run({"add", "a@x.test"}), 0);
  EXPECT_EQ(Run({"remove", "A@X.test"}), 0);
  EXPECT_EQ(out_.str(), "removed a@x.test\n");
  EXPECT_EQ(Run({"remove", "a@x.test"}), 1);
  EXPECT_THAT(err_.str(), HasSubstr("a@x.test is not in the subscriber store"));
  EXPECT_EQ(Run({"remove", "not-an-address"}), 1);
  EXPECT_THAT(err_.str(), HasSubstr("bad address \"not-an-address\": no '@'"));
}

TEST_F(CliTest, UsageErrorsExitTwoWithTheUsage) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {},
           {"frobnicate"},
           {"add"},
           {"add", "a@x.test", "--inbound"},
           {"add", "a@x.test", "--inbound", "maybe"},
           {"add", "a@x.test", "--action", "drop"},
           {"add", "a@x.test", "--colour", "red"},
           {"remove"},
           {"show", "a@x.test", "b@x.test"},
           {"list", "x"},
           {"import"},
           {"import", "a.csv", "--merge"},
           {"export", "a", "b"},
       }) {
    EXPECT_EQ(Run(args), 2) << ::testing::PrintToString(args);
    EXPECT_THAT(err_.str(), HasSubstr("usage: kensa-subscribers COMMAND ...\n  add ADDRESS")) << err_.str();
  }
  EXPECT_EQ(Run({"help"}), 0);
  EXPECT_THAT(out_.str(), StartsWith("usage: "));
}

TEST_F(CliTest, ImportExportRoundTripAndAFailedImportChangesNothing) {
  const std::string csv =
      "address,inbound,outbound,action\n"
      "@x.test,on,off,default\n"
      "ann@x.test,on,on,quarantine\n"
      "bob+news@x.test,off,on,remove\n";
  ASSERT_EQ(Run({"import", File("in.csv", csv)}), 0) << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("imported 3 rows from "));
  EXPECT_THAT(out_.str(), HasSubstr("3 new, 0 updated; 3 entries in the store"));
  EXPECT_EQ(Run({"export"}), 0);
  EXPECT_EQ(out_.str(), csv);
  const std::string file = dir_.path() + "/out.csv";
  EXPECT_EQ(Run({"export", file}), 0);
  EXPECT_EQ(out_.str(), "exported 3 entries to " + file + "\n");
  EXPECT_EQ(Read(file), csv);

  const std::string bad = File("bad.csv", "address,inbound,outbound\nnew@x.test,on,on\nx,on,on\n");
  EXPECT_EQ(Run({"import", bad, "--replace"}), 1);
  EXPECT_THAT(err_.str(), HasSubstr("bad.csv: line 3: bad address \"x\""));
  EXPECT_THAT(err_.str(), HasSubstr("nothing was imported"));
  EXPECT_EQ(Run({"export"}), 0);
  EXPECT_EQ(out_.str(), csv);

  EXPECT_EQ(Run({"import", File("r.csv", "address,inbound,outbound\nnew@x.test,on,on\n"),
                 "--replace"}),
            0);
  EXPECT_THAT(out_.str(), HasSubstr("1 new, 3 entries before replaced; 1 entries in the store"));
  EXPECT_EQ(Run({"import", dir_.path() + "/missing.csv"}), 1);
  EXPECT_THAT(err_.str(), HasSubstr("cannot read"));
  EXPECT_EQ(Run({"export", dir_.path() + "/no/such/dir/out.csv"}), 1);
}

TEST_F(CliTest, OnAStoreTheCallerHasOpen) {
  absl::StatusOr<std::unique_ptr<SubscriberStore>> store =
      SubscriberStore::Open(db_, OpenMode::kReadWrite, kTestMap);
  ASSERT_TRUE(store.ok()) << store.status();
  std::ostringstream out, err;
  EXPECT_EQ(RunSubscribersCli({"add", "a@x.test", "--outbound", "off"}, **store, out, err), 0);
  EXPECT_EQ(out.str(), "added a@x.test: inbound=on outbound=off action=default\n");
  std::optional<LookupResult> r = (*store)->Lookup("a+b@x.test");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->entry, (SubscriberEntry{true, false, SubscriberAction::kDefault}));
  EXPECT_EQ(RunSubscribersCli({"bogus"}, **store, out, err), 2);
}

}  // namespace
}  // namespace kensa::subscribers
