// SPDX-License-Identifier: GPL-2.0-or-later
#include "control/command_table.h"

#include "control/socket_path.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kensa::control {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(CommandTableTest, ParsesCommandWordsAndArguments) {
  absl::StatusOr<ParsedCommand> c = ParseCommand("  queue   hold\t0123456789ABCD ");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->spec->id, CommandId::kQueueHold);
  EXPECT_THAT(c->args, ElementsAre("0123456789ABCD"));
  EXPECT_TRUE(c->spec->changes);
  c = ParseCommand("show status");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->spec->id, CommandId::kShowStatus);
  EXPECT_FALSE(c->spec->changes);
  c = ParseCommand("log tail 50");
  ASSERT_TRUE(c.ok());
  EXPECT_THAT(c->args, ElementsAre("50"));
}

TEST(CommandTableTest, SaysWhatIsWrongWithABadLine) {
  absl::StatusOr<ParsedCommand> c = ParseCommand("queue hold");
  EXPECT_THAT(c.status().message(), HasSubstr("usage: queue hold ID"));
  c = ParseCommand("show status now");
  EXPECT_THAT(c.status().message(), HasSubstr("usage: show status"));
  c = ParseCommand("reboot now");
  EXPECT_THAT(c.status().message(), HasSubstr("unknown command \"reboot now\""));
  c = ParseCommand("queue");
  EXPECT_THAT(c.status().message(), HasSubstr("incomplete command \"queue\"; try help queue"));
  c = ParseCommand("   ");
  EXPECT_THAT(c.status().message(), HasSubstr("empty command"));
  c = ParseCommand("show\x1b[2Jstatus");
  EXPECT_THAT(c.status().message(), HasSubstr("control character"));
  c = ParseCommand(std::string(kMaxWordBytes + 1, 'a'));
  EXPECT_FALSE(c.ok());
  std::string many;
  for (size_t i = 0; i <= kMaxWords; ++i) many += "a ";
  EXPECT_THAT(ParseCommand(many).status().message(), HasSubstr("more than"));
}

TEST(CommandTableTest, EveryCommandParsesWithItsMinimumArguments) {
  for (const CommandSpec& spec : Commands()) {
    std::string line = CommandName(spec);
    for (size_t i = 0; i < spec.min_args; ++i) line += " x";
    absl::StatusOr<ParsedCommand> c = ParseCommand(line);
    ASSERT_TRUE(c.ok()) << line << ": " << c.status();
    EXPECT_EQ(c->spec, &spec) << line;
  }
}

TEST(CommandTableTest, CompletesCommandWords) {
  EXPECT_THAT(CompleteWord(""), ElementsAre("config", "log", "quarantine", "queue", "service",
                                            "show", "signatures", "subscriber"));
  EXPECT_THAT(CompleteWord("qu"), ElementsAre("quarantine", "queue"));
  EXPECT_THAT(CompleteWord("queue h"), ElementsAre("hold"));
  EXPECT_THAT(CompleteWord("show st"), ElementsAre("status"));
  EXPECT_THAT(CompleteWord("show s"), ElementsAre("signatures", "status"));
  EXPECT_TRUE(CompleteWord("queue hold ").empty());  // an argument: nothing to offer
  EXPECT_TRUE(CompleteWord("nothing ").empty());
}

TEST(CommandTableTest, HelpListsTheCommandsOfATopic) {
  const std::string all = HelpText("");
  for (const CommandSpec& spec : Commands()) EXPECT_THAT(all, HasSubstr(CommandName(spec)));
  const std::string queue = HelpText("queue");
  EXPECT_THAT(queue, HasSubstr("queue hold ID"));
  EXPECT_THAT(queue, ::testing::Not(HasSubstr("show status")));
  EXPECT_THAT(HelpText("queue hold"), HasSubstr("until released"));
  EXPECT_EQ(HelpText("frobnicate"), "");
}

TEST(SocketPathTest, ControlSocketOrStateDirOrDefault) {
  EXPECT_EQ(*ControlSocketFromToml("[control]\nsocket = \"/run/k.sock\"\n", "t"), "/run/k.sock");
  EXPECT_EQ(*ControlSocketFromToml("state_dir = \"/srv/k\"\n", "t"), "/srv/k/control.sock");
  EXPECT_EQ(*ControlSocketFromToml("", "t"), "/var/lib/kensa/control.sock");
  EXPECT_FALSE(ControlSocketFromToml("state_dir = 3\n", "t").ok());
  EXPECT_FALSE(ControlSocketFromToml("[[[", "t").ok());
}

}  // namespace
}  // namespace kensa::control
