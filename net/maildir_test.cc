// SPDX-License-Identifier: GPL-2.0-or-later
#include "net/maildir.h"

#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace kensa::net {
namespace {

std::vector<std::string> List(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") out.push_back(n);
  }
  closedir(d);
  return out;
}

std::string Slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

bool IsDir(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

void RemoveTree(const std::string& p) {
  struct stat st;
  if (lstat(p.c_str(), &st) != 0) return;
  if (S_ISDIR(st.st_mode)) {
    for (const std::string& n : List(p)) RemoveTree(p + "/" + n);
    rmdir(p.c_str());
  } else {
    unlink(p.c_str());
  }
}

class MaildirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* t = getenv("TMPDIR");
    std::string tmpl = std::string(t != nullptr && *t != '\0' ? t : "/tmp") + "/maildir_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    base_ = tmpl;
    root_ = base_ + "/root";  // created by DeliverToMaildir
  }
  void TearDown() override { RemoveTree(base_); }
  std::string base_, root_;
};

TEST(MaildirNameTest, LowercasesDomainOnly) {
  EXPECT_EQ(*MaildirNameFor("John.Doe@Example.ORG"), "John.Doe@example.org");
  EXPECT_EQ(*MaildirNameFor("postmaster"), "postmaster");
  // The last '@' separates the domain.
  EXPECT_EQ(*MaildirNameFor("\"a@B\"@X.Y"), "\"a@B\"@x.y");
}

TEST(MaildirNameTest, RefusesNamesThatLeaveRoot) {
  for (std::string bad : {std::string("a/b@x.y"), std::string("u@x/../../etc"),
                          std::string(".."), std::string("."), std::string("../x@y.z"),
                          std::string(".hidden@x.y"), std::string("a\nb@x.y"),
                          std::string("a\rb@x.y"), std::string("a\tb@x.y"),
                          std::string("a\x7f" "b@x.y"), std::string("a\0b@x.y", 7),
                          std::string("u@x\x01y"), std::string(""), std::string(400, 'a')}) {
    absl::StatusOr<std::string> n = MaildirNameFor(bad);
    EXPECT_FALSE(n.ok()) << "accepted " << *n;
    if (!n.ok()) {
      EXPECT_EQ(n.status().code(), absl::StatusCode::kInvalidArgument);
    }
  }
}

TEST_F(MaildirTest, DeliversPrefixAndContentExactly) {
  const std::string prefix = "Return-Path: <s@x.y>\r\nReceived: by kensa\r\n";
  const std::string content = "Subject: hi\r\n\r\nline one\r\n.dot\r\nno final newline";
  std::vector<MaildirResult> r =
      DeliverToMaildir(root_, {"User@Example.ORG"}, prefix, content);
  ASSERT_EQ(r.size(), 1u);
  ASSERT_TRUE(r[0].status.ok()) << r[0].status;
  const std::string dir = root_ + "/User@example.org";
  EXPECT_TRUE(IsDir(dir + "/tmp"));
  EXPECT_TRUE(IsDir(dir + "/new"));
  EXPECT_TRUE(IsDir(dir + "/cur"));
  EXPECT_TRUE(List(dir + "/tmp").empty());
  EXPECT_TRUE(List(dir + "/cur").empty());
  std::vector<std::string> files = List(dir + "/new");
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(r[0].path, dir + "/new/" + files[0]);
  EXPECT_EQ(files[0].find('/'), std::string::npos);
  EXPECT_EQ(files[0].find(':'), std::string::npos);  // ':' starts the info part in cur/
  EXPECT_EQ(Slurp(r[0].path), prefix + content);
}

TEST_F(MaildirTest, BinaryContentAndEmptyPrefix) {
  const std::string content("a\0b\r\n\xff\n", 7);
  std::vector<MaildirResult> r = DeliverToMaildir(root_, {"bin@x.y"}, "", content);
  ASSERT_EQ(r.size(), 1u);
  ASSERT_TRUE(r[0].status.ok()) << r[0].status;
  EXPECT_EQ(Slurp(r[0].path), content);
}

TEST_F(MaildirTest, TwoMessagesGetDistinctNames) {
  std::vector<MaildirResult> a = DeliverToMaildir(root_, {"u@x.y"}, "", "one\r\n");
  std::vector<MaildirResult> b = DeliverToMaildir(root_, {"u@x.y"}, "", "two\r\n");
  ASSERT_TRUE(a[0].status.ok() && b[0].status.ok());
  EXPECT_NE(a[0].path, b[0].path);
  EXPECT_EQ(List(root_ + "/u@x.y/new").size(), 2u);
  EXPECT_TRUE(List(root_ + "/u@x.y/tmp").empty());
  EXPECT_EQ(Slurp(a[0].path), "one\r\n");
  EXPECT_EQ(Slurp(b[0].path), "two\r\n");
  // The same address twice in one call: two messages too.
  std::vector<MaildirResult> c = DeliverToMaildir(root_, {"v@x.y", "v@x.y"}, "", "x");
  ASSERT_EQ(c.size(), 2u);
  ASSERT_TRUE(c[0].status.ok() && c[1].status.ok());
  EXPECT_NE(c[0].path, c[1].path);
}

TEST_F(MaildirTest, BadAddressFailsAlone) {
  std::vector<MaildirResult> r =
      DeliverToMaildir(root_, {"a@x.y", "../evil@x.y", "b@X.Y", "c/d@x.y"}, "P:\r\n", "body\r\n");
  ASSERT_EQ(r.size(), 4u);
  EXPECT_TRUE(r[0].status.ok()) << r[0].status;
  EXPECT_EQ(r[1].status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(r[1].path.empty());
  EXPECT_TRUE(r[2].status.ok()) << r[2].status;
  EXPECT_EQ(r[3].status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Slurp(r[0].path), "P:\r\nbody\r\n");
  EXPECT_EQ(Slurp(r[2].path), "P:\r\nbody\r\n");
  std::set<std::string> dirs;
  for (const std::string& n : List(root_)) dirs.insert(n);
  EXPECT_EQ(dirs, (std::set<std::string>{"a@x.y", "b@x.y"}));
  EXPECT_EQ(List(base_).size(), 1u);  // nothing escaped root
}

TEST_F(MaildirTest, UnusableRootFailsEveryone) {
  std::ofstream(base_ + "/file") << "x";
  std::vector<MaildirResult> r = DeliverToMaildir(base_ + "/file/sub", {"a@x.y", "b@x.y"}, "", "m");
  ASSERT_EQ(r.size(), 2u);
  EXPECT_FALSE(r[0].status.ok());
  EXPECT_FALSE(r[1].status.ok());
}


TEST_F(MaildirTest, CreatesMissingParentsOfTheRoot) {
  const std::string deep = base_ + "/a/b/c";
  std::vector<MaildirResult> r = DeliverToMaildir(deep, {"u@x.y"}, "", "m\r\n");
  ASSERT_EQ(r.size(), 1u);
  ASSERT_TRUE(r[0].status.ok()) << r[0].status;
  for (const char* sub : {"/tmp", "/new", "/cur"}) EXPECT_TRUE(IsDir(deep + "/u@x.y" + sub));
  struct stat st;
  ASSERT_EQ(stat((deep + "/u@x.y/new").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_TRUE(List(deep + "/u@x.y/tmp").empty());
}

TEST_F(MaildirTest, RelativeRootKeptRelative) {
  char cwd[4096];
  ASSERT_NE(getcwd(cwd, sizeof cwd), nullptr);
  ASSERT_EQ(chdir(base_.c_str()), 0);
  std::vector<MaildirResult> r = DeliverToMaildir("./kensa-data/maildir", {"u@x.y"}, "P:", "m");
  ASSERT_EQ(chdir(cwd), 0);
  ASSERT_TRUE(r[0].status.ok()) << r[0].status;
  EXPECT_EQ(r[0].path.substr(0, 30), "./kensa-data/maildir/u@x.y/new");
  EXPECT_EQ(Slurp(base_ + "/" + r[0].path), "P:m");
}

TEST_F(MaildirTest, RootThatIsAFileIsNamedInTheError) {
  std::ofstream(base_ + "/plain") << "x";
  std::vector<MaildirResult> r = DeliverToMaildir(base_ + "/plain", {"a@x.y"}, "", "m");
  ASSERT_FALSE(r[0].status.ok());
  EXPECT_NE(r[0].status.message().find(base_ + "/plain"), std::string::npos) << r[0].status;
  EXPECT_NE(r[0].status.code(), absl::StatusCode::kInvalidArgument);  // retried, not bounced
}

// A message handed over in small pieces, optionally failing after `fail_after` pieces.
class PieceSource final : public MaildirSource {
 public:
  PieceSource(std::string message, size_t piece, int fail_after = -1)
      : message_(std::move(message)), piece_(piece), fail_after_(fail_after) {}
  void Rewind() override {
    at_ = 0;
    ++rewinds;
  }
  absl::StatusOr<std::string_view> Next() override {
    if (fail_after_ >= 0 && pieces_++ >= fail_after_) return absl::UnavailableError("read failed");
    std::string_view out = std::string_view(message_).substr(at_, piece_);
    at_ += out.size();
    return out;
  }
  int rewinds = 0;

 private:
  std::string message_;
  size_t piece_;
  int fail_after_;
  int pieces_ = 0;
  size_t at_ = 0;
};

TEST_F(MaildirTest, SourceInPiecesIsWrittenWholeForEachRecipient) {
  std::string message;
  for (int i = 0; i < 20000; ++i) message += static_cast<char>(i % 251);
  PieceSource source(message, 777);
  std::vector<MaildirResult> r = DeliverToMaildir(root_, {"a@x.y", "b@x.y"}, source);
  ASSERT_EQ(r.size(), 2u);
  for (const MaildirResult& one : r) {
    ASSERT_TRUE(one.status.ok()) << one.status;
    EXPECT_EQ(Slurp(one.path), message);
  }
  EXPECT_EQ(source.rewinds, 2);  // each file from the first byte
  EXPECT_NE(r[0].path, r[1].path);
}

TEST_F(MaildirTest, SourceErrorLeavesNoFileAndIsTheResult) {
  PieceSource source(std::string(10000, 'x'), 1000, 3);
  std::vector<MaildirResult> r = DeliverToMaildir(root_, {"a@x.y"}, source);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_TRUE(absl::IsUnavailable(r[0].status)) << r[0].status;
  EXPECT_TRUE(List(root_ + "/a@x.y/tmp").empty());
  EXPECT_TRUE(List(root_ + "/a@x.y/new").empty());
}

}  // namespace
}  // namespace kensa::net
