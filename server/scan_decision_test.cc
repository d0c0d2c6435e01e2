// SPDX-License-Identifier: GPL-2.0-or-later
#include "server/scan_decision.h"

#include "gtest/gtest.h"

namespace kensa {
namespace {

scan::MessageVerdict Verdict(scan::ScanResult::Kind kind, std::string name) {
  scan::MessageVerdict v;
  scan::MimePart part;
  part.id = 2;
  part.role = scan::PartRole::kMultipartChild;
  part.header_begin = 100;
  part.header_end = 140;
  part.body_begin = 142;
  part.body_end = 200;
  part.media_type = "application/octet-stream";
  part.filename = "x.exe";
  v.findings.push_back({part, {kind, std::move(name)}});
  v.kind = kind == scan::ScanResult::Kind::kInfected ? scan::MessageVerdict::Kind::kInfected
                                                     : scan::MessageVerdict::Kind::kUnscannable;
  return v;
}

RecipientScan Scanned(ScanAction a = ScanAction::kRemove,
                      UnscannableAction u = UnscannableAction::kInfected) {
  RecipientScan r;
  r.scanned = true;
  r.subscription.inbound = true;
  r.subscription.action = a;
  r.subscription.unscannable = u;
  return r;
}

scan::NoticeContext Ctx() { return {"Q1", "kensa.test", "sha256-0123"}; }

TEST(ScanDecisionTest, CleanMessageGivesScannedRecipientsATracedCopyAndOthersTheOriginal) {
  scan::MessageVerdict v;
  ScanDecision d = DecideScan(v, {Scanned(), RecipientScan{}}, Ctx());
  EXPECT_FALSE(d.refuse);
  EXPECT_EQ(d.result, "clean");
  ASSERT_EQ(d.outcome.variants.size(), 2u);
  EXPECT_TRUE(d.outcome.variants[0].headers.empty());
  EXPECT_TRUE(d.outcome.variants[0].edits.empty());
  EXPECT_NE(d.outcome.variants[1].headers.find("X-Virus-Status"), std::string::npos);
  EXPECT_TRUE(d.outcome.variants[1].edits.empty());
  EXPECT_EQ(d.outcome.recipient_variant, (std::vector<uint32_t>{1, 0}));
}

TEST(ScanDecisionTest, InfectedMessageIsCleanedOnlyForSubscribers) {
  ScanDecision d = DecideScan(Verdict(scan::ScanResult::Kind::kInfected, "Eicar-Test"),
                              {RecipientScan{}, Scanned(), Scanned()}, Ctx());
  EXPECT_FALSE(d.refuse);
  EXPECT_EQ(d.result, "infected");
  ASSERT_EQ(d.outcome.variants.size(), 2u);
  EXPECT_FALSE(d.outcome.variants[1].edits.empty());
  EXPECT_EQ(d.outcome.recipient_variant, (std::vector<uint32_t>{0, 1, 1}));
}

TEST(ScanDecisionTest, RejectPolicyRefusesWith554NamingTheVirus) {
  ScanDecision d = DecideScan(Verdict(scan::ScanResult::Kind::kInfected, "Eicar-Test"),
                              {Scanned(ScanAction::kReject)}, Ctx());
  ASSERT_TRUE(d.refuse);
  EXPECT_EQ(d.reply.code, 554);
  EXPECT_EQ(d.reply.enhanced, "5.7.1");
  EXPECT_NE(d.reply.text.find("Eicar-Test"), std::string::npos);
}

TEST(ScanDecisionTest, UnscannablePolicyPassOrInfected) {
  scan::MessageVerdict v = Verdict(scan::ScanResult::Kind::kUnscannable, "Heuristics.Encrypted.Zip");
  ScanDecision pass =
      DecideScan(v, {Scanned(ScanAction::kReject, UnscannableAction::kPass)}, Ctx());
  EXPECT_FALSE(pass.refuse);
  EXPECT_EQ(pass.result, "clean");
  EXPECT_TRUE(pass.outcome.variants[1].edits.empty());
  ScanDecision infected = DecideScan(v, {Scanned()}, Ctx());
  EXPECT_EQ(infected.result, "unscannable");
  EXPECT_FALSE(infected.outcome.variants[1].edits.empty());
  // Two subscribers with different unscannable policies get two different copies.
  ScanDecision both = DecideScan(
      v, {Scanned(), Scanned(ScanAction::kRemove, UnscannableAction::kPass)}, Ctx());
  ASSERT_EQ(both.outcome.variants.size(), 3u);
  EXPECT_EQ(both.outcome.recipient_variant, (std::vector<uint32_t>{1, 2}));
}

TEST(ScanDecisionTest, LocalFailureIsATemporaryRefusalWithNoCopies) {
  scan::MessageVerdict v;
  v.kind = scan::MessageVerdict::Kind::kLocalFailure;
  v.local_failure = "temporary file in /x: No space left on device";
  ScanDecision d = DecideScan(v, {Scanned(ScanAction::kRemove, UnscannableAction::kPass)}, Ctx());
  EXPECT_TRUE(d.refuse);
  EXPECT_EQ(d.reply.code, 451);
  EXPECT_EQ(d.reply.enhanced, "4.3.0");
  EXPECT_EQ(d.reply.text.find("/x"), std::string::npos);
  EXPECT_EQ(d.result, "local_failure");
  EXPECT_TRUE(d.outcome.variants.empty());
}

TEST(ScanDecisionTest, RejectReplyNamesNoLocalPath) {
  ScanDecision d = DecideScan(
      Verdict(scan::ScanResult::Kind::kUnscannable, "scan error: temporary file in /x/tmp: EIO"),
      {Scanned(ScanAction::kReject)}, Ctx());
  ASSERT_TRUE(d.refuse);
  EXPECT_EQ(d.reply.code, 554);
  EXPECT_EQ(d.reply.text.find("/x/tmp"), std::string::npos) << d.reply.text;
  EXPECT_NE(d.reply.text.find("x.exe"), std::string::npos) << d.reply.text;
}

TEST(ScanDecisionTest, QuarantinePolicyKeepsTheOriginal) {
  ScanDecision d = DecideScan(Verdict(scan::ScanResult::Kind::kInfected, "X"),
                              {Scanned(ScanAction::kQuarantine)}, Ctx());
  EXPECT_TRUE(d.quarantine);
  EXPECT_FALSE(d.refuse);
}

}  // namespace
}  // namespace kensa
