// SPDX-License-Identifier: GPL-2.0-or-later
#include "core/off_path_release.h"

#include <future>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace kensa::core {
namespace {

TEST(OffPathReleaseTest, RunsOnAnotherThreadInOrder) {
  std::vector<int> order;
  std::promise<std::thread::id> ran_on;
  std::promise<void> all_done;
  // The first release blocks a while: the caller must not wait for it.
  std::promise<void> let_go;
  std::shared_future<void> gate = let_go.get_future().share();
  ReleaseOffThePath([&, gate] {
    gate.wait();
    ran_on.set_value(std::this_thread::get_id());
    order.push_back(1);
  });
  ReleaseOffThePath([&] { order.push_back(2); });
  ReleaseOffThePath([&] {
    order.push_back(3);
    all_done.set_value();
  });
  let_go.set_value();  // reached only because ReleaseOffThePath did not run it here
  EXPECT_NE(ran_on.get_future().get(), std::this_thread::get_id());
  all_done.get_future().wait();
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

}  // namespace
}  // namespace kensa::core
