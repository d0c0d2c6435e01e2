// SPDX-License-Identifier: GPL-2.0-or-later
// The start-time checks against the machine: descriptors for max_connections, the spool
// filesystem's size for min_free_bytes.
#include "appliance/resource_checks.h"

#include <sys/statvfs.h>
#include <unistd.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace kensa {
namespace {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/kensa-rcheckXXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

KensaConfig OneListener() {
  KensaConfig c;
  c.listeners.resize(1);
  return c;
}

TEST(DescriptorBudgetTest, ReservesTheProcessReactorsAndDeliveries) {
  KensaConfig c = OneListener();
  c.max_connections_per_next_hop = 20;
  // 64 for the process, (16 + 1 listener) per reactor, 2 per delivery connection to one hop.
  DescriptorBudget b = PlanDescriptors(c, 2, 1024);
  EXPECT_EQ(b.reserved, 64u + 2 * 17 + 20 * 2);
  EXPECT_EQ(b.max_connections, 1024u - b.reserved);
  EXPECT_EQ(b.limit, 1024u);
}

TEST(DescriptorBudgetTest, CountsDistinctNextHopsAndAtLeastOneConnectionPerReactor) {
  KensaConfig c = OneListener();
  c.max_connections_per_next_hop = 1;
  c.next_hop = "maildir:/a";
  c.relay_next_hop = "smtp://127.0.0.1:25";
  c.outbound_next_hop = "smtp://127.0.0.1:25";  // same as the relay: counted once
  DescriptorBudget b = PlanDescriptors(c, 4, 100000);
  EXPECT_EQ(b.reserved, 64u + 4 * 17 + 2 * 4 * 2);
}

TEST(DescriptorBudgetTest, NoRoomLeavesNoConnections) {
  KensaConfig c = OneListener();
  EXPECT_EQ(PlanDescriptors(c, 8, 64).max_connections, 0u);
}

TEST(SpoolMinFreeTest, WarnsWhenMinFreeIsNotBelowTheFilesystemSize) {
  TempDir t;
  struct statvfs vfs {};
  ASSERT_EQ(statvfs(t.path().c_str(), &vfs), 0);
  const uint64_t size = uint64_t{vfs.f_blocks} * vfs.f_frsize;
  KensaConfig c;
  c.spool_dir = t.path() + "/not/made/yet";  // --check-config runs before the directory exists
  c.spool_min_free_bytes = size + 1;
  std::optional<std::string> w = CheckSpoolMinFree(c);
  ASSERT_TRUE(w.has_value());
  EXPECT_NE(w->find("spool.min_free_bytes"), std::string::npos) << *w;
  EXPECT_NE(w->find(absl::StrCat(size + 1)), std::string::npos) << *w;
  EXPECT_NE(w->find(absl::StrCat(size)), std::string::npos) << *w;
  c.spool_min_free_bytes = 1 << 20;
  EXPECT_FALSE(CheckSpoolMinFree(c).has_value());
}

}  // namespace
}  // namespace kensa
