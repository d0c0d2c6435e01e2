// SPDX-License-Identifier: GPL-2.0-or-later
#include "core/in_flight_bytes.h"

#include <algorithm>
#include <utility>
#include <vector>

namespace kensa {

// A lost wake-up would leave a connection paused for ever, so the two sides follow the
// store-then-load pattern with sequentially consistent operations: the reactor publishes
// wake_below and then reads the count; a worker lowers the count and then reads wake_below.
// Whichever runs second sees the other's write, so at least one of them wakes the waiters
// (both may: a spare wake-up finds nothing due and does nothing).

InFlightBytes::InFlightBytes(Reactor* reactor) : state_(std::make_shared<State>()) {
  state_->reactor = reactor;
}

void InFlightBytes::Add(size_t n) { state_->value.fetch_add(n); }

void InFlightBytes::Sub(size_t n) {
  const size_t now = state_->value.fetch_sub(n) - n;
  if (now < state_->wake_below.load()) PostWake(state_);
}

void InFlightBytes::PostWake(const std::shared_ptr<State>& state) {
  if (state->wake_posted.exchange(true)) return;  // one is on its way
  state->reactor->Post([state] { WakeDue(state); });
}

void InFlightBytes::WakeWhenAtMost(uint64_t owner, size_t bound, Task wake) {
  State& s = *state_;
  s.waiters[owner] = Waiter{bound, std::move(wake)};
  Rearm(s);
  // Already there (a worker finished between the caller's look and now): wake from the
  // loop, not from inside the caller.
  if (s.value.load() <= bound) {
    std::shared_ptr<State> state = state_;
    s.reactor->Defer([state] { WakeDue(state); });
  }
}

void InFlightBytes::Forget(uint64_t owner) {
  state_->waiters.erase(owner);
  Rearm(*state_);
}

void InFlightBytes::Rearm(State& s) {
  size_t below = 0;
  for (const auto& [owner, w] : s.waiters) below = std::max(below, w.bound + 1);
  s.wake_below.store(below);
}

void InFlightBytes::WakeDue(const std::shared_ptr<State>& state) {
  State& s = *state;
  s.wake_posted.store(false);  // from here on a further drop posts again
  const size_t now = s.value.load();
  std::vector<Task> due;
  for (auto it = s.waiters.begin(); it != s.waiters.end();) {
    if (now <= it->second.bound) {
      due.push_back(std::move(it->second.wake));
      s.waiters.erase(it++);
    } else {
      ++it;
    }
  }
  Rearm(s);
  // The count may have fallen again since `now` was read, with wake_below not yet lowered
  // for the waiters still here: look once more so that drop is not missed.
  if (!s.waiters.empty() && s.value.load() < s.wake_below.load()) PostWake(state);
  for (Task& t : due) t();
}

}  // namespace kensa
